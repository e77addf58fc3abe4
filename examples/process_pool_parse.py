"""ProcessPoolExecutor with callbacks: threads fetch, processes parse.

A crawl whose parse costs CPU (crawlkit's parse stage plus a BeautifulSoup walk
over 100 KB pages) done three ways: one page at a time; --workers threads that
fetch and parse (the parse holds the GIL, so the threads take turns); and
threads that only fetch, handing each page to a ProcessPoolExecutor of
--processes workers whose futures report back through add_done_callback().
Run: python examples/process_pool_parse.py [--pages N] [--latency S] [--processes P]
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse_heavy, report

_local = threading.local()  # one requests.Session per fetching thread


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session  # type: ignore[no-any-return]


def sequential_heavy(site: Site) -> list[str]:
    with requests.Session() as one:
        return [parse_heavy(fetch(one, url), url) for url in site.urls()]


def fetch_and_parse_heavy(url: str) -> str:
    return parse_heavy(fetch(session(), url), url)


def threads_only(site: Site, workers: int) -> Done:
    with ThreadPoolExecutor(max_workers=workers) as threads:
        return Done(list(threads.map(fetch_and_parse_heavy, site.urls())))


def threads_and_processes(site: Site, workers: int, processes: int) -> Done:
    keys: list[str] = []
    # Callbacks run in the executor's result thread; the lock guards `keys` against
    # the main thread reading it at the end.
    lock = threading.Lock()

    def on_parsed(future: Future[str]) -> None:
        with lock:
            keys.append(future.result())

    with ProcessPoolExecutor(max_workers=processes) as parsers:
        def fetch_then_submit(url: str) -> None:
            parsers.submit(parse_heavy, fetch(session(), url), url).add_done_callback(on_parsed)

        with ThreadPoolExecutor(max_workers=workers) as fetchers:
            list(fetchers.map(fetch_then_submit, site.urls()))
    # leaving the ProcessPoolExecutor waited for every parse and its callback
    with lock:
        return Done(list(keys), {"parsed in processes, reported by callback": len(keys)})


def main() -> None:
    parser = arguments(__doc__, page_bytes=100_000)
    parser.add_argument("--processes", type=int, default=2, help="parse processes")
    args = parser.parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential, fetch then parse", lambda: sequential_heavy(site)),
            measure(f"{args.workers} threads fetch and parse",
                    lambda: threads_only(site, args.workers)),
            measure(f"{args.workers} threads fetch, {args.processes} processes parse",
                    lambda: threads_and_processes(site, args.workers, args.processes)),
        ])


if __name__ == "__main__":
    main()
