"""The response cache (``--cache``): a re-run answers from it with no network, in
every mode, with the records of the first run; the cache is a standard WARC file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

import crawlkit
from crawlkit import MODES, CacheError, Reason, canonicalize
from crawlkit.cache import INDEX_NAME, WARC_NAME, ResponseCache
from crawlkit.engine import Engine
from crawlkit.frontiers.memory import MemoryFrontier
from crawlkit.lab.servers import LoopbackServer
from crawlkit.lab.shop import MEMBER_PAGES, PASSWORD, USER, ShopSite
from crawlkit.models import RawResponse, Request
from crawlkit.sinks import ListSink
from test_cli import assert_usage_error, run_cli

SRC = Path(crawlkit.__file__).resolve().parent.parent


def _sorted(records) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


class ExactSpider(crawlkit.Spider):
    """Records everything a page hands a spider: status, headers, body digest."""

    def parse(self, page: crawlkit.Page):
        yield {"url": page.url, "final_url": page.final_url, "status": page.status,
               "title": page.title, "headers": sorted(page.headers.items()),
               "body": hashlib.sha256(page.body).hexdigest(), "links": list(page.links)}

    def redirected(self, page: crawlkit.Page):
        return self.parse(page)

    def failed(self, failure: crawlkit.Failure):
        yield {"url": failure.url, "status": failure.status, "error": failure.error}


class CountingSite(LoopbackServer):
    """One page whose title counts the requests it got."""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if request.path == "/robots.txt":
            return web.Response(status=404)
        return web.Response(text=f"<title>visit {self.requests}</title>",
                            content_type="text/html")


def _seeds(site) -> list[str]:
    """Pages, a redirect to a page not listed (its hop is fetched too), a 404, a PDF."""
    return [*(f"{site.url}/page/{i}" for i in range(0, 30, 3)), f"{site.url}/redirect/4",
            f"{site.url}/missing/1", f"{site.url}/file.pdf"]


class FlakySite(LoopbackServer):
    """``/flaky`` answers 503 once, then 200; ``/down`` always 503."""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if request.path == "/down" or (request.path == "/flaky" and self.requests <= 2):
            return web.Response(status=503, text="busy")
        if request.path == "/robots.txt":
            return web.Response(status=404)
        return web.Response(text="<title>fine</title>", content_type="text/html")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_rerun_answers_from_the_cache_with_the_same_records(mode, tmp_path, site_factory):
    site = site_factory(pages=30, links=4)
    cache = tmp_path / "cache"
    first = crawlkit.crawl(_seeds(site), mode=mode, cache=str(cache))
    fetched = site.requests
    site.stop()  # from here on the network would only refuse
    again = crawlkit.crawl(_seeds(site), mode=mode, cache=str(cache))
    assert _sorted(again) == _sorted(first)
    assert {r["status"] for r in first} == {200, 302, 404}
    assert {"application/pdf", None} < {r["content_type"] for r in first}
    assert len(first) == fetched - 1 == len(_seeds(site)) + 1  # robots.txt; the hop
    # every response was stored (robots.txt included), each once
    with ResponseCache(cache, "only") as stored:
        assert stored._db is not None
        assert stored._db.execute("SELECT count(*) FROM responses").fetchone()[0] == fetched


def _by_page(records) -> dict[str, tuple]:
    return {canonicalize(r["url"]): (r["status"], r["title"], r["error"], r["links"],
                                     canonicalize(r["final_url"])) for r in records}


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_followed_crawl_replays_every_page_from_the_cache(mode, tmp_path, site_factory):
    # which of two links to one page is met first (its depth, its spelling) follows
    # the order pages complete in, which a concurrent crawl does not fix: compare pages
    site = site_factory(pages=30, links=4)
    cache = str(tmp_path / "cache")
    first = crawlkit.crawl(site.url + "/", mode=mode, follow=True, cache=cache)
    site.stop()
    again = crawlkit.crawl(site.url + "/", mode=mode, follow=True, cache=cache)
    assert len(again) == len(first) > 40
    assert _by_page(again) == _by_page(first)
    assert again.stats.errors == first.stats.errors == {"http 404": 3}
    assert again.stats.from_cache == len(again) + 1 and first.stats.from_cache == 0


def test_a_rerun_gives_the_same_headers_bodies_and_failures(tmp_path, fault_server):
    paths = ["/ok", "/latin1", "/gzip-ok", "/image", "/empty", "/no-type", "/bad-charset",
             "/meta-charset", "/redirect-self", "/non-ascii", "/obs-fold", "/dup-length",
             "/no-reason", "/nothing-here", "/truncated", "/reset"]
    urls = [fault_server.url + path for path in paths]
    cache = str(tmp_path / "cache")
    first = crawlkit.crawl(urls, mode="async", spider=ExactSpider(), retries=0,
                           cache=cache)
    by_url = {r["url"]: r for r in first}
    assert by_url[fault_server.url + "/truncated"]["error"] == "truncated body"
    replayed = crawlkit.crawl(urls, mode="async", spider=ExactSpider(), retries=0,
                              cache=cache, cache_mode="only")
    failed_fetches = {fault_server.url + p for p in ("/truncated", "/reset")}
    assert _sorted(r for r in replayed if r["url"] not in failed_fetches) == \
        _sorted(r for r in first if r["url"] not in failed_fetches)
    # a failed fetch (no response) is not stored: only mode has no answer for it
    for url in failed_fetches:
        assert next(r for r in replayed if r["url"] == url)["error"] == "not in cache"


def test_an_answer_asking_for_another_attempt_is_not_stored_the_last_one_is(tmp_path):
    cache = str(tmp_path / "cache")
    with FlakySite() as site:
        urls = [site.url + "/flaky", site.url + "/down"]
        first = crawlkit.crawl(urls, mode="sync", retries=1, retry_backoff=0.0, cache=cache)
        assert first.stats.retries == 2
    assert {r["url"][len(site.url):]: r["error"] for r in first} == \
        {"/flaky": None, "/down": "http 503"}
    again = crawlkit.crawl(urls, mode="sync", retries=1, retry_backoff=0.0, cache=cache,
                           cache_mode="only")
    assert _sorted(again) == _sorted(first)
    # /flaky's 503 was not kept; /down's last 503 was, and is retried as it was
    assert again.stats.retries == 1
    assert again.stats.from_cache == 4  # robots.txt, /flaky, /down twice


class _ScheduleFrontier(MemoryFrontier):
    """Keeps how far ahead each retry was scheduled, and runs it at once."""

    def __init__(self, settings: crawlkit.CrawlSettings) -> None:
        super().__init__(settings)
        self.ahead: list[float] = []

    def retry_later(self, request: Request, not_before: float) -> None:
        now = time.perf_counter()
        self.ahead.append(not_before - now)
        super().retry_later(request, now)


def test_a_stored_answer_is_retried_without_the_backoff(tmp_path):
    cache = str(tmp_path / "cache")
    with FlakySite() as site:
        crawlkit.crawl(site.url + "/down", mode="sync", retries=1, retry_backoff=0.0,
                       cache=cache)
    settings = crawlkit.CrawlSettings(mode="sync", retries=1, retry_backoff=3600.0,
                                      cache=cache, cache_mode="only")
    frontier = _ScheduleFrontier(settings)
    sink = ListSink()
    stats = Engine(settings, crawlkit.DefaultSpider(), sink, frontier=frontier).run(
        [site.url + "/down"])
    assert [item["error"] for item in sink.items] == ["http 503"]
    assert stats.retries == 1 and len(frontier.ahead) == 1
    assert frontier.ahead[0] <= 0  # not the hour a fetched 503 would wait


class RobotsDownSite(LoopbackServer):
    """robots.txt always answers 503; every page is fine."""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/robots.txt":
            return web.Response(status=503, text="busy", headers={"Retry-After": "3600"})
        return web.Response(text="<title>fine</title>", content_type="text/html")


class _BackoffEngine(Engine):
    """Keeps the attempts it was asked a backoff for, and never waits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.backoffs: list[int] = []

    def _backoff(self, attempt: int) -> float:
        self.backoffs.append(attempt)
        return 0.0


