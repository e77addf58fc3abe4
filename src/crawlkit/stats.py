"""Counters a crawl keeps, and the frozen summary it hands back."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SHOW_SEEDING = 1.0
"""Seconds of seeding from which the summary line mentions it."""
LATENCY_SAMPLE = 10_000
"""Fetch latencies a crawl keeps at most (a uniform sample of them beyond that)."""


class LatencySample:
    """Fetch latencies in bounded memory: every one up to ``size``, then a uniform
    random sample of ``size`` of all of them (Vitter's algorithm R), so that
    percentiles stay close however long the crawl runs. The count and the sum
    are exact.

    Args:
        size: latencies kept at most.
        seed: seeds the sampling (the same latencies give the same sample).
    """

    __slots__ = ("_rng", "count", "size", "total", "values")

    def __init__(self, size: int = LATENCY_SAMPLE, seed: int = 0) -> None:
        if size < 1:
            raise ValueError("a latency sample keeps at least one value")
        self.size = size
        self.values: list[float] = []  # the sample, in no particular order
        self.count = 0  # latencies added
        self.total = 0.0  # their sum
        self._rng = random.Random(seed)

    def add(self, seconds: float) -> None:
        """Count one fetch that took ``seconds``."""
        self.count += 1
        self.total += seconds
        if len(self.values) < self.size:
            self.values.append(seconds)
            return
        slot = self._rng.randrange(self.count)  # kept with probability size / count
        if slot < self.size:
            self.values[slot] = seconds

    @property
    def mean(self) -> float:
        """The mean of every latency added (0.0 for none)."""
        return self.total / self.count if self.count else 0.0

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Stats:
    """What happened in one crawl.

    Attributes:
        mode: the strategy that ran.
        pages_ok: pages downloaded with a 2xx/3xx status and processed.
        pages_failed: pages that ended with an error (network, HTTP >= 400, spider).
        items: items written to the output.
        bytes: response bytes received (after decompression).
        elapsed: wall-clock seconds from the first request to the last record.
        startup: seconds the strategy took to start (threads, loops, processes),
            before the first request; not part of ``elapsed``.
        seeding: seconds spent offering the seeds to the frontier (or taking up a
            resumed crawl's queue), before the first request; not part of ``elapsed``.
        retries: extra attempts made after transient failures.
        robots_fetches: robots.txt requests made (redirect hops and retries included).
        errors: failed pages counted by reason.
        refused: URLs offered to the frontier and not queued, counted by reason.
        left_queued: URLs accepted but never fetched because a limit or a stop ended
            the crawl.
        interrupted: the crawl was asked to stop before it was finished.
        dropped: items the spider's ``process_item`` dropped.
        tracebacks: the first traceback of each distinct spider error, by reason.
        fetch_latencies: seconds from request start to full body, one per fetch
            up to :data:`LATENCY_SAMPLE` fetches, a uniform sample of that many
            beyond (see :class:`LatencySample`).
        proxies: per proxy (shown without its password): ``requests`` sent through
            it and ``failures`` of the proxy itself (each retried through the next).
        from_cache: responses the ``--cache`` answered (robots.txt included), with
            no network.
    """

    mode: str
    pages_ok: int = 0
    pages_failed: int = 0
    items: int = 0
    bytes: int = 0
    elapsed: float = 0.0
    startup: float = 0.0
    seeding: float = 0.0
    retries: int = 0
    robots_fetches: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    left_queued: int = 0
    interrupted: bool = False
    dropped: int = 0
    tracebacks: dict[str, str] = field(default_factory=dict, repr=False)
    fetch_latencies: tuple[float, ...] = field(default=(), repr=False)
    proxies: dict[str, dict[str, int]] = field(default_factory=dict)
    from_cache: int = 0

    @property
    def pages(self) -> int:
        """Pages tried: ok plus failed."""
        return self.pages_ok + self.pages_failed

    @property
    def pages_per_second(self) -> float:
        """Pages tried per second of wall-clock time."""
        return self.pages / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line for humans: pages ok, failed, elapsed, pages/s, top error reasons."""
        line = (
            f"crawlkit [{self.mode}]: {self.pages_ok} ok, {self.pages_failed} failed, "
            f"{self.items} items in {self.elapsed:.2f}s ({self.pages_per_second:.1f} pages/s)"
        )
        if self.seeding >= SHOW_SEEDING:
            line += f"; seeds loaded in {self.seeding:.1f}s before the first request"
        if self.from_cache:
            line += f"; {self.from_cache} answered from the cache"
        if self.retries:
            line += f"; {self.retries} retries"
        if self.dropped:
            line += f"; {self.dropped} items dropped"
        if self.errors:
            every = Counter(self.errors).most_common()
            line += "; errors: " + ", ".join(f"{reason} x{n}" for reason, n in every)
        if self.refused:
            every = Counter(self.refused).most_common()
            line += "; not followed: " + ", ".join(f"{reason} x{n}" for reason, n in every)
        if self.proxies:
            line += "; proxies: " + ", ".join(
                f"{label} {n['requests']} requests, {n['failures']} failed"
                for label, n in self.proxies.items())
        return line

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (latencies left out)."""
        return {
            "mode": self.mode,
            "pages_ok": self.pages_ok,
            "pages_failed": self.pages_failed,
            "items": self.items,
            "bytes": self.bytes,
            "elapsed": self.elapsed,
            "startup": self.startup,
            "seeding": self.seeding,
            "retries": self.retries,
            "robots_fetches": self.robots_fetches,
            "pages_per_second": self.pages_per_second,
            "errors": dict(self.errors),
            "refused": dict(self.refused),
            "left_queued": self.left_queued,
            "dropped": self.dropped,
            "proxies": {label: dict(n) for label, n in self.proxies.items()},
            "from_cache": self.from_cache,
        }
