"""threading.Event: stop every worker once one of them found what the crawl is for.

The crawl looks for the page titled "Demo page K" (--find K). Workers take
pages in order from a queue and check the Event before each fetch; the one that
finds the page sets it, and the others stop after the fetch they are doing. The
sequential baseline simply breaks out of its loop. Both find the same page; the
threads fetch a few pages too many, those already in flight.
Run: python examples/threads_event_stop.py [--pages N] [--find K] [--workers T]
"""

from __future__ import annotations

import queue
import threading

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report


def is_target(key: str, target: int) -> bool:
    """Whether a page's key carries the title looked for ("Demo page K — crawlkit")."""
    return f"| Demo page {target} —" in key


def sequential_search(site: Site, target: int) -> Done:
    keys: list[str] = []
    with requests.Session() as session:
        for url in site.urls():
            keys.append(fetch_and_parse(session, url))
            if is_target(keys[-1], target):
                return Done(keys, compare=[keys[-1]])
    return Done(keys, compare=[])


def worker(todo: queue.Queue[str], found: threading.Event, target: int,
           keys: list[str], answer: list[str]) -> None:
    with requests.Session() as session:
        while not found.is_set():
            try:
                url = todo.get_nowait()
            except queue.Empty:
                return
            key = fetch_and_parse(session, url)
            keys.append(key)
            if is_target(key, target):
                answer.append(key)
                found.set()  # wakes found.wait() and stops the other workers' loops


def threaded_search(site: Site, workers: int, target: int) -> Done:
    todo: queue.Queue[str] = queue.Queue()  # page URLs in order; thread-safe on its own
    for url in site.urls():
        todo.put(url)
    found = threading.Event()  # set once, by the worker that finds the page
    keys: list[str] = []
    answer: list[str] = []
    threads = [threading.Thread(target=worker, args=(todo, found, target, keys, answer))
               for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Done(keys, {"found by the threads": answer[0].split(" | ")[1] if answer else None,
                       "pages fetched beyond the sequential count": len(keys) - target - 1},
                compare=answer)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--find", type=int, default=None,
                        help="the page to look for (default: three quarters in)")
    args = parser.parse_args()
    target = args.find if args.find is not None else args.pages * 3 // 4
    with demo_site(args) as site:
        report([
            measure("sequential, break when found", lambda: sequential_search(site, target)),
            measure(f"{args.workers} threads, Event to stop",
                    lambda: threaded_search(site, args.workers, target)),
        ])


if __name__ == "__main__":
    main()
