"""concurrent.futures.wait(): FIRST_COMPLETED for a sliding window, a timeout for
progress reports, ALL_COMPLETED at the end.

At most --workers pages are submitted at once; wait(FIRST_COMPLETED) returns as
soon as one finishes, and the loop submits the next page in its place, so the
pool never holds the whole crawl. A wait(timeout=...) that returns with futures
still pending is how the loop notices time passing. The final
wait(ALL_COMPLETED) must leave nothing pending.
Run: python examples/threadpool_wait.py [--pages N] [--latency S] [--workers W]
"""

from __future__ import annotations

import threading
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential

_local = threading.local()  # one requests.Session per pool thread


def spider(url: str) -> str:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return fetch_and_parse(_local.session, url)


def with_wait(site: Site, workers: int) -> Done:
    todo = site.urls()
    keys: list[str] = []
    rounds = timeouts = 0
    with ThreadPoolExecutor(max_workers=workers) as executor:
        pending: set[Future[str]] = set()
        while todo:
            while todo and len(pending) < workers:
                pending.add(executor.submit(spider, todo.pop(0)))
            # a timeout shorter than one response: some waits come back empty-handed
            finished, pending = wait(pending, timeout=0.02, return_when=FIRST_COMPLETED)
            rounds += 1
            if not finished:
                timeouts += 1  # nothing done yet: the place to print progress
            keys += [future.result() for future in finished]
        finished, still = wait(pending, return_when=ALL_COMPLETED)  # the last window
        keys += [future.result() for future in finished]
    return Done(keys, {
        "wait(FIRST_COMPLETED) rounds": rounds,
        "of which timed out with nothing done": timeouts,
        "wait(ALL_COMPLETED) left not done": len(still),
    })


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"ThreadPoolExecutor({args.workers}), wait window",
                    lambda: with_wait(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
