"""The library surface: crawl(), settings validation, spiders, typed errors."""

from __future__ import annotations

import sys

import pytest

import crawlkit
from crawlkit import (
    CrawlSettings,
    InvalidURL,
    Spider,
    SpiderLoadError,
    UnknownMode,
    UsageError,
    load_spider,
)
from crawlkit.engine import Engine
from crawlkit.fetchers import modes_where
from crawlkit.models import Outcome, Request
from crawlkit.process import Processor
from crawlkit.sinks import ListSink


def test_public_names_are_exported():
    for name in crawlkit.__all__:
        assert hasattr(crawlkit, name), name
    assert crawlkit.MODES == ("sync", "threaded", "threadpool", "multiprocess", "processes",
                              "async", "gevent")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "fibers"}, UnknownMode),
        ({"concurrency": 0}, UsageError),
        ({"max_pages": 0}, UsageError),
        ({"max_depth": -1}, UsageError),
        ({"timeout": 0}, UsageError),
        ({"allow": ["("]}, UsageError),
    ],
)
def test_bad_options_raise_typed_errors(kwargs, error):
    with pytest.raises(error):
        CrawlSettings(**kwargs)
    with pytest.raises(error):
        crawlkit.crawl("http://127.0.0.1:9/", **kwargs)


def test_bad_seed_raises_before_any_fetch():
    with pytest.raises(InvalidURL):
        crawlkit.crawl(["http://127.0.0.1:9/", "not-a-url"], mode="sync")


def test_no_seed_is_a_usage_error():
    with pytest.raises(UsageError, match="no URL"):
        crawlkit.crawl([])


def test_spider_with_start_urls_and_function_spider(demo_site):
    class Titles(Spider):
        start_urls = (demo_site.url + "/page/5",)

        def parse(self, page):
            yield {"title": page.title}

    result = crawlkit.crawl(Titles(), mode="sync")
    assert list(result) == [{"title": "Demo page 5 \u2014 crawlkit"}]

    from sample_spiders import title_only

    result = crawlkit.crawl(demo_site.url + "/page/6", mode="threadpool", spider=title_only)
    assert result[0] == {"url": demo_site.url + "/page/6", "title": "Demo page 6 \u2014 crawlkit"}


def test_spider_yielded_relative_urls_are_followed(demo_site):
    def chain(page):
        yield {"url": page.url}
        if page.url.endswith("/page/1"):
            yield "../page/2"

    result = crawlkit.crawl(demo_site.url + "/page/1", mode="sync", spider=chain)
    assert [r["url"] for r in result] == [demo_site.url + "/page/1", demo_site.url + "/page/2"]


def test_load_spider_errors():
    assert isinstance(load_spider("sample_spiders:HeadingSpider"), Spider)
    assert isinstance(load_spider("sample_spiders:title_only"), Spider)
    for ref in ("nocolon", "missing_module_xyz:Spider", "sample_spiders:Nope"):
        with pytest.raises(SpiderLoadError):
            load_spider(ref)
    with pytest.raises(ImportError):
        load_spider("sample_spiders:Nope")


def test_unpicklable_spider_is_refused_by_process_modes():
    local = lambda page: {"x": 1}  # noqa: E731 - a lambda cannot be pickled
    for mode in modes_where("spider_must_pickle"):
        with pytest.raises(UsageError, match="picklable"):
            crawlkit.crawl("http://127.0.0.1:9/", mode=mode, spider=local)


def test_gevent_refuses_a_spider_from_main(monkeypatch):
    import sample_spiders

    class MainSpider(Spider):
        def parse(self, page):
            return ()

    MainSpider.__module__ = "__main__"
    MainSpider.__qualname__ = "MainSpider"
    monkeypatch.setattr(sys.modules["__main__"], "MainSpider", MainSpider, raising=False)
    with pytest.raises(UsageError, match="__main__"):
        crawlkit.crawl("http://127.0.0.1:9/", mode="gevent", spider=MainSpider)
    assert sample_spiders.HeadingSpider.__module__ == "sample_spiders"