def test_a_stored_robots_txt_is_retried_without_the_backoff(tmp_path):
    cache = str(tmp_path / "cache")
    with RobotsDownSite() as site:
        settings = crawlkit.CrawlSettings(mode="sync", retries=1, retry_after_cap=0.0,
                                          cache=cache)
        first = _BackoffEngine(settings, crawlkit.DefaultSpider(), ListSink())
        first.run([site.url + "/page"])
        assert first.backoffs == [0]  # fetched: robots.txt waits before its retry
    settings = crawlkit.CrawlSettings(mode="sync", retries=1, retry_after_cap=0.0,
                                      cache=cache, cache_mode="only")
    sink = ListSink()
    again = _BackoffEngine(settings, crawlkit.DefaultSpider(), sink)
    stats = again.run([site.url + "/page"])
    assert [item["error"] for item in sink.items] == ["blocked by robots.txt (it answered 503)"]
    assert stats.retries == 1 and stats.from_cache == 2
    assert again.backoffs == []  # replayed as it was, only without the waiting


def test_only_mode_makes_a_miss_a_final_not_in_cache_record(tmp_path, site_factory):
    site = site_factory(pages=5, links=2)
    cache = str(tmp_path / "cache")
    crawlkit.crawl(site.url + "/page/1", mode="sync", cache=cache)
    before = site.requests
    records = crawlkit.crawl([site.url + "/page/1", site.url + "/page/2"], mode="threaded",
                             cache=cache, cache_mode="only")
    assert site.requests == before  # nothing reached the network, robots.txt neither
    by_url = {r["url"]: r for r in records}
    assert by_url[site.url + "/page/1"]["error"] is None
    assert by_url[site.url + "/page/2"]["error"] == "not in cache" == Reason.NOT_IN_CACHE
    assert Reason.NOT_IN_CACHE.final
    assert records.stats.retries == 0
    assert records.stats.from_cache == 2  # robots.txt and /page/1
    assert "2 answered from the cache" in records.stats.summary()


