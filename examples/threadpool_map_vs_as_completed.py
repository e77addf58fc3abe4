"""executor.map() versus as_completed(): submission order versus completion order.

Starts the demo site on 127.0.0.1 with 20 ms latency per response and gives each
page an extra, deterministic client-side delay, so pages finish out of order.
map() still yields results in submission order; as_completed() yields them as
they finish. Run: python examples/threadpool_map_vs_as_completed.py [--pages N]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import requests

from crawlkit.lab.demo import DemoSite, SiteSpec
from crawlkit.parse import extract

BASE_URL = ""  # set in main() once the demo site is up


def spider(page_number: int) -> tuple[int, str | None]:
    """Fetch /page/{page_number}; return the page number and its title."""
    # The demo site's latency is the same for every page; this extra 0-60 ms
    # (a fixed function of the page number) makes completion order differ from
    # submission order, as it does against a real site.
    time.sleep(((page_number * 7 + 3) % 5) * 0.015)
    url = f"{BASE_URL}/page/{page_number}"
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    title, _links = extract(response.text, url)
    return page_number, title


def main() -> None:
    global BASE_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    pages = range(args.pages)

    with DemoSite(SiteSpec(pages=args.pages, latency=0.02)) as site:
        BASE_URL = site.url
        with ThreadPoolExecutor(max_workers=args.workers) as executor:
            map_order = [n for n, _title in executor.map(spider, pages)]

            futures = [executor.submit(spider, n) for n in pages]
            completed_order = [future.result()[0] for future in as_completed(futures)]

    print(f"map order (first 10):          {map_order[:10]}")
    print(f"as_completed order (first 10): {completed_order[:10]}")
    print(f"map order is submission order: {map_order == list(pages)}")
    print(f"same pages in both: {sorted(completed_order) == map_order}")
    print(f"orders differ: {map_order != completed_order}")
    print(f"pages: {len(map_order)}")


if __name__ == "__main__":
    main()
