"""``auto``: start on ``async``, measure the first pages, move to ``multiprocess``
when the spider's CPU is what holds the crawl back.

:class:`AutoFetcher` is a Fetcher made of two others. It starts ``async`` (one
event loop, parsing in the engine's thread: the best strategy when pages wait on the network)
and, when the spider can be pickled and there is more than one core, a
``multiprocess`` fetcher beside it, idle, so that a switch later costs no
process start in the middle of the crawl (auto's start-up is therefore that of
``multiprocess``). Over the first pages it sums each outcome's
:class:`~crawlkit.models.Timing` (``parse``: CPU in the parse stage and the
spider; ``ttfb + download``: waiting on the network) and this process's CPU
time, then :func:`choose` predicts the pages/s of each strategy from those
figures and picks one. A pool that was not chosen stays idle (idle workers cost
no CPU; workers exiting would take it from the crawl) and winds down in the
background when the crawl ends: :meth:`AutoFetcher.close` does not wait for it.

Switching loses and repeats nothing: new requests go to the chosen fetcher, the
first one keeps its requests in flight until each has its outcome, and is
closed then; the engine still sees exactly one outcome per request. The decision
is reported once, with the figures behind it (the CLI prints it on stderr;
library code finds it in :attr:`AutoFetcher.decision` and the
``crawlkit.fetchers.auto`` logger).
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..errors import UsageError
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from ..strategies import strategy_class
from .base import Fetcher
from .procutil import worker_count

__all__ = ["AutoFetcher", "Decision", "Sample", "choose"]

log = logging.getLogger(__name__)

TRANSFER_SECONDS = 0.0004
"""The parent's extra CPU per page in ``multiprocess`` (the pool's bookkeeping and
pickling), measured on ``bench``'s ``overhead`` workload (0.44 vs 0.80 ms/page)."""
TRANSFER_SECONDS_PER_BYTE = 5e-9
"""And per response byte sent to a worker (about 200 MB/s through the pool's pipe)."""
MIN_GAIN = 1.25
"""Switch only when the prediction is at least this many times the pages/s of staying:
the model is rough, and a switch costs the pages the first fetcher still holds."""
HOLD_PARSE_SECONDS = 0.0016
"""Parsing per page below which the sample never holds requests back (four transfers)."""
_POLL = 0.002
"""While both fetchers hold requests: how long to wait on one before looking at the other."""


@dataclass(frozen=True)
class Sample:
    """What the first pages showed, per page, in seconds.

    Attributes:
        pages: outcomes measured (robots.txt and retries aside).
        parse: mean time in the parse stage and the spider (the largest value left
            out from four pages on: the first calls pay for imports and caches).
        wait: mean time waiting on the network (time to first byte + download).
        cpu: this process's CPU time over the sample, per page (every thread).
        nbytes: mean response size, in bytes.
        wall: seconds from the first request to the end of the sample.
        concurrency: requests the engine keeps in flight.
        cores: cores the worker processes could use.
    """

    pages: int
    parse: float
    wait: float
    cpu: float
    nbytes: float
    wall: float
    concurrency: int
    cores: int

    @property
    def busy(self) -> float:
        """Cores this process kept busy during the sample."""
        return self.cpu * self.pages / self.wall if self.wall > 0 else 0.0


@dataclass(frozen=True)
class Decision:
    """The strategy :func:`choose` picked, and why.

    Attributes:
        mode: the strategy the rest of the crawl runs with.
        sample: the figures it was chosen on.
        gain: predicted pages/s of the process strategy over those of staying
            (``None`` when it could not be used at all).
        why: what settled it, for people.
    """

    mode: str
    sample: Sample
    gain: float | None
    why: str

    def describe(self) -> str:
        """One line: the figures and the choice, e.g. ``auto: parse 21.9 ms/page vs
        wait 2.1 ms/page over 8 pages at concurrency 16 ... -> multiprocess (...)``."""
        s = self.sample
        return (f"auto: parse {s.parse * 1000:.1f} ms/page vs wait {s.wait * 1000:.1f} ms/page "
                f"over {s.pages} pages at concurrency {s.concurrency}; this process "
                f"{s.cpu * 1000:.1f} ms CPU/page, {s.busy:.2f} cores busy -> {self.mode} "
                f"({self.why})")


def _rates(sample: Sample) -> tuple[float, float]:
    """Predicted pages/s of (async, multiprocess) from the sample.

    Both fetch on one event loop, so neither goes faster than the network allows
    (``concurrency / wait``). In ``async`` the engine (which parses) and the loop
    share one interpreter lock: a page costs this process ``cpu`` seconds, parse
    included. In ``multiprocess`` the parent keeps its part (``cpu - parse``) plus
    the transfer to the pool, and the workers share the cores with it.
    """
    network = sample.concurrency / sample.wait if sample.wait > 0 else float("inf")
    engine = max(0.0, sample.cpu - sample.parse)
    single = max(sample.cpu, sample.parse, 1e-9)
    parent = engine + TRANSFER_SECONDS + sample.nbytes * TRANSFER_SECONDS_PER_BYTE
    # the workers parse on whatever the parent leaves of the cores
    spread = sample.cores / (sample.parse + parent)
    return min(network, 1 / single), min(network, 1 / parent, spread)