def test_only_mode_without_a_cache_is_a_usage_error(tmp_path):
    with pytest.raises(CacheError, match="no cache there"):
        crawlkit.crawl("http://127.0.0.1:9/", cache=str(tmp_path / "none"), cache_mode="only")
    assert not (tmp_path / "none").exists()


def test_refresh_fetches_again_and_replaces_the_stored_answer(tmp_path):
    cache = str(tmp_path / "cache")
    with CountingSite() as site:
        url = site.url + "/"
        assert crawlkit.crawl(url, mode="async", cache=cache)[0]["title"] == "visit 2"
        assert crawlkit.crawl(url, mode="async", cache=cache)[0]["title"] == "visit 2"
        assert site.requests == 2  # robots.txt and the page, once
        refreshed = crawlkit.crawl(url, mode="async", cache=cache, cache_mode="refresh")
        assert refreshed[0]["title"] == "visit 4"
        assert site.requests == 4
    assert crawlkit.crawl(url, mode="async", cache=cache, cache_mode="only")[0]["title"] == \
        "visit 4"


def test_the_cache_is_a_warc_file_a_standard_reader_reads(tmp_path, site_factory):
    site = site_factory(pages=12, links=3)
    cache = tmp_path / "cache"
    records = crawlkit.crawl(site.url + "/", mode="async", follow=True, cache=str(cache))
    with open(cache / WARC_NAME, "rb") as fh:
        found = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                  r.http_headers.get_statuscode() if r.http_headers else None,
                  r.content_stream().read())
                 for r in ArchiveIterator(fh, check_digests="raise")]
    assert found[0][0] == "warcinfo"
    responses = {uri: (status, body) for kind, uri, status, body in found[1:]
                 if kind == "response"}
    assert len(responses) == len(found) - 1 == len(records) + 1  # + robots.txt
    assert responses[site.url + "/robots.txt"][0] == "200"
    page = next(r for r in records if r["url"] == site.url + "/page/1")
    status, body = responses[site.url + "/page/1"]
    assert status == "200" and page["title"] is not None and page["title"].encode() in body


