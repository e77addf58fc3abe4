"""``async``: asyncio + one aiohttp.ClientSession on an event loop.

All fetching happens on one event loop (in a background thread of its own);
parsing and the spider run on a single parse thread, never on the loop, so a
slow page never stalls the sockets.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .aio_runner import AiohttpRunner
from .base import failed_outcome


class AsyncFetcher:
    """Up to ``concurrency`` aiohttp requests in flight on one event loop."""

    name: ClassVar[str] = "async"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "aiohttp"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self._processor = processor
        self._parse = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawlkit-parse")
        self._runner = AiohttpRunner(
            settings, self._process, lambda r, e: failed_outcome(processor, r, e)
        )

    async def _process(self, result: FetchResult) -> Outcome:
        return await self._runner.loop.run_in_executor(self._parse, self._processor, result)

    def submit(self, request: Request) -> None:
        self._runner.submit(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self._runner.outcomes.drain(timeout)

    def close(self) -> None:
        try:
            self._runner.close()
        finally:
            self._parse.shutdown(wait=True, cancel_futures=True)
