"""Responses that break HTTP/1.1 in ways browsers forgive, and hosts written as
browsers read them: every strategy gives the same records."""

from __future__ import annotations

import pytest

import crawlkit
from crawlkit import MODES
from servers import BROKEN, PoliteServer

pytestmark = pytest.mark.slow

READABLE = {
    "/no-colon": "no colon",
    "/obs-fold": "obs fold",
    "/bare-lf": "bare lf",
    "/no-reason": "no reason",
    "/http10-eof": "http 1.0",
    "/dup-length": "dup length",
    "/non-ascii": "non ascii",
    "/bogus-charset": "bogus charset",
}


def _crawl(fault_server, mode: str) -> dict[str, dict]:
    urls = [fault_server.url + path for path in BROKEN]
    result = crawlkit.crawl(urls, mode=mode, timeout=2.0, retries=0)
    return {r["url"][len(fault_server.url):]: r for r in result}


@pytest.fixture(scope="module")
def sync_records(fault_server) -> dict[str, dict]:
    return _crawl(fault_server, "sync")


def test_requests_reads_them_as_browsers_do(sync_records):
    assert set(sync_records) == set(BROKEN)
    for path, title in READABLE.items():
        record = sync_records[path]
        assert (record["status"], record["error"], record["title"]) == (200, None, title), path
        assert record["content_type"] == "text/html"
    assert sync_records["/garbage"]["error"] == "connection error"
    assert sync_records["/garbage"]["status"] is None


@pytest.mark.parametrize("mode", [m for m in MODES if m != "sync"])
def test_every_mode_gives_the_same_records(mode, fault_server, sync_records):
    assert _crawl(fault_server, mode) == sync_records


@pytest.mark.parametrize("mode", MODES)
def test_numeric_hosts_are_read_as_browsers_read_them(mode):
    with PoliteServer(pages=1) as server:
        seeds = [f"http://127.1:{server.port}/p/0", f"http://2130706433:{server.port}/p/0",
                 f"http://0x7f.0.0.1:{server.port}/p/0"]
        records = [list(crawlkit.crawl([seed], mode=mode, retries=0)) for seed in seeds]
    expected = {"url": f"http://127.0.0.1:{server.port}/p/0", "status": 200, "error": None,
                "title": "/p/0"}
    for got in records:
        assert [{k: r[k] for k in expected} for r in got] == [expected]


class HeadersSpider(crawlkit.Spider):
    """Yields the headers a page came with, as the spider sees them."""

    def parse(self, page: crawlkit.Page):
        yield {"url": page.url, "headers": sorted(page.headers.items())}


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_hands_spiders_the_same_headers(mode, fault_server):
    urls = [fault_server.url + path for path in ("/non-ascii", "/obs-fold", "/dup-length")]
    result = crawlkit.crawl(urls, mode=mode, spider=HeadersSpider(), retries=0)
    got = {item["url"][len(fault_server.url):]: dict(item["headers"]) for item in result}
    assert (got["/non-ascii"]["x-latin"], got["/non-ascii"]["x-utf8"]) == ("caf\xe9", "caf\xc3\xa9")
    assert got["/obs-fold"]["x-folded"] == "one two"
    assert got["/dup-length"]["content-length"] == "66, 66"