def test_every_set_cookie_line_is_its_own_header_line(tmp_path):
    request = Request("http://example.invalid/login", data={"user": "a"})
    raw = RawResponse(200, (("content-type", "text/html"), ("set-cookie", "a=1, b=2")),
                      b"<p>hi", 0.25, 0.5, set_cookies=("a=1", "b=2"))
    with ResponseCache(tmp_path / "c") as cache:
        cache.store(request, raw)
        assert cache.lookup(Request("http://example.invalid/login", data={"user": "b"})) is None
        again = cache.lookup(request)
    assert again is not None
    assert again.headers == {"content-type": "text/html", "set-cookie": "a=1, b=2"}
    assert again.body == b"<p>hi" and again.status == 200
    assert again.first_byte - again.started == pytest.approx(0.25)
    assert again.finished - again.first_byte == pytest.approx(0.5)
    with open(tmp_path / "c" / WARC_NAME, "rb") as fh:
        record = [r for r in ArchiveIterator(fh) if r.rec_type == "response"][0]
        lines = [v for k, v in record.http_headers.headers if k.lower() == "set-cookie"]
        assert lines == ["a=1", "b=2"]
        assert record.rec_headers.get_header("WARC-Crawlkit-Key") == request.fingerprint


_KILLED = textwrap.dedent("""
    import os, sys
    from crawlkit import cache as module
    from crawlkit.cache import BATCH_RECORDS, ResponseCache
    from crawlkit.models import RawResponse, Request
    module.BATCH_SECONDS = 3600.0  # batches by count only, whatever the machine's speed
    cache = ResponseCache(sys.argv[1])
    for i in range(BATCH_RECORDS + 20):  # one batch committed, twenty not
        cache.store(Request(f"http://example.invalid/{i}"), RawResponse(200, (), b"x" * i))
    cache._writer.write(b"\\x1f\\x8b half a record")
    cache._writer.flush()
    os._exit(9)
""")


def test_a_killed_run_leaves_a_cache_whose_index_points_at_whole_records(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path / "c")], env=env,
                          timeout=60)
    assert proc.returncode == 9
    with ResponseCache(tmp_path / "c") as cache:
        assert cache.lookup(Request("http://example.invalid/99")) is not None
        assert cache.lookup(Request("http://example.invalid/100")) is None
        cache.store(Request("http://example.invalid/new"), RawResponse(200, (), b"new"))
    with ResponseCache(tmp_path / "c", "only") as cache:
        found = cache.lookup(Request("http://example.invalid/new"))
        assert found is not None and found.body == b"new"
    with open(tmp_path / "c" / WARC_NAME, "rb") as fh:
        assert sum(1 for _ in ArchiveIterator(fh)) == 1 + 100 + 1


class _FullDisk:
    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")


def test_a_cache_that_cannot_be_written_is_a_storage_error(tmp_path):
    with ResponseCache(tmp_path / "c") as cache:
        cache._writer, writer = _FullDisk(), cache._writer  # type: ignore[assignment]
        with pytest.raises(crawlkit.StorageError, match=r"cannot write --cache .*\[Errno 28\]"):
            cache.store(Request("http://example.invalid/"), RawResponse(200, (), b"x"))
        cache._writer = writer


def test_two_crawls_cannot_write_one_cache(tmp_path):
    with ResponseCache(tmp_path / "c"), pytest.raises(CacheError, match="another crawl"):
        ResponseCache(tmp_path / "c")


