"""An asyncio event loop in a background thread, fetching with one aiohttp session.

Shared by the ``async`` and ``multiprocess`` strategies, which differ only in
where the processor runs (a parse thread, or a process pool).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor

import aiohttp

from ..http import aio as http_async
from ..models import FetchResult, Outcome, Request
from ..settings import CrawlSettings
from .base import OutcomeQueue
from .procutil import block_interrupts_in_this_thread

ProcessAsync = Callable[[FetchResult], Awaitable[Outcome]]


class AiohttpRunner:
    """Runs fetches as tasks on a private event loop; outcomes land in :attr:`outcomes`.

    Args:
        settings: crawl settings (timeout, limits, User-Agent, concurrency).
        process: coroutine function run on the loop for each fetch result; it must
            not block the loop (hand CPU work to an executor).
        on_error: builds an outcome for a request whose task raised unexpectedly.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        process: ProcessAsync,
        on_error: Callable[[Request, BaseException], Outcome],
    ) -> None:
        self.settings = settings
        self.process = process
        self.on_error = on_error
        self.outcomes = OutcomeQueue()
        self.loop = asyncio.new_event_loop()
        # tasks alive on the loop; touched only from the loop thread
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._thread = threading.Thread(target=self._run, name="crawlkit-loop", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()

    def _run(self) -> None:
        # Ctrl-C is the main thread's business; a worker process spawned from this
        # thread (multiprocess) is born with SIGINT blocked until it ignores it
        block_interrupts_in_this_thread()
        self.loop.run_forever()

    async def _open(self) -> None:
        self._session = http_async.new_session(self.settings)

    def submit(self, request: Request) -> None:
        """Schedule ``request`` on the loop (thread-safe, returns at once)."""
        self.loop.call_soon_threadsafe(self._spawn, request)

    def _spawn(self, request: Request) -> None:
        task = self.loop.create_task(self._one(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, request: Request) -> None:
        assert self._session is not None
        try:
            result = await http_async.fetch(self._session, request, self.settings)
            outcome = await self.process(result)
        except asyncio.CancelledError:
            raise
        except BrokenExecutor as exc:  # the machinery is gone: stop the crawl, loudly
            self.outcomes.put(exc)
            return
        except (Exception, SystemExit) as exc:
            outcome = self.on_error(request, exc)
        self.outcomes.put(outcome)

    async def _aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def close(self) -> None:
        """Cancel tasks in flight, close the session, stop and close the loop."""
        if self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._aclose(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()
