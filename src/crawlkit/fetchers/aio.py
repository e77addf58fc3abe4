"""``async``: asyncio + one aiohttp.ClientSession on an event loop.

All fetching happens on one event loop (in a background thread of its own), so
a slow page never stalls the sockets; parsing and the spider run in the
engine's thread, on the fetch results the loop hands over in batches. A page
thus crosses one thread boundary, once, and the engine's bookkeeping and the
parse share a thread instead of contending for the GIL with a third one.
"""

from __future__ import annotations

import time
from collections import deque
from typing import ClassVar

from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .aio_runner import AiohttpRunner

PARSE_SLICE = 0.02
"""Seconds of parsing one :meth:`AsyncFetcher.completed` call may spend before it
returns what it has, so the engine commits those pages and refills the loop
while the rest of a large batch waits its turn."""


def _failed(request: Request, exc: BaseException) -> FetchResult:
    return FetchResult(request, None, {}, b"", f"internal error: {type(exc).__name__}: {exc}")


class AsyncFetcher:
    """Up to ``concurrency`` aiohttp requests in flight on one event loop."""

    name: ClassVar[str] = "async"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "aiohttp"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self._processor = processor
        # fetched and not yet processed; the engine's thread only
        self._fetched: deque[FetchResult] = deque()
        self._runner: AiohttpRunner[FetchResult] = AiohttpRunner(settings, None, _failed)

    def submit(self, request: Request) -> None:
        self._runner.submit(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        fetched = self._fetched
        fetched.extend(self._runner.ready.drain(0.0 if fetched else timeout))
        process, outcomes = self._processor, []
        until = time.perf_counter() + PARSE_SLICE
        while fetched:
            outcomes.append(process(fetched.popleft()))
            if time.perf_counter() > until:
                break
        return outcomes

    def close(self) -> None:
        self._runner.close()
