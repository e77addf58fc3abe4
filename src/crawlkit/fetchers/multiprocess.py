"""``multiprocess``: fetch concurrently in this process, parse in a process pool.

Fetching stays on an aiohttp event loop in the parent; each page's parse and
spider callbacks run in a ``ProcessPoolExecutor`` with one worker per core, so
CPU-heavy spiders use every core. Workers start with the ``spawn`` method (safe
beside the parent's threads), so the spider must be importable and picklable, and
a script's crawl under ``if __name__ == "__main__":`` (see
:func:`~crawlkit.fetchers.procutil.leave_if_reimporting`).

A worker that dies (``os._exit`` in a spider, a crash, the OOM killer) breaks the
pool: each page the pool held gets the transient error ``worker process died``
(so it is retried like a network error, then recorded), and a fresh pool takes
the pages after it. Workers ignore SIGINT; the parent stops them when it closes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import ClassVar

from ..errors import FetcherError, UsageError
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .aio_runner import AiohttpRunner
from .base import WORKER_DIED, failed_outcome, process_safely
from .procutil import (
    REIMPORT_EXIT,
    die_with_parent,
    ignore_interrupts,
    interrupts_blocked,
    leave_if_reimporting,
    loading_spider,
    reimport_error,
    worker_count,
)

_WORKER_PROCESSOR: Processor | None = None


def _init_worker(payload: bytes) -> None:
    global _WORKER_PROCESSOR
    ignore_interrupts()
    die_with_parent()
    with loading_spider():
        _WORKER_PROCESSOR = pickle.loads(payload)


def _warm(_: int) -> int:
    time.sleep(0.05)  # long enough that the other workers take tasks too
    return os.getpid()


def _process_in_worker(result: FetchResult) -> tuple[Outcome, float, float]:
    assert _WORKER_PROCESSOR is not None, "worker not initialised"
    started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes on Linux
    outcome = process_safely(_WORKER_PROCESSOR, result)
    return outcome, started, time.perf_counter()


def _exited_with(pool: ProcessPoolExecutor, code: int) -> bool:
    """Whether a worker of the broken ``pool`` ended with exit code ``code`` (waits a
    moment for those still ending: the pool breaks as soon as the first one dies)."""
    processes = getattr(pool, "_processes", None) or {}  # pid -> process: no public view
    deadline = time.monotonic() + 5
    for process in list(processes.values()):
        # the pool's own thread reaps its workers too: until it has stored the exit
        # code, a poll of one it reaped first reads None
        while process.exitcode is None and time.monotonic() < deadline:
            process.join(0.05)
        if process.exitcode == code:
            return True
    return False


class MultiprocessFetcher:
    """aiohttp fetching in the parent, parse + spider in ``worker_count()`` processes."""

    name: ClassVar[str] = "multiprocess"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = False
    spider_must_pickle: ClassVar[bool] = True
    http_client: ClassVar[str] = "aiohttp"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        leave_if_reimporting()
        try:
            payload = pickle.dumps(processor)
        except Exception as exc:
            raise UsageError(
                f"the multiprocess mode needs a picklable spider defined at module level: {exc}"
            ) from exc
        self._processor = processor
        self._payload = payload
        # Every worker process is started from this one thread, which lives until close()
        # has stopped them all: Linux's parent-death signal (die_with_parent) fires when
        # the *thread* that started a process ends, so no short-lived thread may start one.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawlkit-spawner")
        # every pool made, shut down in close(); appended to by the spawner thread only
        self._pools: list[ProcessPoolExecutor] = []
        try:
            # the pool pages go to; replaced (see _process) when a worker dies
            self._pool = self._spawner.submit(self._fresh_pool).result()
        except BrokenProcessPool as exc:  # a worker died starting: unloadable spider, say
            reimported = self._pools and _exited_with(self._pools[-1], REIMPORT_EXIT)
            self._shutdown_pools()
            if reimported:
                raise reimport_error(self.name) from None
            raise FetcherError(f"multiprocess worker process did not start: {exc}") from None
        except BaseException:
            self._shutdown_pools()
            raise
        # a replacement pool being started, while one is; loop thread only
        self._replacing: asyncio.Future[ProcessPoolExecutor] | None = None
        self._runner = AiohttpRunner(
            settings, self._process, lambda r, e: failed_outcome(processor, r, e)
        )

    def _fresh_pool(self) -> ProcessPoolExecutor:
        """A new pool with every worker started (spawn, imports, initializer), so the
        crawl is not charged for it and no worker is started later, from another thread.
        SIGINT stays blocked meanwhile, so no worker dies of a Ctrl-C before it ignores
        SIGINT. Runs in the spawner thread."""
        pool = ProcessPoolExecutor(
            max_workers=worker_count(),  # one per core
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._payload,),
        )
        self._pools.append(pool)
        workers = worker_count()
        ready: set[int] = set()
        deadline = time.monotonic() + 60
        with interrupts_blocked():
            while len(ready) < workers and time.monotonic() < deadline:
                ready.update(pool.map(_warm, range(workers * 2)))
        return pool

    async def _process(self, result: FetchResult) -> Outcome:
        while self._replacing is not None:
            await asyncio.wait({self._replacing})
        pool = self._pool
        try:
            outcome, started, finished = await self._runner.loop.run_in_executor(
                pool, _process_in_worker, result
            )
        except BrokenProcessPool:
            if self._pool is pool and self._replacing is None:  # the first page to know
                replacing = asyncio.wrap_future(self._spawner.submit(self._fresh_pool))
                replacing.add_done_callback(self._replaced)
                self._replacing = replacing
            return self._processor(
                replace(result, status=None, headers={}, body=b"", error=WORKER_DIED))
        transfer = max(0.0, started - result.finished) + max(0.0, time.perf_counter() - finished)
        return replace(outcome, timing=replace(outcome.timing, transfer=transfer))

    def _replaced(self, future: asyncio.Future[ProcessPoolExecutor]) -> None:
        self._replacing = None
        if not future.cancelled() and future.exception() is None:
            self._pool = future.result()
        # else the broken pool stays: the next page fails the same way and tries again

    def _shutdown_pools(self) -> None:
        self._spawner.submit(lambda: None).result()  # a replacement under way has finished
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._spawner.shutdown(wait=True)

    def submit(self, request: Request) -> None:
        self._runner.submit(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self._runner.ready.drain(timeout)

    def close(self) -> None:
        try:
            self._runner.close()
        finally:
            self._shutdown_pools()
