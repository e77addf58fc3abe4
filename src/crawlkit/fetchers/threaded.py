"""``threaded``: N ``threading.Thread`` workers taking requests from a hand-off
guarded by one ``threading.Condition``.

Each worker owns its requests.Session (sessions are not shared between
threads), fetches, runs the shared processor in its own thread, and hands the
outcome back. The hand-off holds the requests waiting for a free worker and the
order to stop, under one Condition: a worker waits on it until there is a request
to take or the crawl is closing, so one primitive replaces a queue, a stop event
and one sentinel per worker. It is bounded by the engine, which never keeps more
than N requests in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import ClassVar

from ..http import sync as http_sync
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .base import OutcomeQueue, failed_outcome


class HandOff:
    """Requests on their way from the engine's thread to the worker threads."""

    def __init__(self) -> None:
        # protects _waiting and _closed; workers wait on it for either to change
        self._changed = threading.Condition()
        self._waiting: deque[Request] = deque()
        self._closed = False

    def put(self, request: Request) -> None:
        """Called by the engine: wake one idle worker for ``request``."""
        with self._changed:
            self._waiting.append(request)
            self._changed.notify()

    def take(self) -> Request | None:
        """Called by a worker: the next request, waiting for one; ``None`` once closed
        (requests still waiting then are abandoned)."""
        with self._changed:
            self._changed.wait_for(lambda: self._waiting or self._closed)
            return None if self._closed else self._waiting.popleft()

    def close(self) -> None:
        """Wake every worker, for good."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class _Worker(threading.Thread):
    def __init__(self, owner: ThreadedFetcher, index: int) -> None:
        super().__init__(name=f"crawlkit-worker-{index}", daemon=True)
        self.owner = owner

    def run(self) -> None:
        owner = self.owner
        session = http_sync.new_session(owner.settings, pool_size=1)
        try:
            while (request := owner.requests.take()) is not None:
                try:
                    outcome = owner.processor(http_sync.fetch(session, request, owner.settings))
                except BaseException as exc:  # SystemExit too: this thread must live on
                    outcome = failed_outcome(owner.processor, request, exc)
                owner.outcomes.put(outcome)
        finally:
            session.close()


class ThreadedFetcher:
    """Hand-rolled thread workers: Thread subclass, a Condition hand-off, and a
    queue of outcomes back."""

    name: ClassVar[str] = "threaded"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "requests"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self.settings = settings
        self.processor = processor
        self.requests = HandOff()
        self.outcomes = OutcomeQueue()
        self.threads = [_Worker(self, i) for i in range(settings.effective_concurrency)]
        for thread in self.threads:
            thread.start()

    def submit(self, request: Request) -> None:
        self.requests.put(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self.outcomes.drain(timeout)

    def close(self) -> None:
        self.requests.close()  # each worker finishes the request in hand and exits
        for thread in self.threads:
            thread.join(timeout=self.settings.timeout + 1)
