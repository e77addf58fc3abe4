"""Spiders used by the tests. Module level, so worker processes can import them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawlkit import Failure, Page, Spider
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
