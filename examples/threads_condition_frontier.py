"""threading.Condition: a bounded frontier between one producer and many fetchers.

A producer thread offers page URLs (as a sitemap reader or a link extractor
would) into a frontier that holds at most --capacity URLs: put() waits on the
Condition while it is full, get() waits while it is empty, and each side
notifies the other. Memory stays bounded however fast the producer is.
Run: python examples/threads_condition_frontier.py [--pages N] [--latency S] [--workers T]
"""

from __future__ import annotations

import threading
from collections import deque

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential


class BoundedFrontier:
    """A FIFO of at most ``capacity`` URLs; close() says no more will come."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # Guards `urls`, `closed` and the counters; waiters sleep on it until notified.
        self.changed = threading.Condition()
        self.urls: deque[str] = deque()
        self.closed = False
        self.peak = 0
        self.producer_waits = 0

    def put(self, url: str) -> None:
        with self.changed:
            while len(self.urls) >= self.capacity:
                self.producer_waits += 1
                self.changed.wait()
            self.urls.append(url)
            self.peak = max(self.peak, len(self.urls))
            self.changed.notify_all()

    def get(self) -> str | None:
        """The next URL, or None once the frontier is closed and empty."""
        with self.changed:
            while not self.urls and not self.closed:
                self.changed.wait()
            if not self.urls:
                return None
            url = self.urls.popleft()
            self.changed.notify_all()
            return url

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()


def fetcher(frontier: BoundedFrontier, keys: list[str]) -> None:
    with requests.Session() as session:
        while (url := frontier.get()) is not None:
            keys.append(fetch_and_parse(session, url))


def producer(site: Site, frontier: BoundedFrontier) -> None:
    for url in site.urls():
        frontier.put(url)
    frontier.close()


def with_condition(site: Site, workers: int, capacity: int) -> Done:
    frontier = BoundedFrontier(capacity)
    keys: list[str] = []
    threads = [threading.Thread(target=fetcher, args=(frontier, keys)) for _ in range(workers)]
    threads.append(threading.Thread(target=producer, args=(site, frontier)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Done(keys, {
        "frontier peak": f"{frontier.peak} (capacity {capacity})",
        "producer waited for room": f"{frontier.producer_waits} times",
    })


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--capacity", type=int, default=4, help="URLs the frontier holds")
    args = parser.parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"{args.workers} fetchers, Condition frontier of {args.capacity}",
                    lambda: with_condition(site, args.workers, args.capacity)),
        ])


if __name__ == "__main__":
    main()
