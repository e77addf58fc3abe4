"""``crawlkit bench``: every mode on named workloads over the built-in demo site.

Workloads:
    overhead  zero-latency small pages, a spider that does nothing: the harness alone
    io        small pages, 100 ms per response: waiting dominates
    cpu       100 KB+ pages, a spider that builds and walks a BeautifulSoup tree
    mixed     both at once
    sweep     concurrency x parse cost for the main strategies (not in --quick)

The report ends with a recommendation per workload and the classic claims about
threads, the GIL, processes and asyncio set against the numbers measured here.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..fetchers import MODES, modes_where, strategy_class
from .compare import ComparePlan, run_plan
from .demo import DemoSite, SiteSpec

BENCH_SCHEMA = "crawlkit.lab.bench/1"
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


def _limits(concurrency: int) -> tuple[str, ...]:
    """Concurrency with the per-host limit raised to match (every site here is one host)."""
    return ("--concurrency", str(concurrency), "--per-host", str(concurrency))


def workload_table(quick: bool) -> dict[str, Workload]:
    """The workloads, sized for a full run or for ``--quick`` (under 2 minutes on 2 cores)."""
    # every workload crawls its whole site, so all modes must try exactly the same URLs
    if quick:
        return {
            "overhead": Workload("overhead", "harness alone: zero latency, null spider",
                                 SiteSpec(pages=100, page_bytes=512),
                                 ("--follow", "--spider", _NULL, *_limits(16))),
            "io": Workload("io", "small pages, 100 ms per response",
                           SiteSpec(pages=30, latency=0.1, page_bytes=2048),
                           ("--follow", *_limits(32))),
            "cpu": Workload("cpu", "120 KB pages, BeautifulSoup spider, no latency",
                            SiteSpec(pages=40, page_bytes=120_000),
                            ("--follow", "--spider", _HEAVY, *_limits(16))),
        }
    return {
        "overhead": Workload("overhead", "harness alone: zero latency, null spider",
                             SiteSpec(pages=1000, page_bytes=512),
                             ("--follow", "--spider", _NULL, *_limits(16))),
        "io": Workload("io", "small pages, 100 ms per response",
                       SiteSpec(pages=1000, latency=0.1, page_bytes=2048),
                       ("--follow", *_limits(64))),
        "cpu": Workload("cpu", "120 KB pages, BeautifulSoup spider, no latency",
                        SiteSpec(pages=120, page_bytes=120_000),
                        ("--follow", "--spider", _HEAVY, *_limits(16))),
        "mixed": Workload("mixed", "100 KB pages, 50 ms per response, BeautifulSoup spider",
                          SiteSpec(pages=120, latency=0.05, page_bytes=100_000),
                          ("--follow", "--spider", _HEAVY, *_limits(32))),
    }


WORKLOADS = ("overhead", "io", "cpu", "mixed", "sweep")


def sweep_modes() -> tuple[str, ...]:
    """One mode per concurrency model, from the strategies' facts: every mode whose
    concurrency is not fixed, the first of each (HTTP client, spider in process)."""
    seen: dict[tuple[str, bool], str] = {}
    for mode in modes_where("fixed_concurrency", False):
        cls = strategy_class(mode)
        key = (getattr(cls, "http_client", mode), getattr(cls, "spider_in_process", True))
        seen.setdefault(key, mode)
    return tuple(seen.values())


SWEEP_CONCURRENCY = (1, 4, 16, 64)
SWEEP_ROUNDS = (0, 1, 3)


def _seed_file(tmp: Path, site: DemoSite) -> str:
    path = tmp / "seeds.txt"
    path.write_text(site.url + "/\n", encoding="utf-8")
    return str(path)


def run_workload(workload: Workload, tmp: Path) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Serve the workload's site on loopback and compare every mode on it."""
    with DemoSite(workload.spec) as site:
        plan = ComparePlan(_seed_file(tmp, site), MODES, workload.args, workload.repeat,
                           env=workload.env, label=workload.name)
        results, latencies = run_plan(plan, progress=_progress)
    results["workload"] = {"name": workload.name, "description": workload.description,
                           "site": vars(workload.spec)}
    return results, latencies


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


def recommend(results: dict[str, Any]) -> dict[str, Any]:
    """The fastest mode by median pages/s; modes whose range overlaps it are ties."""
    modes = results["modes"]
    best = max(modes, key=lambda m: modes[m]["pages_per_second"]["median"])
    best_min = modes[best]["pages_per_second"]["min"]
    ties = [m for m in modes if m != best and modes[m]["pages_per_second"]["max"] >= best_min]
    cheapest = min([best, *ties], key=lambda m: modes[m]["cpu_seconds"]["median"])
    return {"fastest": best, "ties": ties, "cheapest_of_fastest": cheapest,
            "pages_per_second": modes[best]["pages_per_second"]["median"]}


