"""wait(..., return_when=FIRST_COMPLETED): a bounded, self-refilling thread pool.

Starts the demo site on 127.0.0.1 and keeps at most --in-flight spider tasks
submitted at once; each time one finishes, wait() returns and the loop tops the
pool back up from the remaining page numbers.
Run: python examples/threadpool_wait.py [--pages N] [--in-flight K]
"""

from __future__ import annotations

import argparse
import itertools
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import requests

from crawlkit.lab.demo import DemoSite, SiteSpec, page_title
from crawlkit.parse import extract

BASE_URL = ""  # set in main() once the demo site is up


def spider(page_number: int) -> tuple[int, str | None]:
    """Fetch /page/{page_number}; return the page number and its title."""
    url = f"{BASE_URL}/page/{page_number}"
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    title, _links = extract(response.text, url)
    return page_number, title


def main() -> None:
    global BASE_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()

    titles: dict[int, str | None] = {}
    max_in_flight = 0
    rounds = 0
    with DemoSite(SiteSpec(pages=args.pages, latency=0.005)) as site:
        BASE_URL = site.url
        todo = iter(range(args.pages))
        with ThreadPoolExecutor(max_workers=args.in_flight) as executor:
            pending: set[Future[tuple[int, str | None]]] = {
                executor.submit(spider, n) for n in itertools.islice(todo, args.in_flight)
            }
            while pending:
                max_in_flight = max(max_in_flight, len(pending))
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                rounds += 1
                for future in done:
                    number, title = future.result()
                    titles[number] = title
                # Refill: one new task for each one that finished.
                for n in itertools.islice(todo, len(done)):
                    pending.add(executor.submit(spider, n))

    titles_ok = all(title == page_title(n) for n, title in titles.items())
    print(f"wait() returned {rounds} times")
    print(f"max in flight: {max_in_flight} (limit {args.in_flight})")
    print(f"titles ok: {titles_ok}")
    print(f"pages: {len(titles)}")


if __name__ == "__main__":
    main()
