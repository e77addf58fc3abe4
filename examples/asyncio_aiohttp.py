"""asyncio with one aiohttp.ClientSession, a Semaphore bounding requests in flight, and gather().

Every page is a coroutine; gather() runs them all on one thread, and an
asyncio.Semaphore of --workers slots keeps at most that many requests in
flight. Parsing (crawlkit's parse stage) is quick here, so it runs on the loop;
a heavy parse would belong in a process pool (see process_pool_parse.py).
Run: python examples/asyncio_aiohttp.py [--pages N] [--latency S] [--workers C]
"""

from __future__ import annotations

import asyncio

import aiohttp
from _tutorial import Done, Site, arguments, demo_site, measure, parse, report, sequential


class Peak:
    """Requests in flight now and the most at once (one thread: no lock needed)."""

    now = 0
    most = 0


async def spider(session: aiohttp.ClientSession, slots: asyncio.Semaphore, peak: Peak,
                 url: str) -> str:
    async with slots:  # wait for one of the slots before sending
        peak.now += 1
        peak.most = max(peak.most, peak.now)
        try:
            async with session.get(url) as response:
                response.raise_for_status()
                text = await response.text()
        except aiohttp.ClientError as exc:
            return f"{url} | failed: {type(exc).__name__}"
        finally:
            peak.now -= 1
    return parse(text, url)


async def crawl(site: Site, concurrency: int) -> Done:
    slots = asyncio.Semaphore(concurrency)  # bounds the requests in flight
    peak = Peak()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        keys = await asyncio.gather(*(spider(session, slots, peak, url) for url in site.urls()))
    return Done(list(keys), {"most requests in flight": f"{peak.most} (Semaphore of {concurrency})",
                             "gather kept page order": keys == sorted(keys, key=_number)})


def _number(key: str) -> int:
    return int(key.split(" | ", 1)[0].rsplit("/", 1)[1])


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"asyncio + aiohttp, Semaphore({args.workers})",
                    lambda: asyncio.run(crawl(site, args.workers))),
        ])


if __name__ == "__main__":
    main()
