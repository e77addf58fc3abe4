"""``threaded``: N ``threading.Thread`` workers pulling from one ``queue.Queue``.

Each worker owns its requests.Session (sessions are not shared between
threads), fetches, runs the shared processor in its own thread, and hands the
outcome back. A ``threading.Event`` tells the workers to stop.
"""

from __future__ import annotations

import queue
import threading
from typing import ClassVar

from ..http import sync as http_sync
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .base import OutcomeQueue, failed_outcome


class _Worker(threading.Thread):
    def __init__(self, owner: ThreadedFetcher, index: int) -> None:
        super().__init__(name=f"crawlkit-worker-{index}", daemon=True)
        self.owner = owner

    def run(self) -> None:
        owner = self.owner
        session = http_sync.new_session(owner.settings, pool_size=1)
        try:
            while not owner.stopping.is_set():
                request = owner.requests.get()
                if request is None:
                    break
                with owner.lock:
                    owner.busy += 1
                try:
                    outcome = owner.processor(http_sync.fetch(session, request, owner.settings))
                except Exception as exc:
                    outcome = failed_outcome(owner.processor, request, exc)
                finally:
                    with owner.lock:
                        owner.busy -= 1
                        owner.done += 1
                owner.outcomes.put(outcome)
        finally:
            session.close()


class ThreadedFetcher:
    """Hand-rolled thread workers: Thread subclass, Queue, Lock and Event."""

    name: ClassVar[str] = "threaded"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "requests"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self.settings = settings
        self.processor = processor
        # requests waiting for a free worker; None tells one worker to exit
        self.requests: queue.Queue[Request | None] = queue.Queue()
        self.outcomes = OutcomeQueue()
        # set once by close(): workers finish the request in hand and exit
        self.stopping = threading.Event()
        # protects busy and done, which every worker updates
        self.lock = threading.Lock()
        self.busy = 0
        self.done = 0
        self.threads = [_Worker(self, i) for i in range(settings.effective_concurrency)]
        for thread in self.threads:
            thread.start()

    def submit(self, request: Request) -> None:
        self.requests.put(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self.outcomes.drain(timeout)

    def close(self) -> None:
        self.stopping.set()
        for _ in self.threads:
            self.requests.put(None)
        for thread in self.threads:
            thread.join(timeout=self.settings.timeout + 1)