def choose(sample: Sample, can_pickle: bool = True, first: str = "async",
           candidate: str = "multiprocess") -> Decision:
    """Pick the strategy for the rest of the crawl: ``candidate`` (a process
    strategy) when it is predicted at least :data:`MIN_GAIN` times the pages/s of
    staying on ``first``, else ``first``. Pure: the same sample, the same choice.
    """
    if sample.cores < 2:
        return Decision(first, sample, None, "one core: worker processes cannot add any")
    if not can_pickle:
        return Decision(first, sample, None, "the spider cannot be sent to worker processes")
    stay, move = _rates(sample)
    gain = move / stay
    if gain >= MIN_GAIN:
        why = f"{candidate} predicted {gain:.1f}x the pages/s of {first}"
        return Decision(candidate, sample, gain, why)
    bound = "the network" if move >= stay else "this process"
    return Decision(first, sample, gain,
                    f"{bound} bounds the crawl: {candidate} predicted {gain:.2f}x")


def _hold_limit(sample: Sample) -> int | None:
    """Requests enough to keep the parsing busy (one parsing, the others
    waiting on the network), or ``None`` when parsing is too light to hold any back."""
    if sample.parse < HOLD_PARSE_SECONDS:
        return None
    return min(sample.concurrency, 2 + math.ceil(sample.wait / sample.parse))


