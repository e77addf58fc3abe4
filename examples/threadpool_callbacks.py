"""ThreadPoolExecutor with submit(), future.done() and add_done_callback().

One task per page is submitted; callbacks collect the results (and the errors)
as the futures finish, while the main thread polls future.done() to report
progress. The crawl also submits one URL that answers 404, to show the error
path: the callback finds the exception on the future.
Run: python examples/threadpool_callbacks.py [--pages N] [--latency S] [--workers W]
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse, report, sequential

_local = threading.local()  # one requests.Session per pool thread


def spider(url: str) -> str:
    """Fetch and parse one page; raises on a failed fetch."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return parse(fetch(_local.session, url), url)


def with_callbacks(site: Site, workers: int) -> Done:
    keys: list[str] = []
    errors: list[str] = []
    # Callbacks run in the pool thread that finished the future (or here, when it was
    # already done): this lock guards `keys` and `errors` across them.
    lock = threading.Lock()

    def on_done(future: Future[str]) -> None:
        exc = future.exception()
        with lock:
            if exc is None:
                keys.append(future.result())
            else:
                errors.append(type(exc).__name__)

    polls = 0
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(spider, url) for url in [*site.urls(), site.url + "/missing/0"]]
        for future in futures:
            future.add_done_callback(on_done)
        while not all(future.done() for future in futures):
            polls += 1
            time.sleep(0.01)
    return Done(keys, {"polled future.done()": f"{polls} times",
                       "callbacks with a result": len(keys),
                       "callbacks with an exception": ", ".join(errors)})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"ThreadPoolExecutor({args.workers}) submit + callback",
                    lambda: with_callbacks(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
