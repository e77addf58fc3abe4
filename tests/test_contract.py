"""One contract, every strategy: the same crawl must give the same records."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

import crawlkit
from conftest import SITE_SPEC
from crawlkit import MODES
from crawlkit.lab.demo import page_title, reachable_urls
from crawlkit.urls import canonicalize
from servers import closed_port

pytestmark = pytest.mark.slow


def _key(record: dict) -> tuple:
    # records keep URLs as sent: which spelling of a page was found first may differ
    # from one strategy to another, its canonical form does not
    return (canonicalize(record["url"]), record["title"], record["status"], record["error"],
            canonicalize(record["final_url"]))


@pytest.fixture(scope="module")
def sync_records(demo_site) -> set[tuple]:
    result = crawlkit.crawl(demo_site.url + "/", mode="sync", follow=True)
    return {_key(r) for r in result}


@pytest.mark.parametrize("mode", MODES)
def test_full_crawl_matches_site_graph(mode, demo_site, sync_records):
    result = crawlkit.crawl(demo_site.url + "/", mode=mode, follow=True, concurrency=8)
    urls = [r["url"] for r in result]
    canonical = {canonicalize(url) for url in urls}
    assert len(urls) == len(canonical), "a URL was fetched twice"
    assert canonical == reachable_urls(SITE_SPEC, demo_site.url)
    assert len(urls) > 500
    assert {_key(r) for r in result} == sync_records
    for record in result:
        path = record["url"][len(demo_site.url):]
        if path.startswith("/page/"):
            number = int(path.split("?")[0].rsplit("/", 1)[1])
            assert record["title"] == page_title(number)
            assert record["status"] == 200 and record["error"] is None
        elif path.startswith("/missing/"):
            assert record["error"] == "http 404" and record["status"] == 404
        elif path.startswith("/redirect/"):
            assert record["status"] == 302
            assert record["final_url"] == demo_site.url + "/page/" + path.rsplit("/", 1)[1]
        elif path == "/file.pdf":
            assert record["content_type"] == "application/pdf" and record["title"] is None
    assert not any("offsite.invalid" in u for u in urls)
    stats = result.stats
    assert stats.mode == mode
    assert stats.pages == len(urls) == stats.items
    assert stats.pages_failed == sum(1 for r in result if r["error"])
    assert stats.errors == {"http 404": stats.pages_failed}
    assert stats.refused["offsite"] > 0 and stats.refused["duplicate"] > 0


@pytest.mark.parametrize("mode", MODES)
def test_max_pages_and_depth(mode, demo_site):
    limited = crawlkit.crawl(demo_site.url + "/", mode=mode, follow=True, max_pages=25)
    assert len(limited) == 25
    assert limited.stats.left_queued > 0
    shallow = crawlkit.crawl(demo_site.url + "/", mode=mode, follow=True, max_depth=1)
    depths = {r["depth"] for r in shallow}
    assert depths == {0, 1}
    # index links to page 0..7: with depth 1 only those are reached
    assert {r["url"] for r in shallow} == {demo_site.url + "/"} | {
        f"{demo_site.url}/page/{k}" for k in range(8)
    }


@pytest.mark.parametrize("mode", MODES)
def test_allow_and_deny(mode, demo_site):
    result = crawlkit.crawl(
        demo_site.url + "/", mode=mode, follow=True,
        allow=[r"/page/\d+$"], deny=[r"/page/\d*[05]$"],
    )
    followed = [r["url"] for r in result if r["depth"] > 0]
    assert followed
    for url in followed:
        assert "/page/" in url and "?" not in url
        assert not url.endswith(("0", "5"))
    assert result.stats.refused["not allowed"] > 0
    assert result.stats.refused["denied"] > 0


@pytest.mark.parametrize("mode", MODES)
def test_failures_are_records(mode, fault_server):
    refused = f"http://127.0.0.1:{closed_port()}/"
    urls = [fault_server.url + "/ok", fault_server.url + "/hang", fault_server.url + "/nope",
            refused, fault_server.url + "/truncated", fault_server.url + "/latin1"]
    result = crawlkit.crawl(urls, mode=mode, timeout=1.0, retries=0, obey_robots=False)
    by_url = {r["url"]: r for r in result}
    assert len(by_url) == len(urls)
    assert by_url[fault_server.url + "/ok"]["title"] == "fine"
    assert by_url[fault_server.url + "/ok"]["error"] is None
    assert by_url[fault_server.url + "/hang"]["error"] == "timeout"
    assert by_url[fault_server.url + "/nope"]["error"] == "http 404"
    assert by_url[refused]["error"] == "connection refused"
    assert by_url[fault_server.url + "/truncated"]["error"] == "truncated body"
    assert by_url[fault_server.url + "/latin1"]["title"] == "caf\xe9"
    assert result.stats.pages_failed == 4
    assert result.stats.errors["timeout"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_stalled_and_dripping_bodies_end_at_the_deadline(mode, fault_server):
    urls = [fault_server.url + "/stall", fault_server.url + "/drip"]
    result = crawlkit.crawl(urls, mode=mode, timeout=1.0, retries=0)
    assert {r["error"] for r in result} == {"timeout"}


@pytest.mark.parametrize("mode", MODES)
def test_declared_body_over_max_bytes_is_refused(mode, fault_server):
    result = crawlkit.crawl(fault_server.url + "/huge", mode=mode, max_bytes=1024, timeout=2,
                            retries=0)
    assert [r["error"] for r in result] == ["too large"]


@pytest.mark.parametrize("mode", MODES)
def test_user_spider_runs_in_every_mode(mode, demo_site):
    from sample_spiders import HeadingSpider

    result = crawlkit.crawl(
        demo_site.url + "/page/0", mode=mode, spider=HeadingSpider, max_pages=10
    )
    items = list(result)
    assert len(items) == 10
    assert items[0]["h1"].startswith("Page ")
    assert all(item["sections"] >= 1 for item in items)
    # the spider follows the first link only: page/0 -> page/1 -> ... a chain
    assert {item["url"] for item in items} == {f"{demo_site.url}/page/{k}" for k in range(10)}


@pytest.mark.parametrize("mode", MODES)
def test_spider_errors_become_records(mode, demo_site):
    from sample_spiders import BrokenSpider

    urls = [f"{demo_site.url}/page/{k}" for k in range(1, 7)]
    result = crawlkit.crawl(urls, mode=mode, spider=BrokenSpider)
    by_url = {r["url"]: r for r in result}
    assert len(by_url) == 6
    source = (Path(__file__).parent / "sample_spiders.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if 'raise ValueError("boom")' in text)
    reason = f"spider error: ValueError: boom (sample_spiders.py:{line} in parse)"
    assert by_url[f"{demo_site.url}/page/3"]["error"] == reason
    assert "error" not in by_url[f"{demo_site.url}/page/4"]
    assert result.stats.errors == {reason: 1}


def test_a_gevent_child_that_cannot_start_is_an_error_at_start(demo_site):
    from crawlkit.errors import FetcherError
    from sample_spiders import UnloadableSpider

    with pytest.raises(FetcherError, match="gevent worker process did not start"):
        crawlkit.crawl(demo_site.url + "/page/1", mode="gevent", spider=UnloadableSpider())


@pytest.mark.slow
def test_a_multiprocess_worker_that_cannot_start_is_an_error_at_start(demo_site):
    # the pool's BrokenProcessPool is translated at the boundary, as every strategy's error
    from crawlkit.errors import FetcherError
    from sample_spiders import UnloadableSpider

    with pytest.raises(FetcherError, match="multiprocess worker process did not start"):
        crawlkit.crawl(demo_site.url + "/page/1", mode="multiprocess", spider=UnloadableSpider())


def test_gevent_does_not_patch_this_process(demo_site):
    crawlkit.crawl(demo_site.url + "/page/1", mode="gevent")
    assert "gevent" not in sys.modules
    assert socket.socket.__module__ == "socket"
    # and the other strategies still work afterwards, in the same process
    assert crawlkit.crawl(demo_site.url + "/page/1", mode="threaded")[0]["error"] is None
