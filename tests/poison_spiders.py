"""Spiders whose output is hostile to the crawl. Module level, so worker processes
can import them."""

from __future__ import annotations

import os
import sys
import threading
from decimal import Decimal

from crawlkit import Failure, Page, Spider

UNWRITABLE: dict[str, object] = {
    "bytes": b"raw",
    "Decimal": Decimal("1.5"),
    "set": {1, 2},
    "int key": {1: "one"},
    "big int": 2**70,
    "nan": float("nan"),
    "inf": float("inf"),
    "lock": threading.Lock(),
}
"""Values no sink can write, by name; page ``/page/{i}`` yields the ``i % 10``-th
(pages whose remainder is past the end yield only good items)."""

EXPECTED_REASONS: dict[str, str] = {
    "bytes": "item not serialisable: bytes at key 'x'",
    "Decimal": "item not serialisable: Decimal at key 'x'",
    "set": "item not serialisable: set at key 'x'",
    "int key": "item not serialisable: int key 1 at key 'x'",
    "big int": "item not serialisable: int beyond 64 bits at key 'x'",
    "nan": "item not serialisable: float nan at key 'x'",
    "inf": "item not serialisable: float inf at key 'x'",
    "lock": "item not serialisable: lock at key 'x'",
}


def page_number(url: str) -> int | None:
    tail = url.rsplit("/page/", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


class UnwritableItemSpider(Spider):
    """Yields a good item, then (on some pages) one the sink cannot write, then
    another good item; follows the page's links."""

    def parse(self, page: Page):
        yield {"url": page.url, "part": 1}
        number = page_number(page.url)
        names = list(UNWRITABLE)
        if number is not None and number % 10 < len(names):
            yield {"url": page.url, "x": UNWRITABLE[names[number % 10]]}
        yield {"url": page.url, "part": 2}
        yield from page.links


class ExitingSpider(Spider):
    """Calls ``sys.exit()`` on every third page, and in ``failed`` for every failure."""

    def parse(self, page: Page):
        number = page_number(page.url)
        if number is not None and number % 3 == 0:
            sys.exit(3)
        yield {"url": page.url}
        yield from page.links

    def failed(self, failure: Failure):
        sys.exit()


class Uncatchable(BaseException):
    """An exception that is not an ``Exception``."""


class BaseExceptionSpider(Spider):
    """Raises a BaseException subclass on every page."""

    def parse(self, page: Page):
        raise Uncatchable("not an Exception")


class DyingSpider(Spider):
    """Ends its worker process outright (no exception, no clean-up) on pages 0, 10, 20."""

    def parse(self, page: Page):
        number = page_number(page.url)
        if number is not None and number % 10 == 0:
            os._exit(1)
        yield {"url": page.url}
        yield from page.links
