"""Spiders used by ``crawlkit bench`` (importable by worker processes)."""

from __future__ import annotations

import os

from bs4 import BeautifulSoup

from ..models import Page
from ..spiders import Spider, SpiderOutput


class NullSpider(Spider):
    """Yields nothing: with ``--follow`` it measures the harness alone."""

    def parse(self, page: Page) -> SpiderOutput:
        return ()


class HeavySpider(Spider):
    """Does real BeautifulSoup work on every page.

    The environment variable ``CRAWLKIT_BENCH_ROUNDS`` (default 1) sets how many
    times the page is parsed into a fresh tree and walked: 0 means no tree at all.
    """

    def __init__(self) -> None:
        self.rounds = int(os.environ.get("CRAWLKIT_BENCH_ROUNDS", "1"))

    def parse(self, page: Page) -> SpiderOutput:
        headings = words = 0
        for _ in range(self.rounds):
            soup = BeautifulSoup(page.text, "lxml")
            headings = len([h.get_text(" ", strip=True) for h in soup.find_all(["h1", "h2"])])
            words = sum(len(p.get_text().split()) for p in soup.find_all("p"))
        yield {"url": page.url, "headings": headings, "words": words}
