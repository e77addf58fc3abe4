"""ThreadPoolExecutor.map() against submit() + as_completed().

map() yields results in the order the pages were given, so one slow page holds
back every result after it; as_completed() yields each future as soon as it
finishes. Both fetch the same pages; the order they hand them back differs.
Run: python examples/threadpool_map_vs_as_completed.py [--pages N] [--latency S] [--workers W]
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential

_local = threading.local()  # one requests.Session per pool thread


def spider(url: str) -> str:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return fetch_and_parse(_local.session, url)


def page_number(key: str) -> int:
    return int(key.split(" | ", 1)[0].rsplit("/", 1)[1])


def with_map(site: Site, workers: int) -> Done:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        keys = list(executor.map(spider, site.urls()))
    order = [page_number(key) for key in keys]
    return Done(keys, {"map order (first 10)": order[:10],
                       "map order is page order": order == sorted(order)})


def with_as_completed(site: Site, workers: int) -> Done:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(spider, url) for url in site.urls()]
        keys = [future.result() for future in as_completed(futures)]
    order = [page_number(key) for key in keys]
    return Done(keys, {"as_completed order (first 10)": order[:10]})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"ThreadPoolExecutor({args.workers}).map",
                    lambda: with_map(site, args.workers)),
            measure(f"ThreadPoolExecutor({args.workers}) as_completed",
                    lambda: with_as_completed(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
