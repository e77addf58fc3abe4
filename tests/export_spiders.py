"""Spiders for the export tests. Module level, so worker processes can import them."""

from __future__ import annotations

from crawlkit import Failure, Page, Spider


class RaggedSpider(Spider):
    """Items whose keys vary: the first has ``url`` and ``n``; later ones add ``extra``
    and a nested ``tags`` list; a page ending in 3 yields a NaN (refused by every sink)."""

    def parse(self, page: Page):
        n = int(page.url.rstrip("/").rsplit("/", 1)[-1] or 0)
        if page.url.endswith("3"):
            yield {"url": page.url, "n": float("nan")}
            return
        item = {"url": page.url, "n": n}
        if n > 1:
            item["extra"] = "x,y\n\"z\""
            item["tags"] = ["a", {"b": None}]
            item["ok"] = True
        yield item

    def failed(self, failure: Failure):
        yield {"url": failure.url, "n": None, "error": failure.error}


class MissingCallbackSpider(Spider):
    """A start request names a method the spider does not have."""

    def start_requests(self):
        from crawlkit import Request

        yield Request("http://127.0.0.1:9/", callback="parse_nothing")
