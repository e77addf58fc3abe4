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


class SelectorSpider(Spider):
    """What most scraping spiders do: CSS selectors (parsel) on every page.

    The title, every ``<h2>``'s text and every link's href; with ``--follow`` the
    crawl follows the page's links as usual. ``benchmarks/scrapy_runner.py
    --selector`` runs the same extraction in Scrapy.
    """

    def parse(self, page: Page) -> SpiderOutput:
        yield {
            "url": page.url,
            "title": page.css("title::text").get(),
            "h2": page.css("h2::text").getall(),
            "hrefs": len(page.css("a::attr(href)").getall()),
        }
