"""threading.Thread subclass workers, a queue.Queue of page numbers and a Lock.

Starts the demo site on 127.0.0.1; N worker threads pull page numbers from a
queue, fetch and parse each page, and add to a shared counter of pages and bytes
guarded by a threading.Lock. The counter is checked against the page count.
Run: python examples/thread_subclass_lock.py [--pages N] [--threads T]
"""

from __future__ import annotations

import argparse
import queue
import threading

import requests

from crawlkit.lab.demo import DemoSite, SiteSpec, page_title
from crawlkit.parse import extract


class Counter:
    """Pages and bytes fetched so far, shared by all workers."""

    def __init__(self) -> None:
        # Protects `pages` and `bytes` together: `x += 1` is a read-modify-write
        # that two threads can interleave, and the two fields must move as a pair.
        self.lock = threading.Lock()
        self.pages = 0
        self.bytes = 0

    def add(self, nbytes: int) -> None:
        with self.lock:
            self.pages += 1
            self.bytes += nbytes


class Worker(threading.Thread):
    """Takes page numbers from `tasks` until it gets the None sentinel."""

    def __init__(self, base_url: str, tasks: queue.Queue[int | None], counter: Counter) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.tasks = tasks
        self.counter = counter
        self.session = requests.Session()  # one per thread: Session is not thread-safe
        self.bad_titles = 0
        self.errors = 0

    def run(self) -> None:
        with self.session:
            while True:
                page_number = self.tasks.get()
                try:
                    if page_number is None:
                        return
                    self.spider(page_number)
                except requests.RequestException:
                    self.errors += 1  # keep the worker alive; the check below will fail
                finally:
                    self.tasks.task_done()

    def spider(self, page_number: int) -> None:
        url = f"{self.base_url}/page/{page_number}"
        response = self.session.get(url, timeout=10)
        response.raise_for_status()
        title, _links = extract(response.text, url)
        if title != page_title(page_number):
            self.bad_titles += 1
        self.counter.add(len(response.content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    counter = Counter()
    tasks: queue.Queue[int | None] = queue.Queue()
    with DemoSite(SiteSpec(pages=args.pages)) as site:
        workers = [Worker(site.url, tasks, counter) for _ in range(args.threads)]
        for worker in workers:
            worker.start()
        for n in range(args.pages):
            tasks.put(n)
        for _ in workers:
            tasks.put(None)  # one stop sentinel per worker
        for worker in workers:
            worker.join(timeout=60)

    bad_titles = sum(w.bad_titles for w in workers)
    print(f"{args.threads} threads fetched {counter.bytes} bytes")
    print(f"fetch errors: {sum(w.errors for w in workers)}, bad titles: {bad_titles}")
    print(f"counter matches: {counter.pages == args.pages}")
    print(f"pages: {counter.pages}")


if __name__ == "__main__":
    main()
