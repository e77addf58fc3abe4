"""``compare``: the same crawl once per strategy, each in a fresh process, measured.

Each (repeat, mode) run is a separate ``python -m crawlkit measure`` process, so
gevent's patching, warm caches or a grown heap never leak from one mode into the
next. Runs go one after another, interleaved by repeat (all modes, then all
modes again) so slow drift of the machine spreads over every mode.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from ..errors import CrawlkitError, UsageError
from ..fetchers import known_modes, strategy_class

SCHEMA = "crawlkit.lab.compare/2"
METRICS = (
    "pages_ok",
    "pages_failed",
    "wall",
    "startup",
    "pages_per_second",
    "latency.p50",
    "latency.p95",
    "latency.p99",
    "cpu_user",
    "cpu_sys",
    "cpu_seconds",
    "cpu_cores_busy",
    "cpu_utilisation",
    "peak_rss_mb",
    "peak_child_rss_mb",
    "tree_rss_mb",
    "idle_rss_mb",
    "breakdown.queued",
    "breakdown.ttfb",
    "breakdown.download",
    "breakdown.parse",
    "breakdown.transfer",
)
_PACKAGES = ("crawlkit", "requests", "aiohttp", "gevent", "beautifulsoup4", "lxml",
             "selectolax", "orjson")


class CompareError(CrawlkitError):
    """A measured run failed to produce its measurements."""


def parse_modes(text: str) -> tuple[str, ...]:
    """``"all"`` or a comma-separated list of modes (``module:Class`` strategies allowed).

    Raises:
        UsageError: an unknown or repeated mode, or an empty list.
    """
    if text.strip() == "all":
        return known_modes()
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes:
        raise UsageError("--modes needs at least one mode")
    for mode in modes:
        if mode not in known_modes() and ":" not in mode:
            choices = ", ".join(known_modes())
            raise UsageError(f"unknown mode {mode!r} in --modes; choose from all, {choices}")
    if len(set(modes)) != len(modes):
        raise UsageError("--modes lists a mode twice")
    return modes


def machine_facts() -> dict[str, Any]:
    """CPU count, the 1-minute load average now (other work on the machine
    disturbs every figure), Python and platform, and the versions of the packages
    that matter."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": os.getloadavg()[0],
        "packages": versions,
    }


def machine_was_busy(machine: dict[str, Any] | None) -> bool:
    """Other work held the cores during the runs: the load average exceeds the usable
    cores plus the one core the measured runs (one at a time) keep busy themselves."""
    if not machine or machine.get("load_average") is None:
        return False
    return float(machine["load_average"]) > int(machine["usable_cores"]) + 1


def _dig(doc: dict[str, Any], dotted: str) -> float:
    value: Any = doc
    for part in dotted.split("."):
        value = value[part]
    return float(value)


def summarise(runs: Sequence[dict[str, Any]], modes: Sequence[str]) -> dict[str, Any]:
    """min / median / max of every metric, per mode, over its repeats."""
    out: dict[str, Any] = {}
    for mode in modes:
        mine = [r for r in runs if r["mode"] == mode]
        if not mine:
            continue
        entry: dict[str, Any] = {"repeats": len(mine)}
        for metric in METRICS:
            values = [_dig(r, metric) for r in mine]
            entry[metric] = {
                "min": min(values),
                "median": statistics.median(values),
                "max": max(values),
            }
        out[mode] = entry
    return out


def check_agreement(evidence: dict[str, tuple[Sequence[str], Sequence[str]]]) -> dict[str, Any]:
    """Compare what every mode crawled with the first mode's: URLs tried and items.

    ``evidence`` maps a mode to (URLs tried, items as canonical JSON strings).
    Returns ``{"agree": bool, "reference": mode, "differences": {mode: {...}}}``
    with counts and a few examples of each difference.
    """
    modes = list(evidence)
    if not modes:
        return {"agree": True, "reference": None, "differences": {}}
    reference = modes[0]
    ref_urls = set(evidence[reference][0])
    ref_items = Counter(evidence[reference][1])
    differences: dict[str, Any] = {}
    for mode in modes[1:]:
        urls = set(evidence[mode][0])
        items = Counter(evidence[mode][1])
        missing_urls = sorted(ref_urls - urls)
        extra_urls = sorted(urls - ref_urls)
        missing_items = list((ref_items - items).elements())
        extra_items = list((items - ref_items).elements())
        if missing_urls or extra_urls or missing_items or extra_items:
            differences[mode] = {
                "missing_urls": len(missing_urls),
                "extra_urls": len(extra_urls),
                "missing_items": len(missing_items),
                "extra_items": len(extra_items),
                "examples": {
                    "missing_urls": missing_urls[:5],
                    "extra_urls": extra_urls[:5],
                    "missing_items": sorted(missing_items)[:3],
                    "extra_items": sorted(extra_items)[:3],
                },
            }
    return {"agree": not differences, "reference": reference, "differences": differences}


