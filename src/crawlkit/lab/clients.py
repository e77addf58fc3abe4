"""Bare loops of the HTTP clients crawlkit's strategies fetch with, and nothing else.

``bench`` runs one loop per client in a fresh process
(``python -m crawlkit.lab.clients --client NAME --concurrency N URLS_FILE``) and
sets the rate it reaches beside the crawl modes' rates: when ``async`` beats
``threaded`` on the overhead workload, the gap between bare ``aiohttp`` and bare
``requests`` at the same concurrency is the part of it that the client explains;
the rest is the concurrency model and crawlkit's own work.

Each loop fetches every URL of the file ``--rounds`` times and reads every body:
``requests`` from ``N`` threads, one :class:`requests.Session` per thread;
``aiohttp`` from ``N`` tasks sharing one session on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson


def bare_requests(urls: Sequence[str], concurrency: int) -> int:
    """Fetch ``urls`` with requests from ``concurrency`` threads; return bytes read."""
    import requests

    local = threading.local()  # each thread's own Session (a Session is not thread-safe)

    def fetch(url: str) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return len(session.get(url, timeout=30).content)

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(fetch, urls))


def bare_aiohttp(urls: Sequence[str], concurrency: int) -> int:
    """Fetch ``urls`` with aiohttp from ``concurrency`` tasks; return bytes read."""
    import aiohttp

    async def main() -> int:
        todo = iter(urls)  # shared by the tasks; only touched on the one event loop
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker() -> int:
                read = 0
                for url in todo:
                    async with session.get(url) as response:
                        read += len(await response.read())
                return read

            return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))

    return asyncio.run(main())


CLIENTS: dict[str, Callable[[Sequence[str], int], int]] = {
    "requests": bare_requests,
    "aiohttp": bare_aiohttp,
}
"""Client name (as the strategies' ``http_client`` fact spells it) -> bare loop."""


def run(client: str, urls: Sequence[str], concurrency: int) -> dict[str, Any]:
    """One timed bare loop (after one warm-up request)."""
    loop = CLIENTS[client]
    loop(urls[:1], 1)
    begun = time.perf_counter()
    read = loop(urls, concurrency)
    seconds = time.perf_counter() - begun
    return {"client": client, "concurrency": concurrency, "requests": len(urls),
            "bytes": read, "seconds": seconds,
            "requests_per_second": len(urls) / seconds if seconds > 0 else 0.0}


def main(argv: list[str] | None = None) -> None:
    """``python -m crawlkit.lab.clients --client NAME --concurrency N URLS_FILE``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls_file")
    parser.add_argument("--client", choices=sorted(CLIENTS), required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    urls = Path(args.urls_file).read_text(encoding="utf-8").split() * args.rounds
    sys.stdout.buffer.write(orjson.dumps(run(args.client, urls, args.concurrency)) + b"\n")


if __name__ == "__main__":
    main()