def _filled(tmp_path: Path, site_factory) -> tuple[Path, str]:
    site = site_factory(pages=5, links=2)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{site.url}/page/1\n{site.url}/page/2\n")
    cache = tmp_path / "cache"
    assert run_cli("crawl", str(seeds), "--cache", str(cache), "--quiet").returncode == 0
    return cache, str(seeds)


def test_the_cli_reruns_from_the_cache_and_says_so(tmp_path, site_factory):
    cache, seeds = _filled(tmp_path, site_factory)
    proc = run_cli("crawl", seeds, "--cache", str(cache), "--cache-mode", "only",
                   "--mode", "gevent")
    assert proc.returncode == 0, proc.stderr
    assert "3 answered from the cache" in proc.stderr  # robots.txt and two pages
    assert [json.loads(line)["error"] for line in proc.stdout.splitlines()] == [None, None]


def test_a_response_whose_headers_cannot_be_written_back_is_not_stored(tmp_path):
    raw = RawResponse(200, (("x-odd", "one\ntwo"),), b"body")
    with ResponseCache(tmp_path / "c") as cache:
        cache.store(Request("http://example.invalid/odd"), raw)
        assert cache.lookup(Request("http://example.invalid/odd")) is None
        assert cache.stored == 0


def test_a_truncated_cache_is_one_line_and_exit_2(tmp_path, site_factory):
    cache, seeds = _filled(tmp_path, site_factory)
    warc = cache / WARC_NAME
    warc.write_bytes(warc.read_bytes()[:-10])
    proc = run_cli("crawl", seeds, "--cache", str(cache))
    assert_usage_error(proc, "responses.warc.gz is truncated")


def test_a_corrupt_record_is_one_line_and_exit_2(tmp_path, site_factory):
    cache, seeds = _filled(tmp_path, site_factory)
    warc = cache / WARC_NAME
    data = bytearray(warc.read_bytes())
    with ResponseCache(cache, "only") as opened:
        assert opened._db is not None
        offset, length = opened._db.execute(
            "SELECT offset, length FROM responses ORDER BY offset LIMIT 1").fetchone()
    data[offset + 12: offset + length - 12] = b"\0" * (length - 24)  # the first response
    warc.write_bytes(bytes(data))
    proc = run_cli("crawl", seeds, "--cache", str(cache), "--cache-mode", "only")
    assert_usage_error(proc, f"responses.warc.gz is corrupt at offset {offset}")


@pytest.mark.parametrize("damage", ["garbage index", "index only", "a file"])
def test_what_is_not_a_cache_is_one_line_and_exit_2(damage, tmp_path, site_factory):
    cache, seeds = _filled(tmp_path, site_factory)
    if damage == "garbage index":
        for name in os.listdir(cache):
            if name.startswith(INDEX_NAME):
                os.remove(cache / name)
        (cache / INDEX_NAME).write_bytes(b"this is not SQLite at all" * 100)
        fragment = "index.sqlite is not a cache index"
    elif damage == "index only":
        os.remove(cache / WARC_NAME)
        fragment = "holds index.sqlite but not responses.warc.gz"
    else:
        cache = tmp_path / "plain-file"
        cache.write_text("hello")
        fragment = "is a file"
    assert_usage_error(run_cli("crawl", seeds, "--cache", str(cache)), fragment)


def test_a_bad_cache_mode_is_refused():
    assert_usage_error(run_cli("crawl", "-", "--cache-mode", "sometimes"), "cache-mode")
    with pytest.raises(crawlkit.UsageError, match="cache_mode must be one of"):
        crawlkit.CrawlSettings(cache_mode="sometimes")