def mode_facts(mode: str) -> dict[str, str]:
    """What a comparison must say beside a mode's figures: the HTTP client it fetches
    with and where its parse (with the spider) runs, from the strategy's facts."""
    try:
        cls = strategy_class(mode)
    except CrawlkitError:
        return {"http_client": "unknown", "parse": "unknown"}
    in_process = getattr(cls, "spider_in_process", True)
    return {"http_client": str(getattr(cls, "http_client", "unknown")),
            "parse": "in-process" if in_process else "worker processes"}


CHEAPER = 0.9
"""A mode within noise of the fastest is advised instead when its CPU seconds are
below this fraction of the fastest's."""


def recommend(results: dict[str, Any]) -> dict[str, Any]:
    """The mode to use for the crawl ``results`` measured, and why.

    Candidates are the modes that agreed with the reference on URLs and items (a
    mode that lost pages is never advised). The fastest by median pages/s leads;
    modes whose fastest run reaches its slowest run are within noise of it, and of
    that group the one that used the least CPU is recommended, if it used clearly
    less (under :data:`CHEAPER` times the fastest's CPU seconds). Returns the
    ``fastest`` mode, its ``ties``, the ``recommended`` mode (``cheapest_of_fastest``
    too), its ``pages_per_second`` and ``why``, one sentence with the figures.
    """
    modes = results["modes"]
    lost = set(results.get("agreement", {}).get("differences", {}))
    pool = [m for m in modes if m not in lost] or list(modes)

    def rate(mode: str, stat: str = "median") -> float:
        return float(modes[mode]["pages_per_second"][stat])

    best = max(pool, key=rate)
    ties = [m for m in pool if m != best and rate(m, "max") >= rate(best, "min")]
    def cpu(mode: str) -> float:
        return float(modes[mode]["cpu_seconds"]["median"])

    cheapest = min([best, *ties], key=cpu)
    if cpu(cheapest) > CHEAPER * cpu(best):  # about the same CPU: the best median stays
        cheapest = best
    others = [m for m in pool if m != best]
    if not others:
        why = f"the only mode measured ({rate(best):.1f} pages/s)"
    elif not ties:
        runner = max(others, key=lambda m: rate(m, "max"))
        single = all(modes[m]["repeats"] == 1 for m in pool)
        why = (f"its {'one run' if single else 'slowest run'} ({rate(best, 'min'):.1f} pages/s) "
               f"beats every other mode's {'run' if single else 'fastest'} (best: {runner}, "
               f"{rate(runner, 'max'):.1f} pages/s)")
        if single:
            why += "; one run per mode, so no spread to judge the noise by: use --repeat 3"
    else:
        why = (f"{best} has the best median ({rate(best):.1f} pages/s) but "
               f"{', '.join(ties)} {'is' if len(ties) == 1 else 'are'} within noise of it "
               "(their fastest run reaches its slowest)")
        if cheapest == best:
            why += (f"; none of those used clearly less CPU than its "
                    f"{cpu(best):.3f} s, so the best median stays")
        else:
            why += (f"; of those, {cheapest} used the least CPU "
                    f"({cpu(cheapest):.3f} s vs {cpu(best):.3f} s)")
    if lost:
        why += f"; not advised because they disagreed with the reference: {', '.join(sorted(lost))}"
    return {"fastest": best, "ties": ties, "cheapest_of_fastest": cheapest,
            "recommended": cheapest, "pages_per_second": rate(best), "why": why}


