"""``threadpool``: ``concurrent.futures.ThreadPoolExecutor``, submit + as_completed.

Each submitted future fetches and processes one page in a pool thread; the
engine collects finished futures through ``as_completed``, the stream of futures
in the order they finish: :meth:`ThreadPoolFetcher.completed` waits on it for the
first, then reads on while it yields futures already finished.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import ClassVar

import requests

from ..http import sync as http_sync
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .base import failed_outcome


class ThreadPoolFetcher:
    """A pool of ``concurrency`` threads, one requests.Session per pool thread."""

    name: ClassVar[str] = "threadpool"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "requests"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self._settings = settings
        self._processor = processor
        self._pool = ThreadPoolExecutor(
            max_workers=settings.effective_concurrency, thread_name_prefix="crawlkit-pool"
        )
        # each pool thread lazily creates its own Session here (sessions are not thread-safe)
        self._local = threading.local()
        # futures submitted and not yet returned by completed(); engine thread only
        self._pending: set[Future[Outcome]] = set()
        self._sessions: list[requests.Session] = []
        # protects _sessions, appended to from pool threads
        self._sessions_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = http_sync.new_session(self._settings, pool_size=1)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _work(self, request: Request) -> Outcome:
        try:
            return self._processor(http_sync.fetch(self._session(), request, self._settings))
        except BaseException as exc:  # SystemExit too: the future must hold an outcome
            return failed_outcome(self._processor, request, exc)

    def submit(self, request: Request) -> None:
        self._pending.add(self._pool.submit(self._work, request))

    def _finished(self, timeout: float | None) -> Iterator[Future[Outcome]]:
        """The pending futures as they finish, until ``timeout`` (0: those finished
        now) has passed; each leaves the pending set as it is yielded."""
        try:
            for future in as_completed(self._pending, timeout):  # a copy: we may remove
                self._pending.discard(future)
                yield future
        except FuturesTimeout:
            return

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        first = next(self._finished(timeout), None)  # waits for the first to finish
        if first is None:
            return []
        return [first.result(), *(future.result() for future in self._finished(0))]

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
