"""The Spider API in the processing stage: callbacks and errbacks by name, what
callbacks may yield, the pages they get, item pipelines, tracebacks and sitemaps;
the same in every strategy (the spider runs in worker processes in multiprocess
and gevent)."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crawlkit import MODES, Failure, Page, Request, Spider
from crawlkit.errors import UsageError
from crawlkit.fetchers import get_fetcher
from crawlkit.lab.shop import (
    CATEGORIES,
    PER_PAGE,
    PRODUCTS,
    ShopSite,
    category_of,
    category_products,
    product,
)
from crawlkit.models import FetchResult, Outcome
from crawlkit.process import Processor, check_callbacks
from crawlkit.settings import CrawlSettings
from crawlkit.spiders import as_spider
from sample_spiders import (
    DuckShopSpider,
    PipelineSpider,
    ShopCallbackSpider,
    ShopSitemapSpider,
    TracebackSpider,
    _price_of,
)

HTML = {"content-type": "text/html; charset=utf-8"}
# the strategies that run the spider in other processes or threads are slow to start
EVERY_MODE = [m if m == "sync" else pytest.param(m, marks=pytest.mark.slow) for m in MODES]


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopSite]:
    with ShopSite() as site:
        yield site


def process(spider: Any, request: Request | str, body: bytes | str = b"<html></html>",
            headers: dict[str, str] | None = None, status: int = 200,
            error: str | None = None, **options: Any) -> Outcome:
    """One response through a fresh processor."""
    if isinstance(request, str):
        request = Request(request)
    if isinstance(body, str):
        body = body.encode()
    settings = CrawlSettings(retries=0, **options)
    result = FetchResult(request, status if error is None else None,
                         HTML if headers is None else headers, body, error)
    return Processor(as_spider(spider), settings)(result)


def drive(mode: str, spider: Any, seeds: list[Request], **options: Any) -> list[Outcome]:
    """Fetch ``seeds`` and every request their outcomes follow (once each, by
    fingerprint) with ``mode``'s strategy: the processing stage without the engine."""
    settings = CrawlSettings(mode=mode, retries=0, **options)
    fetcher = get_fetcher(mode)
    fetcher.start(settings, Processor(as_spider(spider), settings))
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    queue = list(seeds)
    in_flight = 0
    give_up = time.monotonic() + 120  # a hang fails the test instead of blocking the suite
    try:
        while queue or in_flight:
            while queue and in_flight < settings.effective_concurrency:
                request = queue.pop(0)
                if request.fingerprint not in seen:
                    seen.add(request.fingerprint)
                    fetcher.submit(request)
                    in_flight += 1
            if not in_flight:
                continue
            for outcome in fetcher.completed(timeout=1.0):
                in_flight -= 1
                outcomes.append(outcome)
                queue.extend(Request(f) if isinstance(f, str) else f for f in outcome.follow)
            assert time.monotonic() < give_up, f"{mode}: no end after {len(outcomes)} pages"
            assert len(outcomes) < 500, "the crawl does not end"
    finally:
        fetcher.close()
    return outcomes


def where(func: Any, needle: str) -> str:
    """`` (file.py:N in name)``: the line of ``func`` holding ``needle``, as reasons say it."""
    lines, first = inspect.getsourcelines(func)
    line = first + next(k for k, text in enumerate(lines) if needle in text)
    name = os.path.basename(inspect.getsourcefile(func) or "")
    return f" ({name}:{line} in {func.__name__})"


