"""Fetch with threads, parse in other processes: ProcessPoolExecutor and Pool.apply_async.

Starts the demo site on 127.0.0.1, downloads every page with a ThreadPoolExecutor
(I/O-bound), then parses the HTML (CPU-bound: title, links and a BeautifulSoup
pass over the headings) in worker processes, first with ProcessPoolExecutor.map,
then with multiprocessing.Pool.apply_async. Run: python examples/process_pool_parse.py [--pages N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import requests
from bs4 import BeautifulSoup

from crawlkit.lab.demo import DemoSite, SiteSpec
from crawlkit.parse import extract


def fetch(url: str) -> tuple[str, str]:
    """Download one page (runs in a thread of the parent process)."""
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return url, response.text


def parse_page(url: str, html: str) -> dict[str, Any]:
    """Parse one page (runs in a worker process; must be module-level to be picklable)."""
    title, links = extract(html, url)
    soup = BeautifulSoup(html, "lxml")
    headings = [h2.get_text(strip=True) for h2 in soup.find_all("h2")]
    return {"url": url, "title": title, "links": len(links), "headings": len(headings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    # 1. Fetch: I/O-bound, threads are enough.
    with DemoSite(SiteSpec(pages=args.pages, page_bytes=8192)) as site:
        urls = [f"{site.url}/page/{n}" for n in range(args.pages)]
        with ThreadPoolExecutor(max_workers=16) as executor:
            pages = list(executor.map(fetch, urls))
    print(f"fetched: {len(pages)}")

    # "spawn" starts clean interpreters: forking a process that runs threads (the
    # demo site's, the HTTP pools') can copy a held lock into the child.
    context = multiprocessing.get_context("spawn")

    # 2a. Parse with ProcessPoolExecutor.map (results in submission order).
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.processes, mp_context=context) as pool:
        chunk = max(1, len(pages) // (4 * args.processes))
        by_executor = list(pool.map(parse_page, *zip(*pages, strict=True), chunksize=chunk))
    print(f"ProcessPoolExecutor: {time.perf_counter() - started:.2f}s (process start-up included)")

    # 2b. The same parsing with multiprocessing.Pool.apply_async: one AsyncResult per page.
    started = time.perf_counter()
    with context.Pool(processes=args.processes) as mp_pool:
        pending = [mp_pool.apply_async(parse_page, (url, html)) for url, html in pages]
        by_apply_async = [result.get(timeout=60) for result in pending]
        mp_pool.close()
        mp_pool.join()
    print(f"Pool.apply_async:    {time.perf_counter() - started:.2f}s (process start-up included)")

    headings = sum(r["headings"] for r in by_executor)
    print(f"headings found: {headings}")
    print(f"ProcessPoolExecutor parsed: {len(by_executor)}")
    print(f"Pool.apply_async parsed: {len(by_apply_async)}")
    print(f"results equal: {by_executor == by_apply_async}")


if __name__ == "__main__":
    main()
