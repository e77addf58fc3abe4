"""``crawlkit bench``: every mode on named workloads over built-in loopback sites.

Workloads:
    overhead  zero-latency small pages, a spider that does nothing: the harness alone,
              and a bare loop of each HTTP client beside it (how much of a gap is the client)
    io        small pages, 100 ms per response: waiting dominates
    cpu       100 KB+ pages, a spider that builds and walks a BeautifulSoup tree
    mixed     both at once (not in --quick)
    memory    hundreds of slow pages (seconds each) all in flight at once: resident
              memory per in-flight request, per mode whose concurrency is not fixed
    creation  a pool reused vs a new thread or process per task, on the same parse job;
              the memory an idle thread and an idle process add
    sweep     concurrency x parse cost for the main strategies (not in --quick)

The report ends with a recommendation per crawl workload and the tutorial's claims
about threads, the GIL, processes, pools and asyncio, each set against the numbers
measured here: confirmed, refuted or not shown.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..fetchers import MODES, modes_where, strategy_class
from .clients import CLIENTS
from .compare import (
    CompareError,
    ComparePlan,
    machine_was_busy,
    mode_facts,
    recommend,
    run_once,
    run_plan,
)
from .demo import DemoSite, SiteSpec
from .slow import SlowSite, SlowSpec

BENCH_SCHEMA = "crawlkit.lab.bench/2"
_HEAVY = "crawlkit.lab.bench_spiders:HeavySpider"
_NULL = "crawlkit.lab.bench_spiders:NullSpider"


@dataclass(frozen=True)
class Workload:
    """A site shape, a spider and crawl flags, measured over every mode."""

    name: str
    description: str
    spec: SiteSpec
    args: tuple[str, ...]
    repeat: int = 3
    env: tuple[tuple[str, str], ...] = ()
    bare_clients: int = 0
    """When not 0: also run each HTTP client's bare loop over the site, this many rounds."""


@dataclass(frozen=True)
class BenchSize:
    """How big each workload is: a full run, ``--quick`` or the tests' tiny run."""

    workloads: dict[str, Workload]
    memory: SlowSpec
    memory_repeat: int
    creation_tasks: int
    creation_units: int
    sweep: bool = False
    default_names: tuple[str, ...] = field(default=())


def _limits(concurrency: int) -> tuple[str, ...]:
    """Concurrency with the per-host limit raised to match (every site here is one host)."""
    return ("--concurrency", str(concurrency), "--per-host", str(concurrency))


def bench_size(quick: bool, tiny: bool = False) -> BenchSize:
    """The workloads, sized for a full run, for ``--quick`` (under 2 minutes on 2
    cores) or ``tiny`` (a few seconds per workload: for tests of the report)."""
    # every crawl workload crawls its whole site, so all modes must try exactly the same URLs
    if tiny:
        return BenchSize(
            {"overhead": Workload("overhead", "harness alone: zero latency, null spider",
                                  SiteSpec(pages=20, page_bytes=512),
                                  ("--follow", "--spider", _NULL, *_limits(4)), repeat=1,
                                  bare_clients=2)},
            SlowSpec(pages=24, latency_min=0.4, latency_max=0.6), 1, 2, 2,
            default_names=("overhead", "memory", "creation"))
    if quick:
        return BenchSize({
            "overhead": Workload("overhead", "harness alone: zero latency, null spider",
                                 SiteSpec(pages=100, page_bytes=512),
                                 ("--follow", "--spider", _NULL, *_limits(16)), repeat=2,
                                 bare_clients=5),
            "io": Workload("io", "small pages, 100 ms per response",
                           SiteSpec(pages=30, latency=0.1, page_bytes=2048),
                           ("--follow", *_limits(32)), repeat=2),
            "cpu": Workload("cpu", "120 KB pages, BeautifulSoup spider, no latency",
                            SiteSpec(pages=30, page_bytes=120_000),
                            ("--follow", "--spider", _HEAVY, *_limits(16)), repeat=2),
        }, SlowSpec(pages=200, latency_min=1.0, latency_max=1.5), 1, 6, 3,
            default_names=("overhead", "io", "cpu", "memory", "creation"))
    return BenchSize({
        "overhead": Workload("overhead", "harness alone: zero latency, null spider",
                             SiteSpec(pages=1000, page_bytes=512),
                             ("--follow", "--spider", _NULL, *_limits(16)), bare_clients=3),
        "io": Workload("io", "small pages, 100 ms per response",
                       SiteSpec(pages=1000, latency=0.1, page_bytes=2048),
                       ("--follow", *_limits(64))),
        "cpu": Workload("cpu", "120 KB pages, BeautifulSoup spider, no latency",
                        SiteSpec(pages=120, page_bytes=120_000),
                        ("--follow", "--spider", _HEAVY, *_limits(16))),
        "mixed": Workload("mixed", "100 KB pages, 50 ms per response, BeautifulSoup spider",
                          SiteSpec(pages=120, latency=0.05, page_bytes=100_000),
                          ("--follow", "--spider", _HEAVY, *_limits(32))),
    }, SlowSpec(pages=1000, latency_min=2.0, latency_max=5.0), 2, 48, 16, sweep=True,
        default_names=("overhead", "io", "cpu", "mixed", "memory", "creation", "sweep"))