def advice_text(results: dict[str, Any]) -> str:
    """The closing line of a comparison: the recommended mode for this crawl and why."""
    rec = recommend(results)
    return f"Recommended for this crawl: {rec['recommended']}: {rec['why']}."


@dataclass(frozen=True)
class ComparePlan:
    """What to run: the seeds, the modes, the crawl flags passed to every run."""

    seeds_file: str
    modes: tuple[str, ...]
    crawl_args: tuple[str, ...] = ()
    repeat: int = 1
    env: tuple[tuple[str, str], ...] = ()
    label: str = ""


def run_once(plan: ComparePlan, mode: str) -> dict[str, Any]:
    """One measured crawl of ``plan`` with ``mode``, in a fresh Python process."""
    with tempfile.TemporaryDirectory(prefix="crawlkit-measure-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "crawlkit", "measure", plan.seeds_file,
               "--mode", mode, "--result", str(result), *plan.crawl_args]
        env = dict(os.environ)
        env.update(plan.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0 or not result.exists():
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise CompareError(f"the {mode} run failed (exit {proc.returncode}): {tail}")
        doc: dict[str, Any] = orjson.loads(result.read_bytes())
        return doc


def run_plan(
    plan: ComparePlan, progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run every mode ``plan.repeat`` times; return the results document and the raw
    fetch latencies per mode (for charts)."""
    if plan.repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {plan.repeat}")
    runs: list[dict[str, Any]] = []
    evidence: dict[str, tuple[Sequence[str], Sequence[str]]] = {}
    latencies: dict[str, list[float]] = {m: [] for m in plan.modes}
    for repeat in range(plan.repeat):
        for mode in plan.modes:
            if progress:
                progress(f"{plan.label or 'compare'}: {mode} (run {repeat + 1}/{plan.repeat})")
            doc = run_once(plan, mode)
            urls = doc.pop("urls")
            items = doc.pop("items")
            latencies[mode].extend(doc.pop("latencies"))
            evidence.setdefault(mode, (urls, items))
            runs.append({"mode": mode, "repeat": repeat, **doc})
    results = {
        "schema": SCHEMA,
        "machine": machine_facts(),
        "plan": {
            "label": plan.label,
            "modes": list(plan.modes),
            "repeat": plan.repeat,
            "crawl_args": list(plan.crawl_args),
            "env": dict(plan.env),
        },
        "facts": {mode: mode_facts(mode) for mode in plan.modes},
        "runs": runs,
        "modes": summarise(runs, plan.modes),
        "agreement": check_agreement(evidence),
    }
    return results, latencies


def validate_results(doc: dict[str, Any]) -> list[str]:
    """Problems with a results document (an empty list when it is well formed)."""
    problems: list[str] = []
    if doc.get("schema") != SCHEMA:
        problems.append(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    for key in ("machine", "plan", "facts", "runs", "modes", "agreement"):
        if key not in doc:
            problems.append(f"missing key {key!r}")
    if problems:
        return problems
    for key in ("cpu_count", "python", "packages"):
        if key not in doc["machine"]:
            problems.append(f"machine lacks {key!r}")
    modes = doc["plan"]["modes"]
    for run in doc["runs"]:
        for metric in METRICS:
            try:
                value = _dig(run, metric)
            except (KeyError, TypeError, ValueError):
                problems.append(f"run {run.get('mode')}#{run.get('repeat')} lacks {metric}")
                continue
            if value < 0:
                problems.append(f"run {run['mode']}#{run['repeat']} has negative {metric}")
    for mode in modes:
        if not doc["facts"].get(mode, {}).get("http_client"):
            problems.append(f"mode {mode!r}: no HTTP client named")
        entry = doc["modes"].get(mode)
        if entry is None:
            problems.append(f"no summary for mode {mode!r}")
            continue
        if entry["repeats"] != doc["plan"]["repeat"]:
            problems.append(f"mode {mode!r} has {entry['repeats']} repeats")
        for metric in METRICS:
            stat = entry.get(metric)
            if not stat or not stat["min"] <= stat["median"] <= stat["max"]:
                problems.append(f"mode {mode!r}: bad summary of {metric}")
    if not isinstance(doc["agreement"].get("agree"), bool):
        problems.append("agreement.agree is not a boolean")
    return problems