def claims(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The classic advice, each claim with the ratio measured here and a verdict."""
    out: list[dict[str, Any]] = []
    io, cpu = found.get("io"), found.get("cpu")
    if io:
        threads = max(_median(io, "threaded"), _median(io, "threadpool"))
        ratio = threads / _median(io, "sync")
        out.append({
            "claim": "Threads help I/O-bound work.",
            "evidence": f"io: best thread mode {threads:.1f} pages/s vs sync "
                        f"{_median(io, 'sync'):.1f} pages/s = {ratio:.1f}x",
            "verdict": "confirmed" if ratio >= 2 else "refuted",
        })
    if cpu:
        ratio = _median(cpu, "threaded") / _median(cpu, "sync")
        out.append({
            "claim": "The GIL makes threads useless for CPU-bound work.",
            "evidence": f"cpu: threaded {_median(cpu, 'threaded'):.1f} pages/s vs sync "
                        f"{_median(cpu, 'sync'):.1f} pages/s = {ratio:.2f}x",
            "verdict": "confirmed" if ratio < 1.2 else "refuted",
        })
        single = max(_median(cpu, m) for m in modes_where("spider_in_process") if m in cpu["modes"])
        ratio = _median(cpu, "multiprocess") / single
        out.append({
            "claim": "Processes help CPU-bound work.",
            "evidence": f"cpu: multiprocess {_median(cpu, 'multiprocess'):.1f} pages/s vs the "
                        f"best single-process mode {single:.1f} pages/s = {ratio:.2f}x "
                        f"({_median(cpu, 'multiprocess', 'cpu_cores_busy'):.2f} cores busy)",
            "verdict": "confirmed" if ratio >= 1.3 else "refuted",
        })
    if io:
        rate = _median(io, "async") / _median(io, "threaded")
        rss_async = _median(io, "async", "peak_rss_mb")
        rss_threads = _median(io, "threaded", "peak_rss_mb")
        if rate >= 0.9 and rss_async < 0.95 * rss_threads:
            verdict = "confirmed"
        elif rate < 0.9 or rss_async > 1.05 * rss_threads:
            verdict = "refuted"
        else:  # as fast, and memory within 5%: the difference needs more connections
            verdict = "not shown"
        out.append({
            "claim": "asyncio scales I/O with less memory than threads.",
            "evidence": f"io: async {_median(io, 'async'):.1f} vs threaded "
                        f"{_median(io, 'threaded'):.1f} pages/s ({rate:.2f}x); peak RSS "
                        f"{rss_async:.0f} MB vs {rss_threads:.0f} MB",
            "verdict": verdict,
        })
    return out


def run_bench(
    quick: bool, report_dir: Path | None, workloads: list[str] | None = None
) -> dict[str, Any]:
    """Run the bench; print tables; write the report when ``report_dir`` is given."""
    from .report import agreement_text, markdown_table, noise_text, print_table

    wanted = workloads
    table = workload_table(quick)
    names = [n for n in (wanted or [*table, *([] if quick else ["sweep"])]) if n != "sweep"]
    found: dict[str, dict[str, Any]] = {}
    latencies: dict[str, dict[str, list[float]]] = {}
    sweep = None
    with tempfile.TemporaryDirectory(prefix="crawlkit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for name in names:
            if name not in table:
                continue
            found[name], latencies[name] = run_workload(table[name], tmp)
            print_table(found[name], title=f"{name}: {table[name].description}")
        if (wanted and "sweep" in wanted) or (not wanted and not quick):
            sweep = run_sweep(tmp)
    doc: dict[str, Any] = {
        "schema": BENCH_SCHEMA,
        "quick": quick,
        "workloads": found,
        "recommendations": {name: recommend(res) for name, res in found.items()},
        "claims": claims(found),
        "sweep": sweep,
    }
    if "overhead" in found:
        best = max(_median(found["overhead"], m) for m in found["overhead"]["modes"])
        doc["harness_overhead_ms_per_page"] = 1000 / best if best else None
    for name, rec in doc["recommendations"].items():
        tie = f" (ties: {', '.join(rec['ties'])})" if rec["ties"] else ""
        print(f"{name}: use {rec['fastest']}{tie}", file=sys.stderr)
    for claim in doc["claims"]:
        print(f"{claim['verdict'].upper()}: {claim['claim']} {claim['evidence']}",
              file=sys.stderr)
    if report_dir is not None:
        from .report import machine_text, write_charts

        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "results.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        lines = ["# crawlkit bench" + (" (quick)" if quick else ""), ""]
        if found:
            first = next(iter(found.values()))
            lines += [f"Machine: {machine_text(first['machine'])}.", ""]
        if doc.get("harness_overhead_ms_per_page") is not None:
            lines += [f"Harness overhead: {doc['harness_overhead_ms_per_page']:.2f} ms per page "
                      "(best mode, null spider, zero-latency site).", ""]
        lines += ["## Recommendations", ""]
        for name, rec in doc["recommendations"].items():
            tie = f"; within noise: {', '.join(rec['ties'])}" if rec["ties"] else ""
            lines.append(f"- **{name}**: {rec['fastest']} ({rec['pages_per_second']:.1f} pages/s"
                         f"{tie}; least CPU among those: {rec['cheapest_of_fastest']})")
        lines += ["", "## The classic advice, measured here", ""]
        lines += [f"- {c['claim']} **{c['verdict']}**: {c['evidence']}." for c in doc["claims"]]
        lines.append("")
        for name, res in found.items():
            charts = write_charts(res, latencies[name], report_dir, prefix=f"{name}-")
            lines += [f"## {name}: {table[name].description}", "",
                      f"Flags: `{' '.join(res['plan']['crawl_args'])}`; "
                      f"{res['plan']['repeat']} runs per mode.", "",
                      markdown_table(res), agreement_text(res["agreement"]), "",
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
