"""The one interface every fetch strategy implements.

A strategy owns *how requests run concurrently* and nothing else. The engine
owns the frontier, de-duplication, limits and output; the shared
:class:`~crawlkit.process.Processor` owns parsing and the spider. The engine
keeps at most ``settings.effective_concurrency`` requests submitted and not yet
completed, so a strategy needs no bound of its own.

Life cycle, always from the engine's single thread::

    fetcher.start(settings, processor)
    fetcher.submit(request)        # any number of times, never blocks for long
    fetcher.completed(timeout)     # waits up to timeout for outcomes, returns all ready
    fetcher.close()                # always called, also after an error
"""

from __future__ import annotations

import pickle
import queue
from collections.abc import Callable
from typing import ClassVar, Generic, Protocol, TypeVar

from ..errors import FetcherError, Reason
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings


class Fetcher(Protocol):
    """A fetch strategy. Implementations need not inherit from this class."""

    name: ClassVar[str]
    """The mode name the strategy is chosen by."""
    fixed_concurrency: ClassVar[bool]
    """One request at a time whatever ``concurrency`` says (``sync``)."""
    spider_in_process: ClassVar[bool]
    """The spider runs in the caller's process (so a recording processor sees pages)."""
    spider_must_pickle: ClassVar[bool]
    """The spider is sent to other processes, so it must be importable and picklable."""
    http_client: ClassVar[str]
    """The HTTP client library the strategy fetches with ("requests", "aiohttp", ...)."""

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        """Create sessions, threads, loops or processes. Called once, before any submit.

        ``processor`` turns each :class:`FetchResult` into an :class:`Outcome`; the
        strategy decides which thread or process calls it.
        """

    def submit(self, request: Request) -> None:
        """Start fetching ``request``. Must return promptly (except in ``sync``,
        where running the fetch in the caller is the point)."""

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        """Wait until at least one submitted request has an outcome, or ``timeout``
        seconds (``None``: no limit); return every outcome ready now, each exactly
        once (an empty list when the timeout passed first).

        Raises:
            FetcherError: the strategy's machinery failed (not a failed page).
        """

    def close(self) -> None:
        """Stop everything started in :meth:`start`; abandon requests still in flight."""


def live_report(fetcher: object) -> str:
    """What ``fetcher``'s workers report about themselves right now, for the progress
    line: the text of its ``live()`` method, or ``""`` for a strategy without one.

    ``live() -> str`` is an optional part of :class:`Fetcher`: a strategy whose
    workers keep counters of their own (``processes``) says so in a few words. The
    engine calls it from its thread, before :meth:`Fetcher.start` too.
    """
    live = getattr(fetcher, "live", None)
    return str(live()) if callable(live) else ""


WORKER_DIED = Reason.WORKER_DIED.value
"""The fetch error of a page held by a worker process that died (its own spider call,
or another page's, ended the process): transient, so the page is retried."""


def failed_outcome(processor: Processor, request: Request, exc: BaseException) -> Outcome:
    """An outcome for a request whose worker hit an unexpected error, so the page
    becomes a record instead of vanishing. Never raises (but KeyboardInterrupt)."""
    error = f"internal error: {type(exc).__name__}: {exc}"
    try:
        return processor(FetchResult(request, None, {}, b"", error))
    except KeyboardInterrupt:
        raise
    except BaseException:  # spider code raising what the processor lets through
        return Outcome(request, request.url, None, error)


def pickled_outcome(processor: Processor, outcome: Outcome,
                    pack: Callable[[Outcome], object] = lambda outcome: outcome) -> bytes:
    """``pack(outcome)`` pickled, to send to another process; an outcome that cannot be
    pickled (a spider's item holding a lock, say) is replaced by a failed record for
    its request, so the other side never waits for it and no other outcome fails
    with it."""
    try:
        return pickle.dumps(pack(outcome), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickle raises many types
        outcome = failed_outcome(processor, outcome.request,
                                 RuntimeError(f"outcome cannot be sent: {exc}"))
    try:
        return pickle.dumps(pack(outcome), pickle.HIGHEST_PROTOCOL)
    except Exception:
        bare = Outcome(outcome.request, outcome.request.url, None,
                       "internal error: outcome cannot be sent")
        return pickle.dumps(pack(bare), pickle.HIGHEST_PROTOCOL)


def process_safely(processor: Processor, result: FetchResult) -> Outcome:
    """``processor(result)``, or a failed record when it raises anything at all.

    For worker threads and processes, where an exception that escapes would end
    the worker and leave its request without an outcome forever. Not for the
    main thread (a KeyboardInterrupt there must go through) nor for greenlets
    (which must let ``GreenletExit`` through).
    """
    try:
        return processor(result)
    except BaseException as exc:
        return failed_outcome(processor, result.request, exc)


T = TypeVar("T", Outcome, FetchResult)


class Handoff(Generic[T]):
    """Hands values (outcomes, or fetch results still to process) from worker
    threads to the engine's thread.

    The underlying ``SimpleQueue`` is the only thing the workers and the engine
    share; it carries values and, when a worker's machinery breaks, the exception.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[T | BaseException] = queue.SimpleQueue()

    def put(self, value: T | BaseException) -> None:
        """Called by workers: one value, or the exception that broke them."""
        self._queue.put(value)

    def drain(self, timeout: float | None = None) -> list[T]:
        """Wait up to ``timeout`` for one value, then take every value already waiting.

        Raises:
            FetcherError: a worker's machinery broke (the exception it put).
        """
        try:
            values = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        get = self._queue.get_nowait
        while True:
            try:
                values.append(get())
            except queue.Empty:
                break
        ready: list[T] = []
        for value in values:
            if isinstance(value, BaseException):
                raise FetcherError(f"fetch strategy failed: {value}") from value
            ready.append(value)
        return ready


class OutcomeQueue(Handoff[Outcome]):
    """Hands outcomes from worker threads to the engine's thread."""
