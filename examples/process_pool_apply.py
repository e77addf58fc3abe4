"""multiprocessing.Pool: apply() against apply_async() with a callback and an error callback.

apply() blocks until its one task is done, so a loop of apply() calls fetches
one page at a time however many processes the pool has. apply_async() returns
at once; the pool calls `callback` with each result and `error_callback` with
each exception, in a result-handler thread of the parent. One URL that answers
404 is added to show the error path.
Run: python examples/process_pool_apply.py [--pages N] [--latency S] [--workers P]
"""

from __future__ import annotations

import multiprocessing
import threading

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse, report, sequential

_session: requests.Session | None = None  # one per pool process, made on first use


def spider(url: str) -> str:
    """Fetch and parse one page in a pool process; raises on a failed fetch."""
    global _session
    if _session is None:
        _session = requests.Session()
    return parse(fetch(_session, url), url)


def with_apply(site: Site, workers: int) -> Done:
    with multiprocessing.Pool(workers) as pool:
        keys = [pool.apply(spider, (url,)) for url in site.urls()]
    return Done(keys)


def with_apply_async(site: Site, workers: int) -> Done:
    keys: list[str] = []
    errors: list[str] = []
    # Both callbacks run in the pool's one result-handler thread; the lock guards the
    # two lists against the main thread reading them.
    lock = threading.Lock()

    def on_result(key: str) -> None:
        with lock:
            keys.append(key)

    def on_error(exc: BaseException) -> None:
        with lock:
            errors.append(f"{type(exc).__name__}: {str(exc).split(' for ')[0]}")

    with multiprocessing.Pool(workers) as pool:
        pending = [pool.apply_async(spider, (url,), callback=on_result, error_callback=on_error)
                   for url in [*site.urls(), site.url + "/missing/0"]]
        pool.close()
        pool.join()  # every callback has run once join() returns
    failed = sum(not result.successful() for result in pending)
    with lock:
        return Done(list(keys), {"callback results": len(keys),
                                 "error_callback": errors,
                                 "AsyncResult.successful() False": failed})


def main() -> None:
    args = arguments(__doc__, workers=8).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"Pool({args.workers}).apply, one call at a time",
                    lambda: with_apply(site, args.workers)),
            measure(f"Pool({args.workers}).apply_async + callbacks",
                    lambda: with_apply_async(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
