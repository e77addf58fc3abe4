"""``processes``: N ``multiprocessing.Process`` workers, each fetching with requests
and parsing, so every core does both.

How ``--concurrency`` maps: there are ``P = min(cores, concurrency)`` worker
processes (one per core by default), and each runs ``ceil(concurrency / P)``
threads, each with its own requests.Session; the engine keeps at most
``concurrency`` requests in flight, and the parent gives each request to the
worker holding the fewest, so no worker holds more than it has threads. The
page's parse and the spider run in the thread that fetched it, in that worker.

The multiprocessing primitives, and what each one is for:

* a ``multiprocessing.Queue`` per worker carries requests from the engine to it
  (its feeder thread keeps :meth:`ProcessesFetcher.submit` from ever blocking);
* a one-way ``multiprocessing.Pipe`` per worker carries outcomes back: the parent
  waits on every worker's pipe and every worker's process sentinel at once
  (``multiprocessing.connection.wait``), so a death is seen as soon as an outcome;
* two ``multiprocessing.Value`` per worker count pages fetched and bytes received,
  live, for :meth:`ProcessesFetcher.counters` and the progress line;
* a second one-way ``Pipe`` per worker tells it to stop: the parent holds its only
  write end and closes it, and the worker, waiting to read, sees the end at once.

Each worker has its own of each, never one shared by all, because a lock inside a
process-shared Queue, Value or Event is not released when its holder is killed: a
worker killed while waiting on a shared Queue (``get`` holds the reader's lock while
it waits) would hang every other worker. What a dead worker owned is dropped with
it; the Values are lock-free (each is written by one process, its threads
serialised by a thread lock). Nothing the parent does to stop or drop a worker can
wait on the worker, alive or dead: closing a pipe never waits (a
``multiprocessing.Event`` would: its ``set()`` takes a lock the worker shares and
waits for every waiter to wake, forever for a waiter killed meanwhile), the parent
keeps no read end of a worker's Queue (a request put for a worker that has died
fails at once in the Queue's feeder thread, quietly, and is recorded from
``in_flight``), joins are bounded and a worker that does not stop within
``_STOP_GRACE`` is killed.

A worker that dies (``kill -9``, ``os._exit`` in a spider, the OOM killer) is seen
through its sentinel: the outcomes it sent before dying are read, each request it
still held gets the transient error ``worker process died`` (retried like a network
error, then recorded), and a new worker takes its place. Workers start with the
``spawn`` method, so the spider must be importable and picklable (and a script's
crawl under ``if __name__ == "__main__":``, see
:func:`~crawlkit.fetchers.procutil.leave_if_reimporting`); they ignore SIGINT
(the parent stops them when it closes) and die with the parent (the stop pipe ends
with it, and on Linux the parent-death signal kills them).
"""

from __future__ import annotations

import ctypes
import itertools
import math
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue as ProcessQueue
from typing import ClassVar

from ..errors import FetcherError, UsageError
from ..http import sync as http_sync
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
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

_READY = -1
"""The ticket of the message a worker sends once it can take requests."""
_BOOT_TIMEOUT = 60.0
_STOP_GRACE = 10.0
"""Seconds a worker told to stop may take to exit before it is killed."""
_KILL_GRACE = 5.0
"""Seconds to wait for a killed worker to be reaped; one that is not (stuck in the
kernel) is left to the operating system rather than wait on it."""


@dataclass(frozen=True)
class Counters:
    """What the workers have done so far, read live from shared memory.

    Attributes:
        fetched: responses (or fetch errors) the workers finished, outcomes sent or not.
        bytes: body bytes they received.
    """

    fetched: int
    bytes: int


def _sendable(processor: Processor, ticket: int, outcome: Outcome) -> bytes:
    """``(ticket, outcome, now)`` pickled (see :func:`.base.pickled_outcome`)."""
    return pickled_outcome(processor, outcome,
                           lambda outcome: (ticket, outcome, time.perf_counter()))


