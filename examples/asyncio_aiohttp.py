"""asyncio with one aiohttp.ClientSession, a Semaphore bounding concurrency, and gather().

Starts the demo site on 127.0.0.1 (in its own thread), then fetches every page
from the event loop, at most --concurrency requests at a time, and extracts the
titles with crawlkit's parse stage.
Run: python examples/asyncio_aiohttp.py [--pages N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from crawlkit.lab.demo import DemoSite, SiteSpec, page_title
from crawlkit.parse import extract


async def spider(
    session: aiohttp.ClientSession, limit: asyncio.Semaphore, base_url: str, page_number: int
) -> tuple[int, str | None]:
    """Fetch /page/{page_number} once a slot is free; return the number and title."""
    url = f"{base_url}/page/{page_number}"
    # The semaphore is taken first, so at most `concurrency` requests are in flight.
    async with limit, session.get(url) as response:
        response.raise_for_status()
        text = await response.text()
    # Parsing is quick here; a heavy parse would belong in a thread or process pool.
    title, _links = extract(text, url)
    return page_number, title


async def crawl(base_url: str, pages: int, concurrency: int) -> list[tuple[int, str | None]]:
    limit = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [spider(session, limit, base_url, n) for n in range(pages)]
        return await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with DemoSite(SiteSpec(pages=args.pages, latency=0.01)) as site:
        started = time.perf_counter()
        results = asyncio.run(crawl(site.url, args.pages, args.concurrency))
        elapsed = time.perf_counter() - started

    titles_ok = all(title == page_title(n) for n, title in results)
    print(f"fetched {len(results)} pages in {elapsed:.2f}s, {args.concurrency} at a time")
    print(f"gather kept submission order: {[n for n, _ in results] == list(range(args.pages))}")
    print(f"titles ok: {titles_ok}")
    print(f"pages: {len(results)}")


if __name__ == "__main__":
    main()