def _mean_without_first_calls(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    if len(values) >= 4:
        values = sorted(values)[:-1]
    return statistics.fmean(values)


class AutoFetcher:
    """``async`` first; ``multiprocess`` for the rest of the crawl when the first
    pages show the spider's CPU, not the network, bounds it.

    Args:
        report: called once with :meth:`Decision.describe` when the choice is made
            (default: an INFO message on the ``crawlkit.fetchers.auto`` logger).

    Class attributes a subclass may change: ``first`` and ``candidate`` (strategy
    names), ``sample_pages`` (decide after this many pages) and ``sample_seconds``
    (or after this long, with at least one page).
    """

    name: ClassVar[str] = "auto"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = False
    """The spider may move to worker processes mid-crawl."""
    spider_must_pickle: ClassVar[bool] = False
    """A spider that cannot be pickled keeps the crawl in this process."""
    http_client: ClassVar[str] = "aiohttp"
    """Both strategies it runs fetch with aiohttp."""

    first: ClassVar[str] = "async"
    candidate: ClassVar[str] = "multiprocess"
    sample_pages: ClassVar[int] = 8
    sample_seconds: ClassVar[float] = 1.0

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.report = report if report is not None else log.info
        self.decision: Decision | None = None
        """The choice, once made (``None`` while sampling, or when the crawl ended first)."""

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self._concurrency = settings.effective_concurrency
        self._cores = worker_count()
        self._current: Fetcher = self._fetcher(self.first)
        self._current.start(settings, processor)
        self._in_flight = 0  # requests the current fetcher holds
        # the fetcher switched away from, until its last request has its outcome
        self._old: Fetcher | None = None
        self._old_in_flight = 0
        self._standby: Fetcher | None = None
        # the process strategy the decision did not need: closed, unwaited, by close()
        # (as is the standby of a crawl that ended before a decision)
        self._unused: Fetcher | None = None
        self._cannot_pickle = False
        # threads closing the fetcher switched away from, so the engine never waits for
        # it; joined by close()
        self._closers: list[threading.Thread] = []
        # what a closing thread raised (list.append is atomic), raised again by close()
        self._close_errors: list[BaseException] = []
        if self._cores > 1:
            standby = self._fetcher(self.candidate)
            try:
                standby.start(settings, processor)
            except UsageError:  # an unpicklable spider: the crawl stays in this process
                self._cannot_pickle = True
            except BaseException:
                self._current.close()
                raise
            else:
                self._standby = standby
        # while the pages seen so far point to the process strategy: the most requests
        # the first fetcher gets (the rest wait in _held for the decision), so few are
        # left in its parse queue when the crawl moves on; None: no limit
        self._hold: int | None = None
        self._held: deque[Request] = deque()
        self._parse: list[float] = []
        self._wait: list[float] = []
        self._bytes = 0
        self._began: float | None = None
        self._cpu_began = 0.0

    def _fetcher(self, mode: str) -> Fetcher:
        """A new, unstarted fetcher for ``mode``."""
        fetcher: Fetcher = strategy_class(mode)()
        return fetcher

    def submit(self, request: Request) -> None:
        if self._began is None:
            self._began = time.perf_counter()
            self._cpu_began = time.process_time()
        if self._hold is not None and self._in_flight >= self._hold:
            self._held.append(request)
            return
        self._current.submit(request)
        self._in_flight += 1

    def _release(self) -> None:
        """Send held requests to the current fetcher, up to the limit (all when none)."""
        while self._held and (self._hold is None or self._in_flight < self._hold):
            self._current.submit(self._held.popleft())
            self._in_flight += 1

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        if self._old is None:
            outcomes = self._current.completed(timeout)
            self._in_flight -= len(outcomes)
            if self.decision is None and outcomes:
                self._observe(outcomes)
            if self._held:
                self._release()
            return outcomes
        return self._drain(timeout)

    def _drain(self, timeout: float | None) -> list[Outcome]:
        """Outcomes of both fetchers while the old one still holds requests."""
        old = self._old
        assert old is not None
        deadline = None if timeout is None else time.perf_counter() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if self._in_flight == 0:  # only the old one can answer: wait on it alone
                outcomes = old.completed(left)
                self._old_in_flight -= len(outcomes)
                newer: list[Outcome] = []
            else:
                outcomes = old.completed(0)
                self._old_in_flight -= len(outcomes)
                pause = 0.0 if outcomes else _POLL if left is None else min(_POLL, left)
                newer = self._current.completed(pause)
                self._in_flight -= len(newer)
            if self._old_in_flight == 0:
                self._old = None
                self._close_later(old)
            if outcomes or newer:
                return outcomes + newer
            if self._old is None:
                return self.completed(left)
            if left == 0.0:
                return []

    def _observe(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.request.purpose == "robots" or outcome.retry:
                continue
            timing = outcome.timing
            self._parse.append(timing.parse)
            self._wait.append(timing.ttfb + timing.download)
            self._bytes += outcome.nbytes
        pages = len(self._parse)
        if pages == 0 or self._began is None:
            return
        sample = self.sample()
        if pages >= self.sample_pages or time.perf_counter() - self._began >= self.sample_seconds:
            self._decide(sample)
            return
        self._hold = None
        if self._standby is not None and self.choose(sample).mode == self.candidate:
            self._hold = _hold_limit(sample)

    def sample(self) -> Sample:
        """The figures measured so far."""
        pages = max(1, len(self._parse))
        began = self._began if self._began is not None else time.perf_counter()
        return Sample(
            pages=len(self._parse),
            parse=_mean_without_first_calls(self._parse),
            wait=_mean_without_first_calls(self._wait),
            cpu=(time.process_time() - self._cpu_began) / pages,
            nbytes=self._bytes / pages,
            wall=time.perf_counter() - began,
            concurrency=self._concurrency,
            cores=self._cores,
        )

    def choose(self, sample: Sample) -> Decision:
        """The decision on ``sample``: :func:`choose` (a subclass may decide otherwise)."""
        return choose(sample, can_pickle=not self._cannot_pickle, first=self.first,
                      candidate=self.candidate)

    def _decide(self, sample: Sample) -> None:
        decision = self.choose(sample)
        self.decision = decision
        self._hold = None
        standby, self._standby = self._standby, None
        if decision.mode == self.candidate and standby is not None:
            self._old, self._old_in_flight = self._current, self._in_flight
            self._current, self._in_flight = standby, 0
            if self._old_in_flight == 0:
                self._close_later(self._old)
                self._old = None
        elif standby is not None:
            self._unused = standby
            if decision.mode != self.first:
                decision = Decision(self.first, sample, decision.gain,
                                    f"{decision.mode} is not started here")
                self.decision = decision
        self._release()
        self.report(decision.describe())

    def _close_later(self, fetcher: Fetcher, wait: bool = True) -> None:
        """Close ``fetcher`` in a thread of its own; :meth:`close` waits for it only
        when ``wait`` (a pool that was never used winds down on its own: waiting for
        its processes to exit would hold up the end of a short crawl)."""

        def close() -> None:
            try:
                fetcher.close()
            except BaseException as exc:
                if wait:  # raised again by close()
                    self._close_errors.append(exc)
                else:
                    log.debug("closing the unused %s strategy failed", self.candidate,
                              exc_info=True)

        closer = threading.Thread(target=close, name="crawlkit-auto-close", daemon=True)
        closer.start()
        if wait:
            self._closers.append(closer)

    def close(self) -> None:
        if self.decision is None and self._parse:
            pages = len(self._parse)
            self.report(f"auto: the crawl ended after {pages} page{'s' * (pages != 1)}, "
                        f"before a decision: it ran on {self.first}")
        for unused in (self._unused, self._standby):  # a pool given no request
            if unused is not None:
                self._close_later(unused, wait=False)
        fetchers = [f for f in (self._current, self._old) if f is not None]
        self._old = self._standby = self._unused = None
        try:
            for closer in self._closers:
                closer.join()
        finally:
            for fetcher in fetchers:
                try:
                    fetcher.close()
                except BaseException as exc:  # close the others before raising
                    self._close_errors.append(exc)
        if self._close_errors:
            raise self._close_errors[0]