def items_of(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return sorted((item for o in outcomes for item in o.items), key=repr)


# -- 1. callbacks and errbacks by name ------------------------------------------------

class Routed(Spider):
    def parse(self, page: Page) -> Iterator[Any]:
        yield {"by": "parse"}

    def parse_other(self, page: Page) -> Iterator[Any]:
        yield {"by": "parse_other", "meta": page.meta}

    def failed(self, failure: Failure) -> Iterator[Any]:
        yield {"by": "failed", "error": failure.error}

    def on_error(self, failure: Failure) -> Iterator[Any]:
        yield {"by": "on_error", "error": failure.error, "meta": failure.meta,
               "method": failure.request.method if failure.request else None}


def test_the_response_goes_to_the_callback_the_request_names():
    assert process(Routed(), "http://h/").items == ({"by": "parse"},)
    outcome = process(Routed(), Request("http://h/", "parse_other", meta={"k": 1}))
    assert outcome.items == ({"by": "parse_other", "meta": {"k": 1}},)
    spider = Routed()
    outcome = process(spider, Request("http://h/", spider.parse_other))  # a bound method
    assert outcome.items[0]["by"] == "parse_other"


def test_a_failure_goes_to_the_errback_the_request_names():
    assert process(Routed(), "http://h/", status=404).items == (
        {"by": "failed", "error": "http 404"},)
    request = Request("http://h/", errback="on_error", data={"q": "x"}, meta={"k": 2})
    assert process(Routed(), request, error="timeout").items == (
        {"by": "on_error", "error": "timeout", "meta": {"k": 2}, "method": "POST"},)


def test_a_missing_callback_or_errback_is_a_failed_record():
    outcome = process(Routed(), Request("http://h/", "parse_nothing"))
    assert outcome.error == "spider error: no callback 'parse_nothing' on Routed"
    assert outcome.items == ({"by": "failed", "error": outcome.error},)
    outcome = process(Routed(), Request("http://h/", errback="gone"), status=500)
    assert outcome.error == "http 500; spider error: no errback 'gone' on Routed"
    assert outcome.items == ()
    outcome = process(Routed(), Request("http://h/", "__init__"))
    assert outcome.error == "spider error: no callback '__init__' on Routed"


def test_check_callbacks_names_what_is_missing():
    check_callbacks(Routed(), Request("http://h/", "parse_other", errback="on_error"))
    with pytest.raises(UsageError, match="no callback 'parse_x' on Routed"):
        check_callbacks(Routed(), Request("http://h/", "parse_x"))
    with pytest.raises(UsageError, match="no errback 'nope' on Routed"):
        check_callbacks(Routed(), Request("http://h/", errback="nope"))
    with pytest.raises(UsageError, match="on DuckShopSpider"):
        check_callbacks(as_spider(DuckShopSpider), Request("http://h/", "parse_x"))
    check_callbacks(as_spider(DuckShopSpider), Request("http://h/", "parse_product"))


# -- 2. what callbacks yield ------------------------------------------------------------

@dataclasses.dataclass
class Point:
    x: int
    tags: list[str]


class Yields(Spider):
    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def parse(self, page: Page) -> Iterator[Any]:
        yield from self.values


def test_callbacks_yield_items_urls_requests_dataclasses_and_none():
    import attr

    @attr.s(auto_attribs=True)
    class Row:
        a: int

    request = Request("https://h/a/b", "parse", meta={"m": 1})
    page = ('<html><head><base href="/base/"></head><body>'
            '<a href="/from-page">x</a></body></html>')
    outcome = process(Yields([{"a": 1}, "c?x=1", "/abs", "mailto:x@y", None, request,
                              Point(1, ["t"]), Row(2)]), "https://h/a/b", page)
    assert outcome.error is None
    assert outcome.items == ({"a": 1}, {"x": 1, "tags": ["t"]}, {"a": 2})
    # strings resolve against <base href>; a Request is passed on as it was yielded
    assert outcome.follow == ("https://h/base/c?x=1", "https://h/abs", request)


def test_a_single_value_or_none_may_be_returned():
    class Single(Spider):
        def parse(self, page: Page) -> Any:
            return {"one": 1} if page.url.endswith("1") else None

    assert process(Single(), "http://h/1").items == ({"one": 1},)
    assert process(Single(), "http://h/2").items == ()


def test_anything_else_is_a_type_error_naming_the_type_and_the_line():
    outcome = process(Yields([{"a": 1}, 42]), "http://h/")
    assert outcome.error == (
        "spider error: TypeError: a spider yields dicts, URLs, Requests, dataclass or attrs "
        "instances or None, not int" + where(Yields.parse, "yield from"))
    assert outcome.items == ()  # the page failed: nothing it yielded is kept


# -- 3. the pages callbacks get ------------------------------------------------------

class Keep(Spider):
    def parse(self, page: Page) -> Iterator[Any]:
        yield {"text": page.text, "title": page.title, "links": list(page.links),
               "body": len(page.body), "base": page.base_url, "type": page.content_type,
               "request": page.request.url if page.request else None}


@pytest.mark.parametrize(("ctype", "body"), [
    ("application/json", '{"a": "\u00e9"}'),
    ("application/xml", "<r><a href='/x'>\u00e9</a></r>"),
    ("text/plain; charset=latin-1", "caf\u00e9 <a href='/x'>"),
    ("application/ld+json", "[1]"),
])
def test_every_textual_type_has_text_and_only_html_has_links(ctype, body):
    raw = body.encode("latin-1" if "latin" in ctype else "utf-8")
    (item,) = process(Keep(), "http://h/p", raw, {"content-type": ctype}).items
    assert item == {"text": body, "title": None, "links": [], "body": len(raw),
                    "base": "http://h/p", "type": ctype.split(";")[0], "request": "http://h/p"}


def test_binary_pages_have_a_body_and_no_text():
    raw = bytes(range(256))
    (item,) = process(Keep(), "http://h/f.pdf", raw, {"content-type": "application/pdf"}).items
    assert item["text"] == "" and item["body"] == 256


def test_html_pages_have_title_links_and_base_url():
    html = ('<html><head><title>T</title><base href="../other/"></head>'
            '<body><a href="x">x</a></body></html>')
    (item,) = process(Keep(), "http://h/a/b/c", html).items
    assert item["title"] == "T"
    assert item["links"] == ["http://h/a/other/x"]
    assert item["base"] == "http://h/a/other/"
    (item,) = process(Keep(), "http://h/a/b/c", "<title>T</title><a href='y'>").items
    assert item["base"] == "http://h/a/b/c"


def test_xhtml_soup_is_silent():
    # warnings are errors in this suite: bs4 warns about XML parsed as HTML when the
    # declaration is not followed by <html within 500 characters
    xhtml = ('<?xml version="1.0" encoding="utf-8"?>\n<!-- ' + "c" * 600 + ' -->\n'
             '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
             '<body><h1>Hi</h1></body></html>')

    class Soup(Spider):
        def parse(self, page: Page) -> Iterator[Any]:
            yield {"h1": page.soup.h1.get_text()}

    outcome = process(Soup(), "http://h/", xhtml, {"content-type": "application/xhtml+xml"})
    assert outcome.error is None
    assert outcome.items == ({"h1": "Hi"},)


# -- 4. tracebacks -------------------------------------------------------------------------

def test_a_spider_error_says_where_and_keeps_its_traceback():
    html = "<html><body><p>no price</p></body></html>"
    outcome = process(TracebackSpider(), "http://h/p", html)
    reason = "spider error: KeyError: 'x'" + where(_price_of, "attrib")
    assert outcome.error == reason
    assert outcome.traceback is not None
    assert outcome.traceback.startswith("Traceback (most recent call last):")
    assert "in parse" in outcome.traceback and "in _price_of" in outcome.traceback
    assert "process.py" not in outcome.traceback  # only the spider's frames
    assert outcome.traceback.rstrip().endswith("KeyError: 'x'")
    assert outcome.items == ({"url": "http://h/p", "error": reason,
                              "traceback_ends": ["KeyError: 'x'"]},)


class Raises(Spider):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def parse(self, page: Page) -> Iterator[Any]:
        yield {"before": 1}
        raise self.exc


class Shout(BaseException):
    pass


def test_any_base_exception_but_keyboard_interrupt_is_a_record():
    outcome = process(Raises(Shout("loud")), "http://h/")
    assert outcome.error == "spider error: Shout: loud" + where(Raises.parse, "raise")
    assert outcome.items == ()
    outcome = process(Raises(SystemExit(4)), "http://h/")
    assert outcome.error == "spider error: SystemExit: 4" + where(Raises.parse, "raise")
    with pytest.raises(KeyboardInterrupt):
        process(Raises(KeyboardInterrupt()), "http://h/")


def test_an_errback_error_is_added_and_the_first_traceback_kept():
    class Both(Spider):
        def parse(self, page: Page) -> Any:
            return 1 / 0

        def failed(self, failure: Failure) -> Any:
            assert failure.traceback is not None and "ZeroDivisionError" in failure.traceback
            raise RuntimeError("errback too")

    outcome = process(Both(), "http://h/")
    assert outcome.error == (
        "spider error: ZeroDivisionError: division by zero" + where(Both.parse, "1 / 0")
        + "; spider error: RuntimeError: errback too" + where(Both.failed, "raise"))
    assert outcome.traceback is not None and "ZeroDivisionError" in outcome.traceback


# -- 5. the item pipeline --------------------------------------------------------------

def test_process_item_changes_and_drops_items():
    class Pipe(Spider):
        def parse(self, page: Page) -> Iterator[Any]:
            yield {"n": 1}
            yield Point(2, [])
            yield {"n": 3}
            yield "/next"

        def process_item(self, item: dict[str, Any]) -> Any:
            if item.get("n") == 3:
                return None
            return Point(item.get("n", item.get("x", 0)), ["seen"])

    outcome = process(Pipe(), "http://h/")
    assert outcome.items == ({"x": 1, "tags": ["seen"]}, {"x": 2, "tags": ["seen"]})
    assert outcome.dropped == 1
    assert outcome.follow == ("http://h/next",)


def test_a_failing_pipeline_is_a_spider_error():
    class BadPipe(Spider):
        def parse(self, page: Page) -> Iterator[Any]:
            yield {"n": 1}

        def process_item(self, item: dict[str, Any]) -> Any:
            return item["missing"]

    outcome = process(BadPipe(), "http://h/")
    assert outcome.error == ("spider error: KeyError: 'missing'"
                             + where(BadPipe.process_item, "missing"))
    assert outcome.items == () and outcome.dropped == 0

    class WrongType(Spider):
        def parse(self, page: Page) -> Iterator[Any]:
            yield {"n": 1}

        def process_item(self, item: dict[str, Any]) -> Any:
            return [item]

    outcome = process(WrongType(), "http://h/")
    assert outcome.error is not None
    assert outcome.error.startswith("spider error: TypeError: process_item returned list")


def test_a_failed_page_pipes_its_errback_items_too():
    class Counted(Spider):
        def failed(self, failure: Failure) -> Iterator[Any]:
            yield {"error": failure.error}
            yield {"drop": True}

        def process_item(self, item: dict[str, Any]) -> Any:
            return None if "drop" in item else {**item, "piped": True}

    outcome = process(Counted(), "http://h/", status=410)
    assert outcome.items == ({"error": "http 410", "piped": True},)
    assert outcome.dropped == 1


# -- 6. start requests and sitemaps -----------------------------------------------------

def test_start_requests_are_start_urls_then_sitemaps():
    class Seeds(Spider):
        start_urls = ["http://h/a", "http://h/b"]
        sitemap_urls = ["http://h/robots.txt"]

    assert [(r.url, r.callback) for r in Seeds().start_requests()] == [
        ("http://h/a", None), ("http://h/b", None), ("http://h/robots.txt", "_parse_sitemap")]

    class Duck:
        start_urls = ["http://h/d"]
        sitemap_urls = ["http://h/sitemap.xml"]

        def parse(self, page: Page) -> Any:
            return None

    assert [(r.url, r.callback) for r in as_spider(Duck).start_requests()] == [
        ("http://h/d", None), ("http://h/sitemap.xml", "_parse_sitemap")]


def _sitemap(request: Request | str, body: bytes | str,
             ctype: str = "application/xml", spider: Any = None) -> Outcome:
    return process(spider or ShopSitemapSpider(), request if isinstance(request, Request)
                   else Request(request, callback="_parse_sitemap"), body,
                   {"content-type": ctype})


def test_a_robots_txt_lists_its_sitemaps():
    outcome = _sitemap("http://h/robots.txt", "User-agent: *\nDisallow:\n"
                       "Sitemap: http://h/s1.xml\n  sitemap:/s2.xml.gz\n", "text/plain")
    assert outcome.error is None
    assert [(r.url, r.callback) for r in outcome.follow] == [
        ("http://h/s1.xml", "_parse_sitemap"), ("http://h/s2.xml.gz", "_parse_sitemap")]


def test_an_index_lists_sitemaps_and_a_urlset_pages_by_rule():
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    index = (f'<sitemapindex {ns}><sitemap><loc> http://h/a.xml </loc></sitemap>'
             f'<sitemap><loc>http://h/b.xml.gz</loc></sitemap></sitemapindex>')
    outcome = _sitemap("http://h/index.xml", index)
    assert [(r.url, r.callback) for r in outcome.follow] == [
        ("http://h/a.xml", "_parse_sitemap"), ("http://h/b.xml.gz", "_parse_sitemap")]
    urlset = (f'<urlset {ns}><url><loc>http://h/product/1</loc></url>'
              f'<url><loc>http://h/about</loc></url><url><loc>http://h/api/products?page=2'
              f'</loc></url><url><loc>ftp://h/x</loc></url></urlset>').encode()
    outcome = _sitemap("http://h/s.xml.gz", gzip.compress(urlset), "application/gzip")
    assert [(r.url, r.callback) for r in outcome.follow] == [
        ("http://h/product/1", "parse_product"), ("http://h/api/products?page=2", "parse_api")]

    class NoRules(Spider):
        pass

    outcome = _sitemap("http://h/s.xml", urlset, spider=NoRules())
    assert [(r.url, r.callback) for r in outcome.follow] == [
        ("http://h/product/1", None), ("http://h/about", None),
        ("http://h/api/products?page=2", None)]


def test_a_malformed_sitemap_is_a_failed_record_with_its_reason():
    outcome = _sitemap("http://h/bad.xml", "<urlset><url><loc>oops</url>")
    assert outcome.error is not None
    assert outcome.error.startswith("malformed sitemap: ")
    assert outcome.traceback is None and outcome.follow == ()
    outcome = _sitemap("http://h/page.xml", "<html><p>hi</p></html>")
    assert outcome.error == "not a sitemap: root element 'html'"


def test_a_gzip_sitemap_inflates_within_the_crawls_max_bytes():
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    urlset = (f"<urlset {ns}>" + "<url><loc>http://h/product/1</loc></url>" * 100
              + "</urlset>").encode()
    request = Request("http://h/s.xml.gz", callback="_parse_sitemap")
    headers = {"content-type": "application/gzip"}
    body = gzip.compress(urlset)
    outcome = process(ShopSitemapSpider(), request, body, headers, max_bytes=len(urlset))
    assert outcome.error is None and len(outcome.follow) == 100
    outcome = process(ShopSitemapSpider(), request, body, headers, max_bytes=len(urlset) - 1)
    assert outcome.error == f"sitemap inflates past max_bytes ({len(urlset) - 1})"


# -- every strategy, against the loopback shop -----------------------------------------

def _expected_shop_items() -> list[dict[str, Any]]:
    listing_pages = {c: -(-len(category_products(c)) // PER_PAGE) for c in CATEGORIES}
    expected: list[dict[str, Any]] = [
        {"sku": product(i).sku, "name": product(i).name, "category": category_of(i)}
        for i in range(PRODUCTS)]
    for slug in CATEGORIES:
        ids = category_products(slug)
        for number in range(1, listing_pages[slug] + 1):
            count = len(ids[(number - 1) * PER_PAGE:number * PER_PAGE])
            expected.append({"category": slug, "page": number, "products": count})
    return expected


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_callbacks_meta_and_errbacks_in_every_mode(mode, shop):
    outcomes = drive(mode, ShopCallbackSpider(), [Request(shop.url + "/")], concurrency=4)
    items = items_of(outcomes)
    missing = [i for i in items if "missing" in i]
    assert missing == [{"missing": shop.url + "/product/999", "error": "http 404",
                        "category": "none", "callback": "parse_product"}]
    assert sorted((i for i in items if "missing" not in i), key=repr) == sorted(
        _expected_shop_items(), key=repr)
    assert all(o.error is None for o in outcomes if not o.request.url.endswith("/999"))


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_process_item_runs_with_the_spider_in_every_mode(mode, shop):
    outcomes = drive(mode, PipelineSpider(), [Request(shop.url + "/api/products?page=1")])
    assert items_of(outcomes) == sorted(
        ({"id": i, "sku": product(i).sku, "checked": True} for i in range(PRODUCTS)
         if i % 4), key=repr)
    assert sum(o.dropped for o in outcomes) == len(range(0, PRODUCTS, 4))


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_tracebacks_cross_processes_in_every_mode(mode, shop):
    outcomes = drive(mode, TracebackSpider(), [Request(shop.url + "/product/3")])
    (outcome,) = outcomes
    reason = "spider error: KeyError: 'x'" + where(_price_of, "attrib")
    assert outcome.error == reason
    assert outcome.traceback is not None and "in _price_of" in outcome.traceback
    assert outcome.items == ({"url": shop.url + "/product/3", "error": reason,
                              "traceback_ends": ["KeyError: 'x'"]},)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_sitemaps_from_robots_txt_in_every_mode(mode, shop):
    spider = ShopSitemapSpider([shop.url + "/robots.txt", shop.url + "/sitemap-broken.xml"])
    outcomes = drive(mode, spider, list(spider.start_requests()), concurrency=8)
    items = items_of(outcomes)
    assert sorted(i["sku"] for i in items if i["kind"] == "product") == [
        product(i).sku for i in range(PRODUCTS)]
    assert sorted(i["page"] for i in items if i["kind"] == "api") == list(range(1, 9))
    errors = [o.error for o in outcomes if o.error]
    assert len(errors) == 1 and errors[0].startswith("malformed sitemap: ")
    # robots.txt, the index, three sitemaps, the broken one, 75 products, 8 API pages
    assert len(outcomes) == 1 + 1 + 3 + 1 + PRODUCTS + 8


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_duck_spiders_keep_their_callbacks_in_every_mode(mode, shop):
    outcomes = drive(mode, DuckShopSpider, [Request(shop.url + "/")])
    assert items_of(outcomes) == [{"title": "Product 1 \u2014 crawlkit shop", "duck": True}]

