"""A process per task against a Pool: what creating a process costs.

The pages are downloaded once, before the runs; each run only parses them
(crawlkit's parse stage plus a BeautifulSoup walk: CPU-bound). Starting one
process per page pays for a fork and a join every time; a Pool starts
--workers processes once and feeds them. A pool of spawned processes (the
default on macOS and Windows) pays a fresh interpreter per worker instead.
Run: python examples/process_pool_vs_per_task.py [--pages N] [--page-bytes B] [--workers P]
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.context import ForkProcess, SpawnProcess
from typing import Literal

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse_heavy, report

Page = tuple[str, str]  # (url, html)
Method = Literal["fork", "spawn"]  # how a process starts


def download(site: Site) -> list[Page]:
    with requests.Session() as session:
        return [(url, fetch(session, url)) for url in site.urls()]


def parse_page(page: Page) -> str:
    return parse_heavy(page[1], page[0])


def in_process(pages: list[Page]) -> list[str]:
    return [parse_page(page) for page in pages]


def parse_into(page: Page, keys: multiprocessing.Queue[str]) -> None:
    keys.put(parse_page(page))


def process_per_page(pages: list[Page], workers: int) -> Done:
    keys: multiprocessing.Queue[str] = multiprocessing.Queue()  # one key per page
    found: list[str] = []
    for start in range(0, len(pages), workers):  # at most `workers` alive at once
        batch = [multiprocessing.Process(target=parse_into, args=(page, keys))
                 for page in pages[start:start + workers]]
        for process in batch:
            process.start()
        found += [keys.get(timeout=60) for _ in batch]
        for process in batch:
            process.join()
    return Done(found)


def with_pool(pages: list[Page], workers: int, method: Method) -> Done:
    started = time.perf_counter()  # pool start-up included
    context = multiprocessing.get_context(method)
    with context.Pool(workers) as pool:
        keys = pool.map(parse_page, pages, chunksize=max(1, len(pages) // (4 * workers)))
    seconds = time.perf_counter() - started
    cost = start_and_join_ms(method)  # measured after the run, not counted in it
    return Done(keys, {f"start + join one {method}ed empty process": f"{cost:.1f} ms"},
                seconds=seconds)


def start_and_join_ms(method: Method, times: int = 5) -> float:
    kind = ForkProcess if method == "fork" else SpawnProcess
    started = time.perf_counter()
    for _ in range(times):
        process = kind(target=int)
        process.start()
        process.join()
    return (time.perf_counter() - started) / times * 1000


def main() -> None:
    args = arguments(__doc__, workers=2, page_bytes=100_000).parse_args()
    with demo_site(args) as site:
        pages = download(site)  # the runs below are forked: they inherit this list
    report([
        measure("sequential parse, in process", lambda: in_process(pages)),
        measure(f"a forked Process per page, {args.workers} at once",
                lambda: process_per_page(pages, args.workers)),
        measure(f"Pool({args.workers}) of forked processes",
                lambda: with_pool(pages, args.workers, "fork")),
        measure(f"Pool({args.workers}) of spawned processes",
                lambda: with_pool(pages, args.workers, "spawn")),
    ])


if __name__ == "__main__":
    main()