def workload_table(quick: bool) -> dict[str, Workload]:
    """The crawl workloads of a full run or of ``--quick``."""
    return bench_size(quick).workloads


WORKLOADS = ("overhead", "io", "cpu", "mixed", "memory", "creation", "sweep")


def sweep_modes() -> tuple[str, ...]:
    """One mode per concurrency model, from the strategies' facts: every mode whose
    concurrency is not fixed, the first of each (HTTP client, spider in process)."""
    seen: dict[tuple[str, bool], str] = {}
    for mode in modes_where("fixed_concurrency", False):
        cls = strategy_class(mode)
        key = (getattr(cls, "http_client", mode), getattr(cls, "spider_in_process", True))
        seen.setdefault(key, mode)
    return tuple(seen.values())


def memory_modes() -> tuple[str, ...]:
    """The built-in modes that can hold many requests in flight (not ``sync``)."""
    unfixed = set(modes_where("fixed_concurrency", False))
    return tuple(m for m in MODES if m in unfixed)


SWEEP_CONCURRENCY = (1, 4, 16, 64)
SWEEP_ROUNDS = (0, 1, 3)


def raise_open_files_limit() -> dict[str, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (the crawls it starts
    inherit it): a thousand connections in flight need a thousand and more descriptors
    in the crawl process and as many in the site's server here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    else:
        target = soft
    return {"before": soft, "after": target,
            "hard": -1 if hard == resource.RLIM_INFINITY else hard}


def _seed_file(tmp: Path, site: DemoSite) -> str:
    path = tmp / "seeds.txt"
    path.write_text(site.url + "/\n", encoding="utf-8")
    return str(path)


def _bare_clients(site: DemoSite, workload: Workload, tmp: Path) -> dict[str, Any]:
    """Each client's bare loop over every page of the site, at the workload's concurrency."""
    urls = tmp / "bare-urls.txt"
    urls.write_text("\n".join(f"{site.url}/page/{i}" for i in range(workload.spec.pages)),
                    encoding="utf-8")
    concurrency = workload.args[workload.args.index("--concurrency") + 1]
    out: dict[str, Any] = {}
    for client in CLIENTS:
        _progress(f"{workload.name}: bare {client} loop")
        proc = subprocess.run(
            [sys.executable, "-m", "crawlkit.lab.clients", "--client", client,
             "--concurrency", concurrency, "--rounds", str(workload.bare_clients), str(urls)],
            capture_output=True, text=True, env=_child_env())
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise CompareError(f"the bare {client} loop failed: {tail}")
        out[client] = orjson.loads(proc.stdout)
    return out


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def run_workload(workload: Workload, tmp: Path) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Serve the workload's site on loopback and compare every mode on it."""
    with DemoSite(workload.spec) as site:
        plan = ComparePlan(_seed_file(tmp, site), MODES, workload.args, workload.repeat,
                           env=workload.env, label=workload.name)
        results, latencies = run_plan(plan, progress=_progress)
        if workload.bare_clients:
            results["clients"] = _bare_clients(site, workload, tmp)
    results["workload"] = {"name": workload.name, "description": workload.description,
                           "site": vars(workload.spec)}
    if "clients" in results:
        results["client_share"] = client_share(results)
    return results, latencies


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def run_memory(spec: SlowSpec, repeat: int, tmp: Path) -> dict[str, Any]:
    """Every mode that is not one-at-a-time crawls the slow site with the concurrency
    as high as its page count; per run: the peak resident memory of the crawl's
    process tree, its idle baseline and the requests the server held at once."""
    modes = memory_modes()
    target = spec.pages
    args = ("--concurrency", str(target), "--per-host", str(target))
    runs: list[dict[str, Any]] = []
    with SlowSite(spec) as site:
        seeds = tmp / "slow-seeds.txt"
        seeds.write_text("\n".join(site.urls()) + "\n", encoding="utf-8")
        plan = ComparePlan(str(seeds), modes, args, repeat, label="memory")
        for rep in range(repeat):
            for mode in modes:
                _progress(f"memory: {mode} with {target} in flight (run {rep + 1}/{repeat})")
                site.reset_peak()
                doc = run_once(plan, mode)
                in_flight = site.peak_in_flight
                grown = max(0.0, doc["tree_rss_mb"] - doc["idle_rss_mb"])
                runs.append({
                    "mode": mode, "repeat": rep, "in_flight": in_flight,
                    "tree_rss_mb": doc["tree_rss_mb"], "idle_rss_mb": doc["idle_rss_mb"],
                    "tree_processes": doc["tree_processes"],
                    "kb_per_in_flight": grown * 1024 / in_flight if in_flight else 0.0,
                    "pages_ok": doc["pages_ok"], "pages_failed": doc["pages_failed"],
                    "pages_per_second": doc["pages_per_second"],
                    "cpu_seconds": doc["cpu_seconds"],
                })
    summary = {
        mode: {"repeats": len(mine), **{
            key: _stats([float(r[key]) for r in mine])
            for key in ("in_flight", "tree_rss_mb", "idle_rss_mb", "tree_processes",
                        "kb_per_in_flight", "pages_ok", "pages_failed", "pages_per_second",
                        "cpu_seconds")}}
        for mode in modes if (mine := [r for r in runs if r["mode"] == mode])
    }
    return {"site": vars(spec), "target_in_flight": target, "crawl_args": list(args),
            "repeat": repeat, "facts": {m: mode_facts(m) for m in modes},
            "runs": runs, "modes": summary}


def run_creation(tasks: int, units: int) -> dict[str, Any]:
    """:mod:`.creation` in a fresh process: pool vs one per task, and idle footprints."""
    _progress(f"creation: {tasks} parse tasks four ways, {units} idle threads and processes")
    proc = subprocess.run(
        [sys.executable, "-m", "crawlkit.lab.creation", "--tasks", str(tasks),
         "--units", str(units)], capture_output=True, text=True, env=_child_env())
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise CompareError(f"the creation-cost run failed: {tail}")
    doc: dict[str, Any] = orjson.loads(proc.stdout)
    return doc


def run_sweep(tmp: Path) -> dict[str, Any]:
    """pages/s of each sweep mode for every (concurrency, parse rounds) cell."""
    modes = sweep_modes()
    grid: dict[str, Any] = {m: {} for m in modes}
    spec = SiteSpec(pages=40, latency=0.02, page_bytes=60_000)
    with DemoSite(spec) as site:
        seeds = _seed_file(tmp, site)
        for rounds in SWEEP_ROUNDS:
            for concurrency in SWEEP_CONCURRENCY:
                args = ("--follow", "--spider", _HEAVY, *_limits(concurrency))
                plan = ComparePlan(seeds, modes, args, 1,
                                   env=(("CRAWLKIT_BENCH_ROUNDS", str(rounds)),),
                                   label=f"sweep c={concurrency} rounds={rounds}")
                results, _ = run_plan(plan, progress=_progress)
                for mode in modes:
                    rate = results["modes"][mode]["pages_per_second"]["median"]
                    grid[mode][f"{concurrency}x{rounds}"] = rate
    return {"concurrency": list(SWEEP_CONCURRENCY), "rounds": list(SWEEP_ROUNDS),
            "pages_per_second": grid}


def _progress(message: str) -> None:
    print(f"crawlkit bench: {message}", file=sys.stderr)


def _median(results: dict[str, Any], mode: str, metric: str = "pages_per_second") -> float:
    return float(results["modes"][mode][metric]["median"])


def client_share(results: dict[str, Any]) -> dict[str, Any] | None:
    """How much of the gap between two crawl modes that differ in HTTP client is the
    client itself.

    For each client with a bare loop, the fastest mode that fetches with it and parses
    in-process (so only the concurrency model and crawlkit's harness sit on top);
    the gap between the fastest and the slowest of those modes, in ms per page, is
    set against the gap between their clients' bare loops at the same concurrency.
    ``None`` when fewer than two clients can be compared.
    """
    bare = results.get("clients") or {}
    facts = results.get("facts") or {m: mode_facts(m) for m in results["modes"]}
    unfixed = set(modes_where("fixed_concurrency", False))
    best: dict[str, str] = {}
    for mode in results["modes"]:
        fact = facts.get(mode) or mode_facts(mode)
        client = fact["http_client"]
        usable = client in bare and fact["parse"] == "in-process" and mode in unfixed
        if usable and (client not in best
                       or _median(results, mode) > _median(results, best[client])):
            best[client] = mode
    if len(best) < 2:
        return None
    fast = max(best.values(), key=lambda m: _median(results, m))
    slow = min(best.values(), key=lambda m: _median(results, m))
    fast_client, slow_client = facts[fast]["http_client"], facts[slow]["http_client"]
    crawl_gap = 1000 / _median(results, slow) - 1000 / _median(results, fast)
    bare_fast = float(bare[fast_client]["requests_per_second"])
    bare_slow = float(bare[slow_client]["requests_per_second"])
    bare_gap = 1000 / bare_slow - 1000 / bare_fast
    share = bare_gap / crawl_gap if crawl_gap > 0 else None
    if share is None:
        verdict = f"{slow} and {fast} run at the same rate: there is no gap to explain"
    elif share >= 1:
        verdict = (f"the bare clients differ by more than the modes do ({share:.0%} of the "
                   f"gap): the client explains all of it, and crawlkit's harness narrows it")
    elif share <= 0:
        verdict = (f"bare {slow_client} is the faster client, so the client does not explain "
                   "the gap: the concurrency model and the harness do")
    else:
        verdict = (f"the client accounts for {share:.0%} of the gap; the concurrency model "
                   f"and the harness for the other {1 - share:.0%}")
    concurrency = bare[fast_client]["concurrency"]
    text = (f"client share of the gap: {slow} ({slow_client}) {_median(results, slow):.0f} vs "
            f"{fast} ({fast_client}) {_median(results, fast):.0f} pages/s = "
            f"{crawl_gap:.2f} ms per page apart; bare {slow_client} {bare_slow:.0f} vs bare "
            f"{fast_client} {bare_fast:.0f} requests/s at concurrency {concurrency} = "
            f"{abs(bare_gap):.2f} ms per request apart: {verdict}")
    return {"slow_mode": slow, "fast_mode": fast, "crawl_gap_ms": crawl_gap,
            "bare_gap_ms": bare_gap, "share": share, "text": text}


def contended(machine: dict[str, Any] | None) -> str:
    """A note when other work held the cores during a workload
    (:func:`~.compare.machine_was_busy`), else "".

    Claims about sharing CPU between threads or processes cannot be judged then:
    the scheduler hands a process with more runnable threads a bigger share of a
    busy machine, and worker processes wait for cores that others hold."""
    if not machine or not machine_was_busy(machine):
        return ""
    load, cores = float(machine["load_average"]), int(machine["usable_cores"])
    return (f"; other work held the cores (load average {load:.1f} on {cores} cores), "
            "so CPU-bound figures cannot tell")


def _claim(claim: str, evidence: str, verdict: str) -> dict[str, Any]:
    return {"claim": claim, "evidence": evidence, "verdict": verdict}


def ratio_verdict(ratio: float, confirm_at: float, refute_at: float) -> str:
    """``confirmed`` when ``ratio`` reaches ``confirm_at``, ``refuted`` when it reaches
    ``refute_at`` (on the other side), ``not shown`` in between.

    The claim's direction comes from the order: ``confirm_at > refute_at`` means
    "bigger confirms" (e.g. a speed-up), ``confirm_at < refute_at`` "smaller confirms"
    (e.g. a memory ratio).
    """
    if confirm_at >= refute_at:
        return ("confirmed" if ratio >= confirm_at
                else "refuted" if ratio <= refute_at else "not shown")
    return ("confirmed" if ratio <= confirm_at
            else "refuted" if ratio >= refute_at else "not shown")


def thread_modes(modes: Sequence[str]) -> list[str]:
    """The modes of ``modes`` that hold their requests in threads, from the strategies'
    facts: requests blocks, so a mode that keeps many requests in flight with it in
    the crawl process runs each one in a thread."""
    unfixed = set(modes_where("fixed_concurrency", False))
    return [m for m in modes if m in unfixed and mode_facts(m) == {
        "http_client": "requests", "parse": "in-process"}]


MEMORY_CLAIM = "asyncio scales I/O with less memory than threads."


def _memory_claim(memory: dict[str, Any]) -> dict[str, Any] | None:
    modes = memory["modes"]
    threads = thread_modes(modes)
    if "async" not in modes or not threads:
        return None
    thread = min(threads, key=lambda m: _median(memory, m, "kb_per_in_flight"))
    target = memory["target_in_flight"]
    kb_async = _median(memory, "async", "kb_per_in_flight")
    kb_thread = _median(memory, thread, "kb_per_in_flight")
    reached = min(_median(memory, m, "in_flight") for m in ("async", thread))
    evidence = (f"memory, {target} slow pages all in flight: async "
                f"{kb_async:.0f} KB per in-flight request vs {thread} {kb_thread:.0f} KB "
                f"(tree peak {_median(memory, 'async', 'tree_rss_mb'):.0f} MB vs "
                f"{_median(memory, thread, 'tree_rss_mb'):.0f} MB, idle "
                f"{_median(memory, 'async', 'idle_rss_mb'):.0f} vs "
                f"{_median(memory, thread, 'idle_rss_mb'):.0f} MB; "
                f"{reached:.0f} in flight at the peak)")
    rate = _median(memory, "async") / max(_median(memory, thread), 1e-9)
    if reached < 0.9 * target:
        verdict = "not shown"
        evidence += f"; fewer than 90% of {target} requests were in flight at once"
    elif rate < 0.8:
        verdict = "refuted"
        evidence += f"; async ran at {rate:.2f}x {thread}'s pages/s"
    else:
        verdict = ratio_verdict(kb_async / kb_thread if kb_thread > 0 else 1.0, 0.8, 1.25)
    return _claim(MEMORY_CLAIM, evidence, verdict)


def _creation_claims(creation: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    job = float(creation["job_ms"])
    per = creation["per_task_ms"]
    for kind, name in (("process", "A process pool"), ("thread", "A thread pool")):
        start = float(creation["start_ms"][kind])
        pooled, each = float(per[f"{kind}_pool"]), float(per[f"{kind}_per_task"])
        share = start / job if job > 0 else 0.0
        if share < 0.01 or pooled > 1.1 * each:  # nothing worth saving, or the pool lost
            verdict = "refuted"
        elif share >= 0.1 and each >= 1.1 * pooled:
            verdict = "confirmed"
        else:
            verdict = "not shown"
        evidence_note = ""
        if share < 0.01 and each > 1.1 * pooled:
            evidence_note = (f"; the totals differ by more than starting {kind}s can cost: "
                             "the rest is not the start (noise shows in such short runs)")
        out.append(_claim(
            f"{name} pays off by saving the cost of starting a {kind} per task.",
            f"creation, {creation['tasks']} parse jobs of {job:.1f} ms, "
            f"{creation['workers']} at once: pool {pooled:.1f} ms per task vs a new {kind} "
            f"per task {each:.1f} ms; starting one {kind}"
            f"{' (' + creation['start_method'] + ')' if kind == 'process' else ''} costs "
            f"{start:.2f} ms = {share:.1%} of the job{evidence_note}",
            verdict))
    thread_mb = float(creation["idle_mb_each"]["thread"])
    process_mb = float(creation["idle_mb_each"]["process"])
    ratio = process_mb / thread_mb if thread_mb > 0 else float("inf") if process_mb else 1.0
    out.append(_claim(
        "Threads use memory more efficiently than processes.",
        f"creation: an idle thread adds {thread_mb * 1024:.0f} KB of resident memory, an "
        f"idle process {process_mb:.1f} MB ({creation['units']} of each alive at once)",
        ratio_verdict(ratio, 2.0, 1.0)))
    return out


def claims(
    found: dict[str, dict[str, Any]],
    memory: dict[str, Any] | None = None,
    creation: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The tutorial's advice, each claim with the figures measured here and a verdict:
    ``confirmed``, ``refuted`` or ``not shown`` (the figures cannot tell)."""
    out: list[dict[str, Any]] = []
    io, cpu = found.get("io"), found.get("cpu")
    if io:
        threads = max(_median(io, "threaded"), _median(io, "threadpool"))
        ratio = threads / _median(io, "sync")
        out.append(_claim(
            "Threads help I/O-bound work.",
            f"io: best thread mode {threads:.1f} pages/s vs sync "
            f"{_median(io, 'sync'):.1f} pages/s = {ratio:.1f}x",
            ratio_verdict(ratio, 2.0, 1.2)))
    if cpu:
        ratio = _median(cpu, "threaded") / _median(cpu, "sync")
        busy = contended(cpu.get("machine"))
        out.append(_claim(
            "The GIL makes threads useless for CPU-bound work.",
            f"cpu: threaded {_median(cpu, 'threaded'):.1f} pages/s vs sync "
            f"{_median(cpu, 'sync'):.1f} pages/s = {ratio:.2f}x{busy}",
            "not shown" if busy else "confirmed" if ratio < 1.2 else "refuted"))
        single = max(_median(cpu, m) for m in modes_where("spider_in_process") if m in cpu["modes"])
        ratio = _median(cpu, "multiprocess") / single
        out.append(_claim(
            "Processes help CPU-bound work.",
            f"cpu: multiprocess {_median(cpu, 'multiprocess'):.1f} pages/s vs the "
            f"best single-process mode {single:.1f} pages/s = {ratio:.2f}x "
            f"({_median(cpu, 'multiprocess', 'cpu_cores_busy'):.2f} cores busy){busy}",
            "not shown" if busy else "confirmed" if ratio >= 1.3 else "refuted"))
    if memory:
        claim = _memory_claim(memory)
        if claim:
            out.append(claim)
    elif io:
        out.append(_claim(MEMORY_CLAIM, "not measured: run the memory workload", "not shown"))
    if creation:
        out += _creation_claims(creation)
    return out


def _print_memory(memory: dict[str, Any]) -> None:
    from .report import memory_rows, print_rows

    print_rows(memory_rows(memory), title=f"memory: {memory['target_in_flight']} slow "
               "pages in flight at once (KB per in-flight = tree peak - idle, per request)")


def run_bench(
    quick: bool, report_dir: Path | None, workloads: list[str] | None = None,
    tiny: bool = False,
) -> dict[str, Any]:
    """Run the bench; print tables; write the report when ``report_dir`` is given.

    ``tiny`` shrinks every workload to seconds (for tests of the report, not figures).
    """
    from .report import agreement_text, markdown_table, noise_text, print_table

    size = bench_size(quick, tiny)
    table = size.workloads
    names = list(workloads or size.default_names)
    load = os.getloadavg()[0]
    if load > len(os.sched_getaffinity(0)):
        _progress(f"load average {load:.1f}: other work shares the cores, figures will suffer")
    limits = raise_open_files_limit()
    if limits["after"] != limits["before"]:
        _progress(f"open files limit raised from {limits['before']} to {limits['after']}")
    found: dict[str, dict[str, Any]] = {}
    latencies: dict[str, dict[str, list[float]]] = {}
    memory = creation = sweep = None
    with tempfile.TemporaryDirectory(prefix="crawlkit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for name in names:
            if name not in table:
                continue
            found[name], latencies[name] = run_workload(table[name], tmp)
            print_table(found[name], title=f"{name}: {table[name].description}")
            if found[name].get("client_share"):
                print(found[name]["client_share"]["text"], file=sys.stderr)
        if "memory" in names:
            memory = run_memory(size.memory, size.memory_repeat, tmp)
            _print_memory(memory)
        if "creation" in names:
            creation = run_creation(size.creation_tasks, size.creation_units)
        if "sweep" in names:
            sweep = run_sweep(tmp)
    doc: dict[str, Any] = {
        "schema": BENCH_SCHEMA,
        "quick": quick,
        "open_files_limit": limits,
        "workloads": found,
        "recommendations": {name: recommend(res) for name, res in found.items()},
        "memory": memory,
        "creation": creation,
        "claims": claims(found, memory, creation),
        "sweep": sweep,
    }
    if "overhead" in found:
        best = max(_median(found["overhead"], m) for m in found["overhead"]["modes"])
        doc["harness_overhead_ms_per_page"] = 1000 / best if best else None
    for name, rec in doc["recommendations"].items():
        print(f"{name}: use {rec['recommended']}: {rec['why']}", file=sys.stderr)
    for claim in doc["claims"]:
        print(f"{claim['verdict'].upper()}: {claim['claim']} {claim['evidence']}",
              file=sys.stderr)
    if report_dir is not None:
        from .report import (
            columns_text,
            creation_text,
            machine_text,
            memory_table,
            write_charts,
        )

        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "results.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        lines = ["# crawlkit bench" + (" (quick)" if quick else ""), ""]
        if found:
            first = next(iter(found.values()))
            lines += [f"Machine: {machine_text(first['machine'])}.", ""]
        lines += [f"Open files limit (RLIMIT_NOFILE, soft): {limits['before']}"
                  + (f", raised to {limits['after']} (the hard limit) for the crawls"
                     if limits["after"] != limits["before"] else ", already the hard limit")
                  + ".", ""]
        if doc.get("harness_overhead_ms_per_page") is not None:
            lines += [f"Harness overhead: {doc['harness_overhead_ms_per_page']:.2f} ms per page "
                      "(best mode, null spider, zero-latency site).", ""]
        lines += ["## Recommendations", ""]
        for name, rec in doc["recommendations"].items():
            lines.append(f"- **{name}**: {rec['recommended']}: {rec['why']}.")
        lines += ["", "## The tutorial's claims, measured here", "",
                  "| claim | verdict | figures |", "|---|---|---|"]
        lines += [f"| {c['claim']} | **{c['verdict']}** | {c['evidence']} |"
                  for c in doc["claims"]]
        lines.append("")
        if memory:
            lines += ["## memory: slow pages, all in flight at once", "",
                      f"{memory['target_in_flight']} pages, each answered after "
                      f"{memory['site']['latency_min']:g}-{memory['site']['latency_max']:g} s, "
                      f"crawled with `{' '.join(memory['crawl_args'])}`. `KB per in-flight` "
                      "is (peak resident memory of the crawl process and all its children, "
                      "sampled every 0.1 s, minus the same sum before the strategy started) "
                      "divided by the most requests the server held open at once. "
                      "`sync` is left out: it holds one request at a time. Where the parse "
                      "runs in worker processes, their own memory is part of the growth, so "
                      "that figure falls as more requests share them.", "",
                      memory_table(memory), ""]
        if creation:
            lines += ["## creation: a pool vs one per task", "", creation_text(creation), ""]
        if found:
            lines += ["## Columns of the crawl tables", "", columns_text(), ""]
        for name, res in found.items():
            charts = write_charts(res, latencies[name], report_dir, prefix=f"{name}-")
            share = res.get("client_share")
            lines += [f"## {name}: {table[name].description}", "",
                      f"Flags: `{' '.join(res['plan']['crawl_args'])}`; "
                      f"{res['plan']['repeat']} runs per mode.", "",
                      markdown_table(res), agreement_text(res["agreement"]), "",
                      *([share["text"][0].upper() + share["text"][1:] + ".", ""]
                        if share else []),
                      f"Recommended: {doc['recommendations'][name]['recommended']}: "
                      f"{doc['recommendations'][name]['why']}.", "",
                      noise_text(res), "", *[f"![{c}]({c})" for c in charts], ""]
        if sweep:
            lines += ["## Concurrency x parse cost", "", "![sweep](sweep.png)", ""]
            _sweep_chart(sweep, report_dir / "sweep.png")
        (report_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
        print(f"crawlkit: report written to {report_dir}/report.md", file=sys.stderr)
    return doc


def _sweep_chart(sweep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(sweep["pages_per_second"])
    conc, rounds = sweep["concurrency"], sweep["rounds"]
    fig, axes = plt.subplots(1, len(modes), figsize=(4 * len(modes), 3.6), squeeze=False)
    top = max(v for m in modes for v in sweep["pages_per_second"][m].values()) or 1.0
    for ax, mode in zip(axes[0], modes, strict=True):
        grid = [[sweep["pages_per_second"][mode][f"{c}x{r}"] for c in conc] for r in rounds]
        ax.imshow(grid, vmin=0, vmax=top, cmap="viridis", origin="lower")
        ax.set_xticks(range(len(conc)), [str(c) for c in conc])
        ax.set_yticks(range(len(rounds)), [str(r) for r in rounds])
        ax.set_xlabel("concurrency")
        ax.set_ylabel("parse rounds per page")
        ax.set_title(mode)
        for y, row in enumerate(grid):
            for x, value in enumerate(row):
                shade = "black" if value > 0.6 * top else "white"  # readable on light cells
                ax.text(x, y, f"{value:.0f}", ha="center", va="center", color=shade)
    fig.suptitle("pages/s by concurrency and parse cost")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
