"""Crawl a site with Scrapy the way crawlkit's default spider does; print JSON stats.

One record per page (url, title; with ``--selector`` also every h2's text and the
number of link hrefs, by CSS selectors), every same-host link matching ``--include``
followed (all of them by default), robots.txt not fetched, retries off,
concurrency as given. Used by ``vs_scrapy.py``; needs the ``bench`` extra.

Run: python benchmarks/scrapy_runner.py http://127.0.0.1:PORT/ [--concurrency 64]
     [--include REGEX] [--selector]
"""

from __future__ import annotations

import argparse
import json
import time
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor


class TitleSpider(Spider):
    name = "titles"

    def __init__(self, start: str, include: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.allowed_domains = [urlsplit(start).hostname or ""]  # same host, as crawlkit
        self.links = LinkExtractor(allow=include or ())  # searched, as crawlkit's --allow

    def parse(self, response):  # type: ignore[no-untyped-def]
        yield {"url": response.url, "title": response.css("title::text").get()}
        for link in self.links.extract_links(response):
            yield response.follow(link.url, callback=self.parse)


class SelectorSpider(TitleSpider):
    """crawlkit.lab.bench_spiders.SelectorSpider's job: title, h2 texts, link hrefs."""

    name = "selectors"

    def parse(self, response):  # type: ignore[no-untyped-def]
        yield {"url": response.url, "title": response.css("title::text").get(),
               "h2": response.css("h2::text").getall(),
               "hrefs": len(response.css("a::attr(href)").getall())}
        for link in self.links.extract_links(response):
            yield response.follow(link.url, callback=self.parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--selector", action="store_true",
                        help="run the selector spider (title, h2 texts, link hrefs)")
    parser.add_argument("--include", default=None, metavar="REGEX",
                        help="follow only links whose URL matches (searched)")
    args = parser.parse_args()
    process = CrawlerProcess(settings={
        "LOG_LEVEL": "ERROR",
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
    })
    crawler = process.create_crawler(SelectorSpider if args.selector else TitleSpider)
    started = time.perf_counter()
    process.crawl(crawler, start=args.start, include=args.include)
    process.start()
    wall = time.perf_counter() - started
    stats = crawler.stats.get_stats()
    pages = int(stats.get("response_received_count", 0))
    elapsed = float(stats.get("elapsed_time_seconds", wall))
    print(json.dumps({"pages": pages, "items": int(stats.get("item_scraped_count", 0)),
                      "elapsed": elapsed, "pages_per_second": pages / elapsed if elapsed else 0}))


if __name__ == "__main__":
    main()
