"""ThreadPoolExecutor with submit(), future.done() and add_done_callback().

Starts the built-in demo site on 127.0.0.1, submits one spider(page_number) task
per page, watches progress with future.done() and collects results in callbacks.

Run: python examples/threadpool_callbacks.py [--pages N] [--workers W]
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests

from crawlkit.lab.demo import DemoSite, SiteSpec, page_title
from crawlkit.parse import extract

BASE_URL = ""  # set in main() once the demo site is up


def spider(page_number: int) -> dict[str, Any]:
    """Fetch /page/{page_number} and return its title and link count."""
    url = f"{BASE_URL}/page/{page_number}"
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    title, links = extract(response.text, url)
    return {"page": page_number, "title": title, "links": len(links)}


def main() -> None:
    global BASE_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    # Callbacks run in whichever thread finishes the future (or in the submitting
    # thread if it is already done), so the two lists above are guarded by this lock.
    lock = threading.Lock()

    def on_done(future: Future[dict[str, Any]]) -> None:
        exc = future.exception()
        with lock:
            if exc is None:
                results.append(future.result())
            else:
                errors.append(exc)

    with DemoSite(SiteSpec(pages=args.pages)) as site:
        BASE_URL = site.url
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as executor:
            futures = [executor.submit(spider, n) for n in range(args.pages)]
            for future in futures:
                future.add_done_callback(on_done)
            polls = 0
            while not all(f.done() for f in futures):
                polls += 1
                time.sleep(0.005)
        elapsed = time.perf_counter() - started

    titles_ok = all(r["title"] == page_title(r["page"]) for r in results)
    print(f"polled future.done() {polls} times while waiting")
    print(f"first callback results: {[r['page'] for r in results[:10]]}")
    print(f"fetched {len(results)} pages in {elapsed:.2f}s with {args.workers} threads")
    print(f"errors: {len(errors)}")
    print(f"titles ok: {titles_ok}")
    print(f"pages: {len(results)}")


if __name__ == "__main__":
    main()