def worker_main(
    payload: bytes,
    threads: int,
    inbox: ProcessQueue[bytes],
    outbox: Connection,
    fetched: ctypes.c_longlong,
    received: ctypes.c_longlong,
    stop: Connection,
) -> None:
    """Entry point of a worker process: ``threads`` threads fetch and process the
    requests of ``inbox`` and send each outcome on ``outbox``, until ``stop`` ends
    (the parent closed its end, or died)."""
    ignore_interrupts()
    die_with_parent()
    with loading_spider():
        processor, settings = pickle.loads(payload)
    # protects the write end of outbox (a message must never interleave with another)
    # and the increments of fetched and received; threads of this process only
    lock = threading.Lock()

    def serve() -> None:
        session = http_sync.new_session(settings, pool_size=1)
        while True:
            ticket, request = pickle.loads(inbox.get())
            try:
                result = http_sync.fetch(session, request, settings)
            except BaseException as exc:  # SystemExit too: the parent waits for this outcome
                outcome = failed_outcome(processor, request, exc)
            else:
                with lock:
                    fetched.value += 1
                    received.value += len(result.body)
                outcome = process_safely(processor, result)
            message = _sendable(processor, ticket, outcome)
            with lock:
                outbox.send_bytes(message)

    def run() -> None:
        try:
            serve()
        except BaseException:
            # this thread's machinery broke (the parent is gone, a request that cannot
            # be unpickled here): end the process, so the parent makes records of what
            # it held rather than wait for them
            os._exit(70)

    for index in range(threads):
        threading.Thread(target=run, name=f"crawlkit-process-worker-{index}",
                         daemon=True).start()
    try:
        with lock:
            outbox.send_bytes(pickle.dumps((_READY, None, 0.0)))
    except OSError:  # the parent is gone, or dropped this worker while it started
        os._exit(70)
    # returns when the parent closes its end of the stop pipe, or dies; the threads
    # are daemons: they end with the process
    stop.poll(None)


class _Worker:
    """One worker process and what the parent keeps about it (engine thread only)."""

    def __init__(self, ctx: SpawnContext, payload: bytes, threads: int) -> None:
        # requests for this worker, pickled by submit(); read only by its threads
        self.inbox: ProcessQueue[bytes] = ctx.Queue()
        # A request put for a worker that has died fails in the feeder thread with
        # EPIPE (this process keeps no read end, below); the request is in in_flight
        # and becomes a record, so the feeder is told to end quietly instead of
        # printing a traceback (concurrent.futures does the same to its call queue).
        self.inbox._ignore_epipe = True  # type: ignore[attr-defined]
        # this worker's outcomes, each one message; read here, written by its threads
        self.outcomes, outbox = ctx.Pipe(duplex=False)
        # lock-free: written by the worker only (under its thread lock), read here
        self.fetched: ctypes.c_longlong = ctx.Value("q", 0, lock=False)
        self.received: ctypes.c_longlong = ctx.Value("q", 0, lock=False)
        # nothing is ever sent: the worker waits on its read end until this end closes
        stop, self.stop = ctx.Pipe(duplex=False)
        self.process: SpawnProcess = ctx.Process(
            target=worker_main,
            args=(payload, threads, self.inbox, outbox, self.fetched, self.received, stop),
            name="crawlkit-process-worker",
            daemon=True,
        )
        with interrupts_blocked():  # no Ctrl-C kills it before it ignores SIGINT
            self.process.start()
        # The started worker holds its own copies. This process keeps only the ends it
        # uses, so the worker's death ends the outcome pipe, and a request queued after
        # it fails instead of filling a pipe nobody reads (and blocking the feeder).
        outbox.close()
        stop.close()
        self.inbox._reader.close()  # type: ignore[attr-defined]
        self.ready = False
        self.in_flight: dict[int, Request] = {}  # by ticket: sent, no outcome back yet

    def tell_stop(self) -> None:
        """Ask the worker to exit (never waits, whether it is alive or not)."""
        self.stop.close()

    def dispose(self, grace: float = _STOP_GRACE) -> int | None:
        """Stop the worker and drop what the parent holds of it: wait up to ``grace``
        seconds for it to exit, then kill it; return its exit code (``None`` for a
        process the kernel would not reap within ``_KILL_GRACE``)."""
        self.tell_stop()
        self.process.join(grace)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(_KILL_GRACE)
        # a feeder thread may still hold requests for this dead reader: never join it
        self.inbox.cancel_join_thread()
        self.inbox.close()
        self.outcomes.close()
        code = self.process.exitcode
        if code is not None:
            self.process.close()
        return code