class _MemoryFetcher:
    """Fetches nothing: answers every request from a dict of HTML pages."""

    name = "memory"

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.fetched: list[str] = []

    def start(self, settings, processor: Processor) -> None:
        self.processor = processor
        self.pending: list[Request] = []

    def submit(self, request: Request) -> None:
        self.pending.append(request)

    def completed(self, timeout=None) -> list[Outcome]:
        from crawlkit.models import FetchResult

        done, self.pending = self.pending, []
        out = []
        for request in done:
            self.fetched.append(request.url)
            body = self.pages.get(request.url)
            if body is None:
                result = FetchResult(request, 404, {}, b"", None)
            elif body.startswith("->"):
                result = FetchResult(request, 301, {"location": body[2:]}, b"", None)
            else:
                result = FetchResult(request, 200, {"content-type": "text/html"},
                                     body.encode(), None)
            out.append(self.processor(result))
        return out

    def close(self) -> None:
        pass


def test_engine_redirects_are_records_and_targets_fetched_once():
    pages = {
        "http://h/": '<a href="/r">r</a><a href="/t">t</a>',
        "http://h/r": "->/t",
        "http://h/t": "<title>target</title>",
        "http://h/loop": "->/loop",
    }
    fetcher = _MemoryFetcher(pages)
    sink = ListSink()
    settings = CrawlSettings(mode="threaded", follow=True, obey_robots=False)
    stats = Engine(settings, crawlkit.DefaultSpider(), sink, fetcher).run(
        ["http://h/", "http://h/loop"]
    )
    assert sorted(fetcher.fetched) == ["http://h/", "http://h/loop", "http://h/r", "http://h/t"]
    records = {r["url"]: r for r in sink.items}
    assert records["http://h/r"]["status"] == 301
    assert records["http://h/r"]["final_url"] == "http://h/t"
    assert records["http://h/t"]["title"] == "target"
    assert records["http://h/loop"]["error"] == "redirect loop"
    assert stats.pages_ok == 3 and stats.pages_failed == 1


def test_engine_redirect_chain_limit():
    pages = {f"http://h/{i}": f"->/{i + 1}" for i in range(5)}
    pages["http://h/5"] = "<title>end</title>"
    sink = ListSink()
    settings = CrawlSettings(mode="threaded", max_redirects=2, obey_robots=False)
    Engine(settings, crawlkit.DefaultSpider(), sink, _MemoryFetcher(pages)).run(["http://h/0"])
    assert [(r["url"], r["error"]) for r in sink.items] == [
        ("http://h/0", None),
        ("http://h/1", None),
        ("http://h/2", "too many redirects"),
    ]


def test_seed_redirect_to_another_host_keeps_crawling_it():
    pages = {
        "http://a/": "->https://www.a/",
        "https://www.a/": '<a href="/next">n</a><a href="http://elsewhere/">x</a>',
        "https://www.a/next": "<title>next</title>",
    }
    fetcher = _MemoryFetcher(pages)
    settings = CrawlSettings(mode="threaded", follow=True, obey_robots=False)
    stats = Engine(settings, crawlkit.DefaultSpider(), ListSink(), fetcher).run(["http://a/"])
    assert fetcher.fetched == ["http://a/", "https://www.a/", "https://www.a/next"]
    assert stats.refused == {"offsite": 1}


def test_wait_for_port(demo_site):
    from crawlkit.lab.servers import wait_for_port
    from servers import closed_port

    wait_for_port(demo_site.port, timeout=1)  # returns at once: the demo site listens
    with pytest.raises(TimeoutError, match="nothing listens"):
        wait_for_port(closed_port(), timeout=0.3)


@pytest.mark.parametrize("mode", ["async", "auto"])
def test_crawl_called_where_an_event_loop_is_running(mode, demo_site):
    # a notebook runs its own loop in the main thread: the fetching then needs a loop
    # in a thread of its own, and the crawl must give the same pages as anywhere else
    import asyncio

    async def inside() -> crawlkit.CrawlResult:
        return crawlkit.crawl([demo_site.url + "/"], mode=mode, follow=True, max_pages=40)

    elsewhere = crawlkit.crawl([demo_site.url + "/"], mode=mode, follow=True, max_pages=40)
    result = asyncio.run(inside())
    assert result.stats.pages == elsewhere.stats.pages == 40
    errors = {r["error"] for r in result} | {r["error"] for r in elsewhere}
    assert errors <= {None, "http 404", "not html", "too many redirects"}, errors
