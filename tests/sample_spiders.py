"""Spiders used by the tests. Module level, so worker processes can import them."""

from __future__ import annotations

from crawlkit import Failure, Page, Spider


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
