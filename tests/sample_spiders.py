"""Spiders used by the tests. Module level, so worker processes can import them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawlkit import DefaultSpider, Failure, Page, Spider
from crawlkit.models import FetchResult, Outcome, Request
from crawlkit.process import Processor
from crawlkit.settings import CrawlSettings


class HeadingSpider(Spider):
    """Uses the BeautifulSoup tree: one item per page with its h1 and section count,
    and follows only the first link of each page."""

    def parse(self, page: Page):
        soup = page.soup
        h1 = soup.find("h1")
        yield {
            "url": page.url,
            "h1": h1.get_text(strip=True) if h1 else None,
            "sections": len(soup.find_all("section")),
        }
        if page.links:
            yield page.links[0]

    def failed(self, failure: Failure):
        yield {"url": failure.url, "failed": failure.error}


class BrokenSpider(Spider):
    """Raises on every third page number, to show a spider bug becomes a record."""

    def parse(self, page: Page):
        if page.url.endswith("3"):
            raise ValueError("boom")
        yield {"url": page.url}

    def failed(self, failure: Failure):
        yield {"url": failure.url, "error": failure.error}


def title_only(page: Page):
    """A function spider."""
    return {"url": page.url, "title": page.title}


def _refuse_to_load() -> Spider:
    raise RuntimeError("this spider cannot be loaded in another process")


class UnloadableSpider(Spider):
    """Pickles fine, but unpickling it fails: a worker process cannot even start."""

    def __reduce__(self):
        return (_refuse_to_load, ())


# -- the Spider API against the loopback shop (crawlkit.lab.shop) --------------------

import dataclasses  # noqa: E402
import re  # noqa: E402

import attr  # noqa: E402


@dataclasses.dataclass
class ProductRow:
    """A product as a dataclass item."""

    sku: str
    name: str
    category: str


@attr.s(auto_attribs=True)
class ListingRow:
    """A listing page as an attrs item."""

    category: str
    page: int
    products: int


class ShopCallbackSpider(Spider):
    """Home -> category listings (by callback name, with meta) -> products (a
    callback passed as a method); listings paginate with relative URL strings
    handed back as Requests; a missing product goes to its errback."""

    def parse(self, page: Page):
        for href in page.css("ul.categories a::attr(href)").getall():
            slug = href.rsplit("/", 1)[1]
            yield page.follow(href, "parse_category", meta={"category": slug})
        yield Request(page.urljoin("/product/999"), self.parse_product,
                      errback="product_missing", meta={"category": "none"})

    def parse_category(self, page: Page):
        rows = page.css("li.product a::attr(href)").getall()
        number = int(re.search(r"page (\d+)", page.title or "").group(1))
        yield ListingRow(page.meta["category"], number, len(rows))
        for href in rows:
            yield page.follow(href, self.parse_product, meta=page.meta)
        following = page.css("a.next::attr(href)").get()
        if following:
            yield page.follow(following, "parse_category", meta=page.meta)

    def parse_product(self, page: Page):
        sku = page.css(".sku::text").get()
        yield ProductRow(sku, page.css("h1.name::text").get(), page.meta["category"])
        yield None

    def product_missing(self, failure: Failure):
        yield {"missing": failure.url, "error": failure.error,
               "category": failure.meta["category"],
               "callback": failure.request.callback if failure.request else None}


class PipelineSpider(Spider):
    """Reads the JSON API; ``process_item`` drops out-of-stock products (every fourth)
    and adds a field to the others."""

    def parse(self, page: Page):
        data = page.json()
        for entry in data["products"]:
            yield {"id": entry["id"], "sku": entry["sku"]}
        if data["next"]:
            yield data["next"]  # a relative URL string: followed with parse

    def process_item(self, item):
        if item["id"] % 4 == 0:
            return None
        return {**item, "checked": True}


class TracebackSpider(Spider):
    """Fails in a helper on product pages; its errback reports the traceback."""

    def parse(self, page: Page):
        yield {"name": _price_of(page)}

    def failed(self, failure: Failure):
        yield {"url": failure.url, "error": failure.error,
               "traceback_ends": (failure.traceback or "").strip().splitlines()[-1:]}


def _price_of(page: Page) -> str:
    return page.css(".nothing").attrib["x"]


class ShopSitemapSpider(Spider):
    """Everything from the shop's sitemaps: products to parse_product, the API to
    parse_api, the rest skipped."""

    sitemap_rules = [(r"/product/\d+$", "parse_product"), (re.compile(r"/api/products"),
                                                           "parse_api")]

    def __init__(self, sitemap_urls=()) -> None:
        self.sitemap_urls = list(sitemap_urls)

    def parse_product(self, page: Page):
        yield {"kind": "product", "sku": page.css(".sku::text").get()}

    def parse_api(self, page: Page):
        yield {"kind": "api", "page": page.json()["page"]}


class DuckShopSpider:
    """Not a Spider subclass: its own callbacks and process_item still work."""

    def parse(self, page: Page):
        yield Request(page.urljoin("/product/1"), callback="parse_product")

    def parse_product(self, page: Page):
        yield {"title": page.title}

    def process_item(self, item):
        return {**item, "duck": True}

class RequestsSpider(Spider):
    """From its first page, yields Requests of every kind (methods, bodies, headers,
    URLs spelled as a server wants them); one item per response, named by ``meta``."""

    CASES = ("search", "api", "put", "delete", "head", "custom", "order", "flag", "escape",
             "bare", "unicode")
    LINES = (
        "POST /search HTTP/1.1", "POST /api HTTP/1.1", "PUT /put HTTP/1.1",
        "DELETE /delete HTTP/1.1", "HEAD /head HTTP/1.1", "GET /custom HTTP/1.1",
        "GET /order?b=2&a=1 HTTP/1.1", "GET /flag?flag HTTP/1.1", "GET /a%2Fb HTTP/1.1",
        "GET /bare? HTTP/1.1", "GET /caf%C3%A9 HTTP/1.1",
    )

    def parse(self, page: Page):
        base = page.urljoin("/")[:-1]
        made = {
            "search": Request(base + "/search", data={"q": "lamp"}),
            "api": Request(base + "/api", json={"page": 2}),
            "put": Request(base + "/put", method="PUT", body=b"raw"),
            "delete": Request(base + "/delete", method="DELETE"),
            "head": Request(base + "/head", method="HEAD"),
            "custom": Request(base + "/custom", headers={"X-Custom": "yes"}),
            "order": Request(base + "/order?b=2&a=1"),
            "flag": Request(base + "/flag?flag"),
            "escape": Request(base + "/a%2Fb"),
            "bare": Request(base + "/bare?"),
            "unicode": Request(base + "/caf\u00e9"),
        }
        for case, request in made.items():
            yield Request(request.url, self.record, method=request.method,
                          headers=request.headers, body=request.body, meta={"case": case})

    def record(self, page: Page):
        yield {"case": page.meta["case"], "status": page.status}

# --- what a spider yielding Requests makes of pages, as a processing stage -----------------


def describe(request: Request) -> dict[str, Any]:
    """The request a record came from: what must survive the frontier, a crash, a hop."""
    return {"url": request.url, "method": request.method,
            "body": request.body.decode("utf-8", "replace"), "callback": request.callback,
            "errback": request.errback, "meta": request.meta, "priority": request.priority,
            "depth": request.depth}


def page_number(url: str) -> int:
    """``17`` for ``.../page/17?...`` and ``.../redirect/17`` (which leads there); -1
    for another path."""
    path = urlsplit(url).path
    if path.startswith(("/page/", "/redirect/")):
        return int(path.rsplit("/", 1)[1])
    return -1


class CallbackNamesSpider(DefaultSpider):
    """The default records under every callback name :class:`RequestsProcessor` gives."""

    parse_even = parse_odd = parse_form = DefaultSpider.parse
    form_failed = DefaultSpider.failed


class RequestsProcessor(Processor):
    """One record per page naming the request that fetched it, and Requests followed.

    On a path in ``plan`` (path -> Request dicts, URLs relative), the page follows
    those requests. Elsewhere, with ``derive``, each link becomes a Request with a
    callback and meta from its page number, priority ``n % 3`` (the same for a page
    and the redirect that leads there, whichever is found first), and every fifth
    page is also posted to as a form (another request than its GET).
    """

    def __init__(self, spider: Spider, settings: CrawlSettings,
                 plan: dict[str, list[dict[str, Any]]] | None = None,
                 derive: bool = False) -> None:
        super().__init__(spider, settings)
        self.plan = plan or {}
        self.derive = derive

    def __call__(self, result: FetchResult) -> Outcome:
        outcome = super().__call__(result)
        request = outcome.request
        if request.purpose != "page" or outcome.retry:
            return outcome
        item = describe(request) | {"status": outcome.status, "error": outcome.error,
                                    "final_url": outcome.final_url}
        if outcome.error is not None or outcome.redirect is not None:
            return replace(outcome, items=(item,))
        path = urlsplit(request.url).path
        follow: tuple[str | Request, ...] = outcome.follow
        if path in self.plan:
            follow = tuple(Request.from_dict({**raw, "url": urljoin(request.url, raw["url"])})
                           for raw in self.plan[path])
        elif self.derive:
            follow = tuple(r for link in outcome.follow for r in self._derived(str(link)))
        return replace(outcome, items=(item,), follow=follow)

    @staticmethod
    def _derived(url: str) -> list[Request]:
        n = page_number(url)
        callback = "parse_even" if n % 2 == 0 else "parse_odd"
        out = [Request(url, callback, meta={"n": n, "tags": []}, priority=n % 3)]
        if n % 5 == 0 and "/page/" in url:
            out.append(Request(url, "parse_form", data={"n": str(n)}, meta={"n": n},
                               errback="form_failed"))
        return out
