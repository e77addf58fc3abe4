"""Spiders used by the tests. Module level, so worker processes can import them."""

from __future__ import annotations

from crawlkit import Failure, Page, Request, Spider


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
