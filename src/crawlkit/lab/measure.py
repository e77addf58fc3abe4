"""One measured crawl, run in a fresh process by ``compare`` and ``bench``.

``python -m crawlkit measure`` runs the crawl like ``crawl`` does, then writes a
JSON document with what it measured and, for the agreement check, the URLs it
tried and the items it produced.
"""

from __future__ import annotations

import resource
import statistics
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
    ``peak_rss_mb``, ``peak_child_rss_mb``, ``breakdown`` (mean seconds per
    page), ``latencies`` (every fetch), ``urls`` and ``items``.
    """
    import os

    recorder = _Recorder(frozenset(ignore_fields))
    engine = Engine(settings, spider, recorder, observer=recorder.observe)
    before = _rusage()
    stats = engine.run(seeds)
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
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        peak_child_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        breakdown={name: total / pages for name, total in recorder.totals.items()},
        latencies=list(lat),
        urls=sorted(set(recorder.urls)),
        items=sorted(recorder.items),
    )
    return doc
