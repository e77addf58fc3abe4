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

Pages go to the pool in batches: at most two batches per worker are in the pool
at once, and the pages fetched while it is full wait and go together, as one
task, when a batch comes back. At a light load every page goes alone, at once;
at a heavy one the pool's per-task cost (its manager and feeder threads waking,
competing with the event loop and the engine for this process's interpreter
lock) is paid once per batch instead of once per page.
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
from functools import partial
from typing import ClassVar

from ..errors import FetcherError, UsageError
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .aio_runner import AiohttpRunner
from .base import WORKER_DIED, failed_outcome, pickled_outcome, process_safely
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


def _process_batch(results: list[FetchResult]) -> list[bytes]:
    """Process each result in this worker: each outcome pickled on its own, with the
    moments its processing started and ended, so one that cannot be pickled fails
    alone (see :func:`.base.pickled_outcome`)."""
    processor = _WORKER_PROCESSOR
    assert processor is not None, "worker not initialised"
    sent: list[bytes] = []
    for result in results:
        started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes on Linux
        outcome = process_safely(processor, result)
        finished = time.perf_counter()
        sent.append(pickled_outcome(processor, outcome,
                                    partial(_timed, started=started, finished=finished)))
    return sent


def _timed(outcome: Outcome, started: float, finished: float) -> tuple[Outcome, float, float]:
    return outcome, started, finished


Waiting = tuple[FetchResult, "asyncio.Future[Outcome]"]
"""A fetched page gathered for the pool, and the future its outcome will settle."""


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
        # pages fetched in this turn of the loop, for the pool; loop thread only
        self._gathered: list[Waiting] = []
        # batches in the pool, and how many it may hold: two per worker, so each has
        # the next at hand when it finishes one; loop thread only
        self._in_pool = 0
        self._pool_limit = 2 * worker_count()
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
        """The page's outcome from the pool. The pages fetched in one turn of the loop
        go together, in at most one batch per worker: one task each instead of one
        per page, which is most of what the pool costs the parent."""
        while self._replacing is not None:
            await asyncio.wait({self._replacing})
        loop = self._runner.loop
        future: asyncio.Future[Outcome] = loop.create_future()
        self._gathered.append((result, future))
        if len(self._gathered) == 1 and self._in_pool < self._pool_limit:
            loop.call_soon(self._dispatch)  # with the pages fetched in this same turn
        return await future

    def _dispatch(self) -> None:
        room = self._pool_limit - self._in_pool
        if room <= 0 or not self._gathered:
            return
        gathered, self._gathered = self._gathered, []
        pool, loop = self._pool, self._runner.loop
        size = -(-len(gathered) // room)  # ceil: as many batches as there is room for
        for start in range(0, len(gathered), size):
            batch = gathered[start:start + size]
            self._in_pool += 1
            task = loop.run_in_executor(pool, _process_batch, [r for r, _ in batch])
            task.add_done_callback(partial(self._settle, pool, batch))

    def _settle(self, pool: ProcessPoolExecutor, batch: list[Waiting],
                task: asyncio.Future[list[bytes]]) -> None:
        self._in_pool -= 1
        self._dispatch()  # what gathered while the pool was full goes now, together
        if task.cancelled():
            for _, future in batch:
                future.cancel()
            return
        error = task.exception()
        if isinstance(error, BrokenProcessPool):
            if self._pool is pool and self._replacing is None:  # the first batch to know
                replacing = asyncio.wrap_future(self._spawner.submit(self._fresh_pool))
                replacing.add_done_callback(self._replaced)
                self._replacing = replacing
            for result, future in batch:
                if not future.done():
                    future.set_result(self._processor(
                        replace(result, status=None, headers={}, body=b"", error=WORKER_DIED)))
            return
        if error is not None:  # each page becomes a record of its own (see _one)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        now = time.perf_counter()
        for (result, future), sent in zip(batch, task.result(), strict=True):
            outcome, started, finished = pickle.loads(sent)
            transfer = max(0.0, started - result.finished) + max(0.0, now - finished)
            if not future.done():
                future.set_result(
                    replace(outcome, timing=replace(outcome.timing, transfer=transfer)))

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
