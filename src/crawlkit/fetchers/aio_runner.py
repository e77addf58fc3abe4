"""An asyncio event loop in a background thread, fetching with one aiohttp session.

Shared by the ``async`` and ``multiprocess`` strategies, which differ only in
where the processor runs (the engine's thread, or a process pool).

Hand-offs between the engine's thread and the loop are batched both ways: a
burst of submits wakes the loop once, and the engine takes every result that
is ready in one go, so a page costs no extra thread switch of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor
from typing import Generic

import aiohttp

from ..http import aio as http_async
from ..models import FetchResult, Request
from ..settings import CrawlSettings
from .base import Handoff, T
from .procutil import block_interrupts_in_this_thread


class AiohttpRunner(Generic[T]):
    """Runs fetches as tasks on a private event loop; what each one ends with lands
    in :attr:`ready`.

    Args:
        settings: crawl settings (timeout, limits, User-Agent, concurrency).
        process: coroutine function run on the loop for each fetch result (it must
            not block the loop: it hands CPU work to an executor), so :attr:`ready`
            holds outcomes; ``None``: :attr:`ready` holds the fetch results
            themselves, for the engine's thread to process.
        on_error: what a request whose task raised unexpectedly ends with.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        process: Callable[[FetchResult], Awaitable[T]] | None,
        on_error: Callable[[Request, BaseException], T],
    ) -> None:
        self.settings = settings
        self.process: Callable[[FetchResult], Awaitable[T]] | None = process
        self.on_error: Callable[[Request, BaseException], T] = on_error
        self.ready: Handoff[T] = Handoff()
        # requests submitted and not yet turned into tasks: appended by the engine's
        # thread, emptied by the loop; `_woken` says a drain is already scheduled
        # (both rely on the atomicity of deque.append/popleft and a bool store)
        self._submitted: deque[Request] = deque()
        self._woken = False
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
        """Schedule ``request`` on the loop (thread-safe, returns at once). Submits
        made while the loop has not yet woken up for an earlier one share its wake-up."""
        self._submitted.append(request)
        if not self._woken:
            self._woken = True
            self.loop.call_soon_threadsafe(self._spawn)

    def _spawn(self) -> None:
        # cleared before emptying: a submit that still sees True appended its request
        # before this point, so the loop below takes it
        self._woken = False
        submitted, create, tasks = self._submitted, self.loop.create_task, self._tasks
        while submitted:
            task = create(self._one(submitted.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _one(self, request: Request) -> None:
        assert self._session is not None
        value: T
        try:
            result = await http_async.fetch(self._session, request, self.settings)
            if self.process is None:
                self.ready.put(result)  # type: ignore[arg-type]  # T is FetchResult here
                return
            value = await self.process(result)
        except asyncio.CancelledError:
            raise
        except BrokenExecutor as exc:  # the machinery is gone: stop the crawl, loudly
            self.ready.put(exc)
            return
        except (Exception, SystemExit) as exc:
            value = self.on_error(request, exc)
        self.ready.put(value)

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
