"""multiprocessing.Manager: a dict of seen URLs shared by processes that discover pages,
set against a plain local set.

Processes crawl from page 0 and follow page links. A JoinableQueue is the shared
frontier; a Manager dict says which URLs some process already queued. Every
access to the dict is a round trip to the manager's server process, so each
process first checks its own local set (free) and asks the dict only about links
it has not offered before. The notes show what one round trip costs.
Run: python examples/process_manager_seen.py [--pages N] [--latency S] [--workers P]
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import MutableMapping
from multiprocessing.managers import DictProxy

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


def worker(site: Site, todo: multiprocessing.JoinableQueue[str | None],
           seen: MutableMapping[str, int], keys: multiprocessing.Queue[str],
           asked: multiprocessing.Queue[int]) -> None:
    me = os.getpid()
    offered: set[str] = set()  # links this process already offered: no round trip needed
    round_trips = 0
    with requests.Session() as session:
        while (url := todo.get()) is not None:
            try:
                key, links = parse_links(fetch(session, url), url)
                for link in site.pages_among(links):
                    if link in offered:
                        continue
                    offered.add(link)
                    round_trips += 1
                    # setdefault runs in the manager process, one call at a time: the
                    # process that gets its own pid back is the one that queues the link
                    if seen.setdefault(link, me) == me:
                        todo.put(link)
                keys.put(key)
            except requests.RequestException as exc:
                keys.put(f"{url} | failed: {type(exc).__name__}")
            finally:
                todo.task_done()
    asked.put(round_trips)


def cost_per_call(seen: MutableMapping[str, int], calls: int = 2000) -> float:
    started = time.perf_counter()
    for k in range(calls):
        seen.setdefault(f"u{k}", 1)
    return (time.perf_counter() - started) / calls * 1e6


def with_manager(site: Site, workers: int) -> Done:
    with multiprocessing.Manager() as manager:
        seen: DictProxy[str, int] = manager.dict()
        # The frontier: URLs to fetch, then one None per worker. It counts unfinished
        # tasks across processes, so join() returns when the crawl has nothing left.
        todo: multiprocessing.JoinableQueue[str | None] = multiprocessing.JoinableQueue()
        keys: multiprocessing.Queue[str] = multiprocessing.Queue()  # one key per page
        asked: multiprocessing.Queue[int] = multiprocessing.Queue()  # round trips per worker
        seen[site.page(0)] = 0
        todo.put(site.page(0))
        processes = [multiprocessing.Process(target=worker, args=(site, todo, seen, keys, asked))
                     for _ in range(workers)]
        for process in processes:
            process.start()
        todo.join()
        for _ in processes:
            todo.put(None)
        round_trips = sum(asked.get(timeout=60) for _ in processes)
        found = [keys.get(timeout=60) for _ in range(len(seen))]
        for process in processes:
            process.join()
        proxy_us = cost_per_call(manager.dict())
    local_us = cost_per_call({})
    return Done(found, {
        "round trips to the Manager dict during the crawl": round_trips,
        "Manager dict setdefault": f"{proxy_us:.1f} us per call",
        "local set/dict setdefault": f"{local_us:.2f} us per call "
                                     f"({proxy_us / local_us:.0f}x cheaper)",
    })


def main() -> None:
    args = arguments(__doc__, workers=8).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential, local set", lambda: sequential_follow(site)),
            measure(f"{args.workers} processes, Manager dict + Queue",
                    lambda: with_manager(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
