"""threading.Semaphore: one thread per page, at most --workers fetches in flight.

Starting a thread per page is the simplest code, but it sends every request at
once. A Semaphore of --workers slots bounds the requests in flight (as a polite
crawler must) while the threads still exist; the table shows both versions and
what the unbounded one costs in memory.
Run: python examples/threads_semaphore.py [--pages N] [--latency S] [--workers T]
"""

from __future__ import annotations

import threading

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential


class InFlight:
    """Counts requests in flight and remembers the most at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # protects `now` and `most`
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def one_page(url: str, slots: threading.Semaphore | None, in_flight: InFlight,
             keys: list[str]) -> None:
    if slots is None:
        with in_flight, requests.Session() as session:
            keys.append(fetch_and_parse(session, url))
        return
    with slots, in_flight, requests.Session() as session:  # wait for a free slot first
        keys.append(fetch_and_parse(session, url))


def thread_per_page(site: Site, bound: int | None) -> Done:
    # Slots for requests in flight: acquire before the fetch, release after it.
    slots = threading.Semaphore(bound) if bound else None
    in_flight = InFlight()
    keys: list[str] = []
    threads = [threading.Thread(target=one_page, args=(url, slots, in_flight, keys))
               for url in site.urls()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    name = f"Semaphore({bound})" if bound else "no bound"
    return Done(keys, {f"most requests in flight, {name}": in_flight.most})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure("a thread per page, no bound", lambda: thread_per_page(site, None)),
            measure(f"a thread per page, Semaphore({args.workers})",
                    lambda: thread_per_page(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
