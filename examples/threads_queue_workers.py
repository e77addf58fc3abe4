"""threading.Thread by function and by subclass: workers pulling page URLs from a queue.Queue.

Both versions start --workers threads that take URLs from one queue until they
get a None sentinel, each thread with its own requests.Session (a Session is not
thread-safe). They differ only in how the thread's code is given: a target
function, or a run() method on a Thread subclass.
Run: python examples/threads_queue_workers.py [--pages N] [--latency S] [--workers T]
"""

from __future__ import annotations

import queue
import threading

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential


def drain(tasks: queue.Queue[str | None], results: list[str]) -> None:
    """Fetch and parse URLs from ``tasks`` until the None sentinel."""
    with requests.Session() as session:
        while (url := tasks.get()) is not None:
            results.append(fetch_and_parse(session, url))  # list.append is atomic


class Worker(threading.Thread):
    """The same worker as a Thread subclass: run() is what start() runs in the new thread."""

    def __init__(self, tasks: queue.Queue[str | None], results: list[str]) -> None:
        super().__init__()
        self.tasks = tasks
        self.results = results

    def run(self) -> None:
        drain(self.tasks, self.results)


def with_threads(site: Site, workers: int, subclass: bool) -> Done:
    # FIFO of the URLs still to fetch, then one None per worker; the Queue does
    # its own locking, so the workers share it without another lock.
    tasks: queue.Queue[str | None] = queue.Queue()
    results: list[str] = []
    if subclass:
        threads: list[threading.Thread] = [Worker(tasks, results) for _ in range(workers)]
    else:
        threads = [threading.Thread(target=drain, args=(tasks, results)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for url in site.urls():
        tasks.put(url)
    for _ in threads:
        tasks.put(None)  # one stop sentinel per worker
    for thread in threads:
        thread.join()
    alive = sum(thread.is_alive() for thread in threads)
    return Done(results, {f"threads alive after join ({'subclass' if subclass else 'target'})":
                          alive})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"{args.workers} Thread(target=...) + Queue",
                    lambda: with_threads(site, args.workers, subclass=False)),
            measure(f"{args.workers} Thread subclass + Queue",
                    lambda: with_threads(site, args.workers, subclass=True)),
        ])


if __name__ == "__main__":
    main()
