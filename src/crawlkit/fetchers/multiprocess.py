"""``multiprocess``: fetch concurrently in this process, parse in a process pool.

Fetching stays on an aiohttp event loop in the parent; each page's parse and
spider callbacks run in a ``ProcessPoolExecutor`` with one worker per core, so
CPU-heavy spiders use every core. Workers start with the ``spawn`` method (safe
beside the parent's threads), so the spider must be importable and picklable.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import ClassVar

from ..errors import UsageError
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .aio_runner import AiohttpRunner
from .base import failed_outcome
from .procutil import die_with_parent

_WORKER_PROCESSOR: Processor | None = None


def _init_worker(payload: bytes) -> None:
    global _WORKER_PROCESSOR
    die_with_parent()
    _WORKER_PROCESSOR = pickle.loads(payload)


def _warm(_: int) -> int:
    time.sleep(0.05)  # long enough that the other workers take tasks too
    return os.getpid()


def _process_in_worker(result: FetchResult) -> tuple[Outcome, float, float]:
    assert _WORKER_PROCESSOR is not None, "worker not initialised"
    started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes on Linux
    outcome = _WORKER_PROCESSOR(result)
    return outcome, started, time.perf_counter()


def worker_count() -> int:
    """Processes in the parse pool: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class MultiprocessFetcher:
    """aiohttp fetching in the parent, parse + spider in ``worker_count()`` processes."""

    name: ClassVar[str] = "multiprocess"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = False
    spider_must_pickle: ClassVar[bool] = True
    http_client: ClassVar[str] = "aiohttp"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        try:
            payload = pickle.dumps(processor)
        except Exception as exc:
            raise UsageError(
                f"the multiprocess mode needs a picklable spider defined at module level: {exc}"
            ) from exc
        self._processor = processor
        self._pool = ProcessPoolExecutor(
            max_workers=worker_count(),  # one per core
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(payload,),
        )
        # start every worker now (spawn, imports, initializer), so the crawl is not charged
        # for it and no worker is still starting (not yet bound to die with us) later on
        workers = worker_count()
        ready: set[int] = set()
        deadline = time.monotonic() + 60
        while len(ready) < workers and time.monotonic() < deadline:
            ready.update(self._pool.map(_warm, range(workers * 2)))
        self._runner = AiohttpRunner(
            settings, self._process, lambda r, e: failed_outcome(processor, r, e)
        )

    async def _process(self, result: FetchResult) -> Outcome:
        outcome, started, finished = await self._runner.loop.run_in_executor(
            self._pool, _process_in_worker, result
        )
        transfer = max(0.0, started - result.finished) + max(0.0, time.perf_counter() - finished)
        return replace(outcome, timing=replace(outcome.timing, transfer=transfer))

    def submit(self, request: Request) -> None:
        self._runner.submit(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self._runner.outcomes.drain(timeout)

    def close(self) -> None:
        try:
            self._runner.close()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