@pytest.mark.parametrize("cache_mode", ["only", "refresh"])
def test_a_cache_mode_without_a_cache_is_refused(cache_mode, tmp_path):
    # "only" promises that nothing is fetched: without a cache it must not crawl the network
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    proc = run_cli("crawl", str(seeds), "--cache-mode", cache_mode, "--retries", "0")
    assert_usage_error(proc, f"--cache-mode {cache_mode} needs --cache PATH")
    with pytest.raises(crawlkit.UsageError, match=f"--cache-mode {cache_mode} needs --cache PATH"):
        crawlkit.crawl("http://127.0.0.1:9/", cache_mode=cache_mode, retries=0)


def test_an_empty_or_non_path_cache_is_refused(tmp_path):
    # an empty --cache (an unset shell variable) must not turn the working directory into a cache
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    proc = run_cli("crawl", str(seeds), "--cache", "", "--retries", "0", cwd=tmp_path)
    assert_usage_error(proc, "--cache")
    assert sorted(os.listdir(tmp_path)) == ["seeds.txt"]
    for bad in ("", 123):
        with pytest.raises(crawlkit.UsageError, match="cache"):
            crawlkit.crawl("http://127.0.0.1:9/", cache=bad, retries=0)


def test_compare_refuses_a_cache(tmp_path):
    # every mode after the first would be answered by the cache: the figures would
    # measure the cache, not the strategies
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    proc = run_cli("compare", str(seeds), "--modes", "sync", "--repeat", "1", "--retries", "0",
                   "--cache", str(tmp_path / "cache"))
    assert_usage_error(proc, "compare measures the strategies")
    assert not (tmp_path / "cache").exists()


class LoginSpider(crawlkit.Spider):
    """Logs in to the shop through its form (CSRF cookie + token), reads the members' pages."""

    def __init__(self, base: str) -> None:
        self.start_urls = [base + "/login"]

    def parse(self, page: crawlkit.Page):
        yield page.form(formid="login").fill({"user": USER, "password": PASSWORD},
                                              callback=self.members)

    def members(self, page: crawlkit.Page):
        yield {"at": page.url.rpartition("/")[0], "error": page.css("p.error::text").get()}
        yield from page.follow_all(css="ul.reports a", callback=self.report)

    def report(self, page: crawlkit.Page):
        yield {"report": page.css("h1.report::text").get()}


def test_a_login_replays_from_the_cache_with_its_cookies(tmp_path):
    cache = str(tmp_path / "cache")
    with ShopSite() as site:
        first = crawlkit.crawl(LoginSpider(site.url), mode="sync", cookies=True, cache=cache)
    again = crawlkit.crawl(LoginSpider(site.url), mode="sync", cookies=True, cache=cache,
                           cache_mode="only")
    assert len([r for r in first if "report" in r]) == MEMBER_PAGES
    assert _sorted(again) == _sorted(first)
    assert again.stats.pages_failed == 0


@contextlib.contextmanager
def _unwritable(directory: Path):
    """``directory`` made unwritable for this process (root included: ``chattr +i``)."""
    directory.chmod(0o555)
    immutable = False
    try:
        if os.access(directory, os.W_OK):  # root: permission bits do not stop it
            immutable = subprocess.run(["chattr", "+i", str(directory)],
                                       capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("cannot make a directory unwritable here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


def test_only_mode_reads_a_cache_in_a_directory_it_cannot_write(tmp_path):
    # a cache on read-only media, or another user's: "only" never writes, so it must
    # read it (it said "not a cache index ... delete the cache")
    cache = tmp_path / "cache"
    with CountingSite() as site:
        first = crawlkit.crawl(site.url + "/page", mode="sync", cache=str(cache))
        with _unwritable(cache):
            again = crawlkit.crawl(site.url + "/page", mode="sync", cache=str(cache),
                                   cache_mode="only")
            assert sorted(os.listdir(cache)) == [INDEX_NAME, WARC_NAME]
            with pytest.raises(CacheError, match="cannot open"):
                crawlkit.crawl(site.url + "/page", mode="sync", cache=str(cache))
    assert _sorted(again) == _sorted(first)
    assert again.stats.from_cache == 2
