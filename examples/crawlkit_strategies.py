"""From the tutorial to crawlkit: the same pages through crawlkit.crawl() in every strategy.

Each strategy is one of the tutorial's patterns behind crawlkit's engine:
`threaded` is Thread workers + Queue + Lock + Event, `threadpool` a
ThreadPoolExecutor with as_completed, `multiprocess` aiohttp plus a
ProcessPoolExecutor for parsing, `async` asyncio + aiohttp, `gevent` a
monkey-patched greenlet pool in a child process. The baseline is `sync`, one
page at a time. The keys come from the default spider's records (URL, title,
link count), so they must equal those of the tutorial's own parse. Seconds
include each strategy's start-up (threads, processes, the robots.txt fetch).
Run: python examples/crawlkit_strategies.py [--pages N] [--latency S] [--workers C]
"""

from __future__ import annotations

from _tutorial import Done, Site, arguments, demo_site, measure, report

import crawlkit


def with_crawlkit(site: Site, mode: str, concurrency: int) -> Done:
    result = crawlkit.crawl(site.urls(), mode=mode, concurrency=concurrency,
                            per_host=concurrency)
    keys = [f"{item['url']} | {item['title']} | {item['links']} links" if not item["error"]
            else f"{item['url']} | failed: {item['error']}" for item in result]
    return Done(keys)


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        runs = [measure("crawlkit sync (the baseline)", lambda: with_crawlkit(site, "sync", 1))]
        for mode in crawlkit.MODES:
            if mode != "sync":
                runs.append(measure(f"crawlkit {mode}, concurrency {args.workers}",
                                    lambda mode=mode: with_crawlkit(  # type: ignore[misc]
                                        site, mode, args.workers)))
        report(runs)


if __name__ == "__main__":
    main()
