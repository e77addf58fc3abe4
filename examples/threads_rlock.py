"""threading.RLock: a re-entrant frontier shared by threads that discover pages.

The crawl starts at page 0 and follows page links. The frontier's add_all()
holds the lock while it offers a page's links one by one through add(), which
takes the same lock again: with a plain Lock the thread would wait for itself
forever; an RLock lets its owner re-enter. Termination comes from the queue's
own count: every URL put is marked done after its links were offered, so
join() returns when no URL is queued or being worked on.
Run: python examples/threads_rlock.py [--pages N] [--latency S] [--workers T]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

import requests
from _tutorial import (
    Done,
    Site,
    arguments,
    demo_site,
    fetch,
    measure,
    parse_links,
    report,
    sequential_follow,
)


class Frontier:
    """URLs seen so far and the queue of those still to fetch."""

    def __init__(self) -> None:
        # Protects `seen` and `offered`; re-entrant because add_all() calls add().
        self.lock = threading.RLock()
        self.seen: set[str] = set()
        self.offered = 0
        # URLs to fetch, then one None per worker; thread-safe on its own.
        self.todo: queue.Queue[str | None] = queue.Queue()

    def add(self, url: str) -> bool:
        """Queue ``url`` unless it was seen; True when it was new."""
        with self.lock:
            self.offered += 1
            if url in self.seen:
                return False
            self.seen.add(url)
            self.todo.put(url)
            return True

    def add_all(self, urls: Iterable[str]) -> int:
        """Queue the new ones among ``urls``, as one step for the other threads."""
        with self.lock:
            return sum(self.add(url) for url in urls)


def worker(site: Site, frontier: Frontier, keys: list[str]) -> None:
    with requests.Session() as session:
        while (url := frontier.todo.get()) is not None:
            try:
                key, links = parse_links(fetch(session, url), url)
                keys.append(key)
                frontier.add_all(site.pages_among(links))
            except requests.RequestException as exc:
                keys.append(f"{url} | failed: {type(exc).__name__}")
            finally:
                frontier.todo.task_done()


def with_threads(site: Site, workers: int) -> Done:
    frontier = Frontier()
    keys: list[str] = []
    frontier.add(site.page(0))
    threads = [threading.Thread(target=worker, args=(site, frontier, keys))
               for _ in range(workers)]
    for thread in threads:
        thread.start()
    frontier.todo.join()  # every URL queued was fetched and its links offered
    for _ in threads:
        frontier.todo.put(None)
    for thread in threads:
        thread.join()
    return Done(keys, {"links offered to the RLock frontier": frontier.offered,
                       "new pages among them": len(frontier.seen)})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential, following links", lambda: sequential_follow(site)),
            measure(f"{args.workers} threads, RLock frontier",
                    lambda: with_threads(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
