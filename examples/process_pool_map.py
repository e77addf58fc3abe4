"""multiprocessing.Pool: map, map_async, imap and imap_unordered over the same pages.

map() blocks and returns a list in page order; map_async() returns an
AsyncResult at once (the caller can do other work, then get()); imap() yields
results in page order as they come; imap_unordered() yields them in the order
they finish. All four split the pages into chunks of --chunksize per task.
Run: python examples/process_pool_map.py [--pages N] [--latency S] [--workers P]
"""

from __future__ import annotations

import multiprocessing

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential

_session: requests.Session | None = None  # one per pool process, made on first use


def spider(url: str) -> str:
    global _session
    if _session is None:
        _session = requests.Session()
    return fetch_and_parse(_session, url)


def page_number(key: str) -> int:
    return int(key.split(" | ", 1)[0].rsplit("/", 1)[1])


def with_pool(site: Site, workers: int, how: str, chunksize: int) -> Done:
    with multiprocessing.Pool(workers) as pool:
        if how == "map":
            keys = pool.map(spider, site.urls(), chunksize)
        elif how == "map_async":
            result = pool.map_async(spider, site.urls(), chunksize)
            keys = result.get(timeout=600)
        elif how == "imap":
            keys = list(pool.imap(spider, site.urls(), chunksize))
        else:
            keys = list(pool.imap_unordered(spider, site.urls(), chunksize))
    order = [page_number(key) for key in keys]
    return Done(keys, {f"{how} order (first 10)": order[:10]})


def main() -> None:
    parser = arguments(__doc__, workers=8)
    parser.add_argument("--chunksize", type=int, default=1, help="pages per pool task")
    args = parser.parse_args()
    with demo_site(args) as site:
        runs = [measure("sequential", lambda: sequential(site))]
        for how in ("map", "map_async", "imap", "imap_unordered"):
            runs.append(measure(f"Pool({args.workers}).{how}",
                                lambda how=how: with_pool(site, args.workers, how,  # type: ignore[misc]
                                                          args.chunksize)))
        report(runs)


if __name__ == "__main__":
    main()
