"""One measured crawl, run in a fresh process by ``compare`` and ``bench``.

``python -m crawlkit measure`` runs the crawl like ``crawl`` does, then writes a
JSON document with what it measured and, for the agreement check, the URLs it
tried and the items it produced.
"""

from __future__ import annotations

import os
import resource
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..engine import Engine
from ..models import Item, Outcome
from ..settings import CrawlSettings
from ..spiders import Spider

BREAKDOWN = ("queued", "ttfb", "download", "parse", "transfer")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class _Recorder:
    """Collects per-page timings and URLs from the engine, and items from the sink."""

    ignore_fields: frozenset[str]
    urls: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BREAKDOWN, 0.0))
    pages: int = 0

    def observe(self, outcome: Outcome) -> None:
        self.urls.append(outcome.request.url)
        self.pages += 1
        timing = outcome.timing
        for name in BREAKDOWN:
            self.totals[name] += getattr(timing, name)

    def write(self, item: Item) -> None:
        kept = {k: v for k, v in item.items() if k not in self.ignore_fields}
        self.items.append(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's list; Linux /proc)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children, their children, ...)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += _children(current)
    return found


def _resident(pids: Sequence[int]) -> tuple[int, int]:
    total = alive = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # it exited since it was listed
        alive += 1
    return total, alive


def high_water(pid: int) -> int:
    """The peak resident bytes of process ``pid`` since it last exec'd (VmHWM), or 0.

    Unlike ``ru_maxrss``, which keeps the peak of the image a process was forked
    from, this is the program's own peak: a crawl started by a 60 MB ``compare``
    does not report 60 MB before it has done anything.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_rss(pid: int | None = None) -> tuple[int, int]:
    """Resident bytes of process ``pid`` (default: this one) plus all its descendants,
    and how many processes that is. Pages shared between processes (libraries,
    copy-on-write) count once per process, as ``ps`` would count them."""
    return _resident(descendants(pid if pid is not None else os.getpid()))


class TreeSampler:
    """Samples the resident memory of this process and its descendants in a
    background thread and keeps the peak, so a crawl's children (a process pool,
    gevent's child) are counted together with the crawl process at the same instant.

    Reading one process's size is cheap; finding the descendants means reading a
    file per thread, so once that takes more than ``slow_scan`` seconds (hundreds of
    threads) they are looked up again only every ``rescan`` samples.
    """

    def __init__(self, interval: float = 0.1, rescan: int = 5, slow_scan: float = 0.002) -> None:
        self.interval = interval
        self.rescan = rescan
        self.slow_scan = slow_scan
        self._every = 1  # samples between two listings of the tree; sampler thread only
        self.peak = 0  # bytes; written by the sampler thread, read after stop()
        self.peak_processes = 0
        self.child_peak = 0  # bytes: the largest VmHWM seen in a descendant; sampler only
        self._pids: list[int] = []  # the tree as last listed; used by the sampler thread only
        self._samples = 0
        self._stop = threading.Event()  # set by stop(): ends the sampling loop
        self._thread = threading.Thread(target=self._run, name="crawlkit-rss", daemon=True)

    def _sample(self, rescan: bool = False) -> None:
        if rescan or self._samples % self._every == 0:
            begun = time.perf_counter()
            self._pids = descendants(os.getpid())
            slow = time.perf_counter() - begun > self.slow_scan
            self._every = self.rescan if slow else 1
        self._samples += 1
        rss, processes = _resident(self._pids)
        if rss > self.peak:
            self.peak, self.peak_processes = rss, processes
        me = os.getpid()
        for pid in self._pids:
            if pid != me:
                self.child_peak = max(self.child_peak, high_water(pid))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        """Take a first sample and start sampling."""
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling after a last sample of the tree as it is now."""
        self._stop.set()
        self._thread.join()
        self._sample(rescan=True)


def _rusage() -> tuple[float, float, float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime, me.ru_stime, kids.ru_utime, kids.ru_stime


def measure(
    settings: CrawlSettings,
    spider: Spider,
    seeds: Sequence[str],
    ignore_fields: Sequence[str] = ("depth",),
    cores: int | None = None,
) -> dict[str, Any]:
    """Run one crawl and return its measurements (JSON-serialisable).

    Keys: the :class:`~crawlkit.Stats` fields, ``wall`` (the crawl's elapsed time;
    the strategy's start-up is reported apart as ``startup``), ``latency`` (p50, p95,
    p99 in seconds), ``cpu_user``, ``cpu_sys``, ``cpu_seconds`` (this process and
    its children, start-up included), ``cpu_cores_busy`` and ``cpu_utilisation``
    (of all cores) over start-up plus the crawl,
    ``peak_rss_mb`` (this process's own peak, VmHWM), ``peak_child_rss_mb`` (the
    largest such peak among its descendants, read every 0.1 s while they live),
    ``tree_rss_mb`` (the peak of this process and all its descendants together,
    sampled every 0.1 s), ``idle_rss_mb`` (that sum before the strategy started),
    ``tree_processes`` (processes in the tree at the peak), ``breakdown`` (mean
    seconds per page), ``latencies`` (every fetch), ``urls`` and ``items``.
    """
    recorder = _Recorder(frozenset(ignore_fields))
    engine = Engine(settings, spider, recorder, observer=recorder.observe)
    idle, _ = tree_rss()
    sampler = TreeSampler()
    sampler.start()
    before = _rusage()
    try:
        stats = engine.run(seeds)
    finally:
        sampler.stop()
    after = _rusage()
    wall = stats.elapsed
    span = wall + stats.startup  # CPU figures include the strategy's start-up
    cpu_user = (after[0] - before[0]) + (after[2] - before[2])
    cpu_sys = (after[1] - before[1]) + (after[3] - before[3])
    cores = cores or len(os.sched_getaffinity(0))
    lat = stats.fetch_latencies
    pages = max(1, recorder.pages)
    doc = stats.as_dict()
    doc.update(
        wall=wall,
        pages_per_second=stats.pages / wall if wall > 0 else 0.0,
        latency={
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
            "mean": statistics.fmean(lat) if lat else 0.0,
        },
        cpu_user=cpu_user,
        cpu_sys=cpu_sys,
        cpu_seconds=cpu_user + cpu_sys,
        cpu_cores_busy=(cpu_user + cpu_sys) / span if span > 0 else 0.0,
        cpu_utilisation=(cpu_user + cpu_sys) / span / cores if span > 0 else 0.0,
        peak_rss_mb=(high_water(os.getpid())
                     or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20,
        peak_child_rss_mb=sampler.child_peak / 2**20,
        tree_rss_mb=sampler.peak / 2**20,
        idle_rss_mb=idle / 2**20,
        tree_processes=sampler.peak_processes,
        breakdown={name: total / pages for name, total in recorder.totals.items()},
        latencies=list(lat),
        urls=sorted(set(recorder.urls)),
        items=sorted(recorder.items),
    )
    return doc