class ProcessesFetcher:
    """``multiprocessing.Process`` workers, each fetching (requests) and parsing in a
    few threads; Queue in, Pipe back, Values for live counters, an Event to stop.

    Args:
        processes: worker processes (default: one per core this process may run on);
            never more than the crawl's concurrency.

    Raises:
        UsageError: ``processes`` is below 1.
    """

    name: ClassVar[str] = "processes"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = False
    spider_must_pickle: ClassVar[bool] = True
    http_client: ClassVar[str] = "requests"

    def __init__(self, processes: int | None = None) -> None:
        if processes is not None and processes < 1:
            raise UsageError(f"processes must be at least 1, not {processes}")
        self._processes = processes
        self._workers: list[_Worker] = []
        self._retired = Counters(0, 0)  # what workers that are gone had counted
        self.restarts = 0
        """Workers started to replace one that died."""
        self.exit_codes: list[int | None] = []
        """The exit code of each worker that ended, in order: 0 for one that stopped
        when told, minus the signal's number for one killed, ``None`` for one the
        kernel would not reap."""

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        leave_if_reimporting()
        try:
            self._payload = pickle.dumps((processor, settings))
        except Exception as exc:
            raise UsageError(
                f"the processes mode needs a picklable spider defined at module level: {exc}"
            ) from exc
        self._processor = processor
        concurrency = settings.effective_concurrency
        count = min(self._processes or worker_count(), concurrency)
        self._threads = math.ceil(concurrency / count)
        self._ctx = multiprocessing.get_context("spawn")
        self._tickets = itertools.count()
        # Every worker is started from the engine's thread (here and in completed()),
        # which lives until close() has stopped them: Linux's parent-death signal
        # (die_with_parent) fires when the *thread* that started a process ends.
        try:
            for _ in range(count):
                self._workers.append(_Worker(self._ctx, self._payload, self._threads))
            self._await_ready()
        except BaseException:
            self.close()
            raise

    def _await_ready(self) -> None:
        """Wait until every worker can take requests (spawn, imports, the spider), so
        their start-up counts as start-up and not as the first pages' latency."""
        deadline = time.monotonic() + _BOOT_TIMEOUT
        while not all(worker.ready for worker in self._workers):
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetcherError("processes worker did not start within "
                                   f"{_BOOT_TIMEOUT:.0f} s")
            self._receive(left)  # nothing is submitted yet: only "ready" can come

    def worker_pids(self) -> tuple[int | None, ...]:
        """The process id of each worker now running."""
        return tuple(worker.process.pid for worker in self._workers)

    def holding(self) -> dict[int | None, int]:
        """How many requests each worker holds (sent, no outcome back), by process id."""
        return {worker.process.pid: len(worker.in_flight) for worker in self._workers}

    def counters(self) -> Counters:
        """Pages fetched and bytes received by every worker so far, read from shared
        memory without a lock; callable from any thread (while a dead worker is being
        replaced, its count may show twice for a moment)."""
        fetched, received = self._retired.fetched, self._retired.bytes
        for worker in self._workers:
            fetched += worker.fetched.value
            received += worker.received.value
        return Counters(fetched, received)

    def live(self) -> str:
        """The live counters as the progress line shows them (any thread, any time)."""
        counters = self.counters()
        text = f"workers fetched {counters.fetched} ({counters.bytes / 1e6:.1f} MB)"
        if self.restarts:
            text += f", {self.restarts} replaced"
        return text

    def submit(self, request: Request) -> None:
        ticket = next(self._tickets)
        # pickled here, not by the queue's feeder thread, which would drop a request it
        # cannot pickle (a Request's meta is JSON, so none should fail)
        message = pickle.dumps((ticket, request), pickle.HIGHEST_PROTOCOL)
        worker = min(self._workers, key=lambda w: len(w.in_flight))
        worker.in_flight[ticket] = request
        worker.inbox.put(message)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            outcomes += self._receive(left)
            if outcomes or left == 0.0:
                return outcomes

    def _receive(self, timeout: float | None) -> list[Outcome]:
        """Wait up to ``timeout`` for any worker to send or die; read every message
        ready, and replace the workers that died."""
        by_pipe = {worker.outcomes: worker for worker in self._workers}
        by_sentinel = {worker.process.sentinel: worker for worker in self._workers}
        ready = wait([*by_pipe, *by_sentinel], timeout)
        outcomes: list[Outcome] = []
        dead: list[_Worker] = []
        for handle in ready:
            if isinstance(handle, Connection):
                worker = by_pipe[handle]
                if not self._read(worker, outcomes):
                    dead.append(worker)
            else:
                dead.append(by_sentinel[handle])  # type: ignore[index]
        for worker in dict.fromkeys(dead):
            outcomes += self._replace(worker)
        return outcomes

    def _read(self, worker: _Worker, into: list[Outcome]) -> bool:
        """Read every message waiting on ``worker``'s pipe; False when the pipe ended."""
        pipe = worker.outcomes
        while pipe.poll():
            try:
                data = pipe.recv_bytes()
            except (EOFError, OSError):  # the worker is gone
                return False
            try:
                ticket, outcome, sent = pickle.loads(data)
            except Exception as exc:
                raise FetcherError(f"processes worker sent what cannot be read: {exc}") from exc
            if ticket == _READY:
                worker.ready = True
                continue
            del worker.in_flight[ticket]
            transfer = max(0.0, time.perf_counter() - sent)
            into.append(replace(outcome, timing=replace(outcome.timing, transfer=transfer)))
        return True

    def _replace(self, worker: _Worker) -> list[Outcome]:
        """``worker`` died: read what it sent, make a record of each request it still
        held, and start another in its place."""
        outcomes: list[Outcome] = []
        self._read(worker, outcomes)
        for request in worker.in_flight.values():
            result = FetchResult(request, None, {}, b"", WORKER_DIED)
            outcomes.append(process_safely(self._processor, result))
        code = worker.dispose()
        self.exit_codes.append(code)
        self._retire(worker)
        index = self._workers.index(worker)
        if not worker.ready:
            self._workers.pop(index)
            if code == REIMPORT_EXIT:
                raise reimport_error(self.name)
            raise FetcherError(
                f"processes worker process ended before it started: exit code {code}")
        self._workers[index] = _Worker(self._ctx, self._payload, self._threads)
        self.restarts += 1
        return outcomes

    def _retire(self, worker: _Worker) -> None:
        self._retired = Counters(self._retired.fetched + worker.fetched.value,
                                 self._retired.bytes + worker.received.value)

    def close(self) -> None:
        workers = self._workers
        for worker in workers:
            if worker.ready:
                worker.tell_stop()
            else:  # still starting, so it holds nothing: not worth the wait
                worker.process.kill()
        # one grace period for all of them, not one each
        deadline = time.monotonic() + _STOP_GRACE
        for worker in workers:
            self.exit_codes.append(worker.dispose(max(0.0, deadline - time.monotonic())))
        for worker in workers:
            self._retire(worker)
        self._workers = []
