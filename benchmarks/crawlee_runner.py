"""Crawl a site with Crawlee for Python the way crawlkit's default spider does; print JSON stats.

One record per page (url, title; with ``--selector`` also every h2's text and the
number of link hrefs, by CSS selectors), every same-host link matching ``--include``
followed (all of them by default), robots.txt not fetched, retries off,
concurrency pinned to the value given. Storage is in memory: nothing is left on
disk (``CRAWLEE_STORAGE_DIR`` points into a temporary directory all the same).
Used by ``vs_scrapy.py``; needs the ``bench`` extra.

Run: python benchmarks/crawlee_runner.py http://127.0.0.1:PORT/ [--concurrency 64]
     [--include REGEX] [--selector]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import tempfile
import time


async def crawl(start: str, concurrency: int, include: str | None,
                selector: bool = False) -> dict[str, float]:
    from crawlee import ConcurrencySettings
    from crawlee.crawlers import ParselCrawler, ParselCrawlingContext
    from crawlee.storage_clients import MemoryStorageClient

    crawler = ParselCrawler(
        storage_client=MemoryStorageClient(),
        max_request_retries=0,
        respect_robots_txt_file=False,
        concurrency_settings=ConcurrencySettings(
            min_concurrency=concurrency, desired_concurrency=concurrency,
            max_concurrency=concurrency),
        configure_logging=False,
    )
    # enqueue_links matches a pattern from the start of the URL: "\.html$" needs ".*" first
    patterns = [re.compile(".*" + include)] if include else None
    items = 0

    @crawler.router.default_handler
    async def parse(context: ParselCrawlingContext) -> None:
        nonlocal items
        page = context.selector
        record = {"url": context.request.url, "title": page.css("title::text").get()}
        if selector:  # crawlkit.lab.bench_spiders.SelectorSpider's job
            record.update(h2=page.css("h2::text").getall(),
                          hrefs=len(page.css("a::attr(href)").getall()))
        await context.push_data(record)
        items += 1
        if patterns is None:
            await context.enqueue_links()  # same hostname by default
        else:
            await context.enqueue_links(include=patterns)

    started = time.perf_counter()
    stats = await crawler.run([start])
    elapsed = time.perf_counter() - started
    pages = stats.requests_finished + stats.requests_failed
    return {"pages": pages, "items": items, "elapsed": elapsed,
            "pages_per_second": pages / elapsed if elapsed else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--include", default=None, metavar="REGEX",
                        help="follow only links whose URL matches (searched, as crawlkit's "
                             "--allow)")
    parser.add_argument("--selector", action="store_true",
                        help="also every h2's text and the number of link hrefs")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # a 404 is a failed page, not a traceback
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CRAWLEE_STORAGE_DIR"] = tmp
        os.environ.setdefault("CRAWLEE_PURGE_ON_START", "true")
        result = asyncio.run(crawl(args.start, args.concurrency, args.include, args.selector))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
