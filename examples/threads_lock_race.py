"""threading.Lock: a shared tally of pages and bytes that loses updates without the lock.

Workers stream each page in 4 KB chunks and add every chunk to a shared tally
with a read-modify-write: read the totals, do a little I/O (here sleep(0), which
lets another thread run, as a log write or a socket read would), write the totals
back. Without the lock two threads read the same old totals and one update is
lost; with the lock the tally equals the true total, counted by each thread alone.
Run: python examples/threads_lock_race.py [--pages N] [--latency S] [--workers T]
"""

from __future__ import annotations

import queue
import threading
import time

import requests
from _tutorial import Done, Site, arguments, demo_site, measure, parse, report, sequential


class Tally:
    """Pages and bytes fetched so far, shared by every worker."""

    def __init__(self, locked: bool) -> None:
        # Protects `pages` and `bytes`: each update reads both, yields, writes both.
        self.lock = threading.Lock()
        self.locked = locked
        self.pages = 0
        self.bytes = 0

    def add(self, pages: int, nbytes: int) -> None:
        if self.locked:
            with self.lock:
                self._add(pages, nbytes)
        else:
            self._add(pages, nbytes)

    def _add(self, pages: int, nbytes: int) -> None:
        old_pages, old_bytes = self.pages, self.bytes
        time.sleep(0)  # any I/O here lets another thread read the same old totals
        self.pages, self.bytes = old_pages + pages, old_bytes + nbytes


def worker(tasks: queue.Queue[str | None], tally: Tally, keys: list[str],
           true_bytes: list[int]) -> None:
    mine = 0  # this thread's own count: no other thread touches it
    with requests.Session() as session:
        while (url := tasks.get()) is not None:
            with session.get(url, stream=True, timeout=30) as response:
                body = b""
                for chunk in response.iter_content(4096):
                    body += chunk
                    mine += len(chunk)
                    tally.add(0, len(chunk))
            tally.add(1, 0)
            keys.append(parse(body.decode("utf-8"), url))
    true_bytes.append(mine)


def with_tally(site: Site, workers: int, locked: bool) -> Done:
    tasks: queue.Queue[str | None] = queue.Queue()  # URLs to fetch, then stop sentinels
    tally = Tally(locked)
    keys: list[str] = []
    true_bytes: list[int] = []
    threads = [threading.Thread(target=worker, args=(tasks, tally, keys, true_bytes))
               for _ in range(workers)]
    for thread in threads:
        thread.start()
    for url in site.urls():
        tasks.put(url)
    for _ in threads:
        tasks.put(None)
    for thread in threads:
        thread.join()
    how = "with the lock" if locked else "without the lock"
    return Done(keys, {
        f"{how}: pages counted": f"{tally.pages} of {len(keys)}",
        f"{how}: bytes counted": f"{tally.bytes} of {sum(true_bytes)}",
    })


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"{args.workers} threads, tally without a Lock",
                    lambda: with_tally(site, args.workers, locked=False)),
            measure(f"{args.workers} threads, tally with a Lock",
                    lambda: with_tally(site, args.workers, locked=True)),
        ])


if __name__ == "__main__":
    main()
