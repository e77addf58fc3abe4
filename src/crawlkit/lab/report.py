"""Showing comparison results: a terminal table (rich), report.md and PNG charts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .compare import advice_text, machine_was_busy, mode_facts

_BREAKDOWN = ("queued", "ttfb", "download", "parse", "transfer")

COLUMNS: dict[str, str] = {
    "mode": "the fetch strategy",
    "client": "the HTTP client library the mode fetches with",
    "parse in": "where the page is parsed and the spider runs: the crawl process "
                "(in-process) or other processes (worker processes)",
    "ok": "pages fetched and processed (median over the runs)",
    "failed": "pages that ended with an error",
    "wall s": "seconds from the first request to the last record (start-up apart)",
    "pages/s": "pages tried per second of wall time, median over the runs",
    "spread": "the slowest and the fastest run's pages/s",
    "x best": "ratio of this mode's median pages/s to the fastest mode's",
    "p50/p95/p99 ms": "fetch latency percentiles: request start to full body, per run, "
                      "then the median over the runs",
    "CPU s": "user + system CPU seconds of the crawl process and its children",
    "cores busy": "CPU seconds divided by wall time (start-up included): 1.0 is one core",
    "RSS MB": "peak resident memory (VmHWM) of the crawl process + of its largest child "
              "(55+87: 55 MB in the crawl process, 87 MB in its biggest child)",
    "tree MB": "peak resident memory of the crawl process and all its children summed "
               "at the same instant (sampled every 0.1 s; shared pages count per process)",
    "queue/ttfb/dl/parse/xfer ms": "mean ms per page: waiting in the queue for a free "
                                   "slot, time to first byte, body download, parse with "
                                   "the spider, inter-process transfer (multiprocess)",
}
"""What each column of the comparison table means (report.md prints this)."""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row of formatted medians per mode (with the min-max spread of pages/s);
    the keys are :data:`COLUMNS`."""
    summary = results["modes"]
    modes = [m for m in results["plan"]["modes"] if m in summary]
    best = max((summary[m]["pages_per_second"]["median"] for m in modes), default=0.0)
    out = []
    for mode in modes:
        s = summary[mode]
        med = {k: v["median"] for k, v in s.items() if isinstance(v, dict)}
        rate = s["pages_per_second"]
        facts = results.get("facts", {}).get(mode) or mode_facts(mode)
        out.append({
            "mode": mode,
            "client": facts["http_client"],
            "parse in": facts["parse"],
            "ok": f"{med['pages_ok']:.0f}",
            "failed": f"{med['pages_failed']:.0f}",
            "wall s": f"{med['wall']:.2f}",
            "pages/s": f"{rate['median']:.1f}",
            "spread": f"{rate['min']:.0f}-{rate['max']:.0f}",
            "x best": f"{rate['median'] / best:.2f}" if best else "-",
            "p50/p95/p99 ms": "/".join(_ms(med[f"latency.{p}"]) for p in ("p50", "p95", "p99")),
            "CPU s": f"{med['cpu_seconds']:.2f}",
            "cores busy": f"{med['cpu_cores_busy']:.2f}",
            "RSS MB": f"{med['peak_rss_mb']:.0f}+{med['peak_child_rss_mb']:.0f}",
            "tree MB": f"{med['tree_rss_mb']:.0f}" if "tree_rss_mb" in med else "-",
            "queue/ttfb/dl/parse/xfer ms": "/".join(_ms(med[f"breakdown.{b}"]) for b in _BREAKDOWN),
        })
    return out


def print_table(results: dict[str, Any], title: str = "") -> None:
    """Print the comparison table, the agreement verdict and the advice."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    data = rows(results)
    if data:
        columns = list(data[0])
        for part, names in ((title, columns[:10]), ("", ["mode", *columns[10:]])):
            table = Table(title=part or None)
            for column in names:
                table.add_column(column, justify="left" if column == "mode" else "right")
            for row in data:
                table.add_row(*(row[c] for c in names))
            console.print(table)
    console.print(agreement_text(results["agreement"]))
    if data:
        console.print(advice_text(results))


def print_rows(data: Sequence[dict[str, str]], title: str = "") -> None:
    """Print rows of formatted cells as one terminal table."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    if not data:
        return
    table = Table(title=title or None)
    for column in data[0]:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for row in data:
        table.add_row(*row.values())
    console.print(table)


def columns_text() -> str:
    """report.md's explanation of every column, as a markdown list."""
    return "\n".join(f"- `{name}`: {meaning}" for name, meaning in COLUMNS.items())


def agreement_text(agreement: dict[str, Any]) -> str:
    """One line when the modes agree, one line per disagreeing mode otherwise."""
    if agreement["agree"]:
        return f"All modes agree with {agreement['reference']} on URLs tried and items."
    lines = [f"Modes DISAGREE with {agreement['reference']}:"]
    for mode, diff in agreement["differences"].items():
        ex = diff["examples"]
        lines.append(
            f"  {mode}: {diff['missing_urls']} URLs missing, {diff['extra_urls']} extra, "
            f"{diff['missing_items']} items missing, {diff['extra_items']} extra"
            + (f"; e.g. missing {ex['missing_urls'][0]}" if ex["missing_urls"] else "")
            + (f"; e.g. missing item {ex['missing_items'][0]}" if ex["missing_items"] else "")
        )
    return "\n".join(lines)


def _markdown(data: list[dict[str, str]]) -> str:
    """Rows (column -> cell text, every row with the first row's columns) as a
    GitHub-flavoured markdown table."""
    if not data:
        return "_no runs_\n"
    head = list(data[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[c] for c in head) + " |" for row in data]
    return "\n".join(lines) + "\n"


def markdown_table(results: dict[str, Any]) -> str:
    """The comparison table as GitHub-flavoured markdown."""
    return _markdown(rows(results))


def write_charts(
    results: dict[str, Any], latencies: dict[str, list[float]], out_dir: Path, prefix: str = ""
) -> list[str]:
    """Throughput, latency distribution and time breakdown per mode, as PNG files.

    Returns the file names written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["modes"]
    modes = [m for m in results["plan"]["modes"] if m in summary]
    names: list[str] = []

    fig, ax = plt.subplots(figsize=(8, 4))
    med = [summary[m]["pages_per_second"]["median"] for m in modes]
    lo = [med[i] - summary[m]["pages_per_second"]["min"] for i, m in enumerate(modes)]
    hi = [summary[m]["pages_per_second"]["max"] - med[i] for i, m in enumerate(modes)]
    ax.bar(modes, med, yerr=[lo, hi], capsize=4, color="#4477aa")
    ax.set_ylabel("pages/s (median, min-max)")
    ax.set_title("Throughput per mode")
    names.append(_save(fig, out_dir, f"{prefix}throughput.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    data = [[v * 1000 for v in latencies.get(m, [])] or [0.0] for m in modes]
    ax.boxplot(data, whis=(5, 95), flierprops={"markersize": 2, "alpha": 0.4})
    xs = range(1, len(modes) + 1)
    for pct, marker, color in (("p95", "^", "#cc6677"), ("p99", "x", "#882255")):
        ax.plot(xs, [summary[m][f"latency.{pct}"]["median"] * 1000 for m in modes],
                linestyle="none", marker=marker, color=color, label=f"{pct} (table)")
    top = max((max(d) for d in data), default=0.0)
    low = min((min(v for v in d if v > 0) for d in data if any(v > 0 for v in d)),
              default=0.0)
    if low > 0 and top / low > 50:  # outliers far above the bulk: a log scale shows both
        ax.set_yscale("log")
    ax.set_xticks(list(xs), modes)
    ax.set_ylabel("fetch latency, ms")
    ax.set_title("Fetch latency per mode: box p25-p75, whiskers p5-p95, dots beyond")
    ax.legend()
    names.append(_save(fig, out_dir, f"{prefix}latency.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4),
                                      gridspec_kw={"width_ratios": [1, 2]})
    left.bar(modes, [summary[m]["breakdown.queued"]["median"] * 1000 for m in modes],
             color="#bbbbbb")
    left.set_ylabel("ms per page (median of means)")
    left.set_title("Waiting in the queue")
    left.tick_params(axis="x", labelrotation=45)
    bottom = [0.0] * len(modes)
    for part in _BREAKDOWN[1:]:  # the page's own time, on its own scale
        values = [summary[m][f"breakdown.{part}"]["median"] * 1000 for m in modes]
        right.bar(modes, values, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.set_ylabel("ms per page (median of means)")
    right.set_title("A page's own time: ttfb, download, parse, transfer")
    right.tick_params(axis="x", labelrotation=45)
    right.legend()
    names.append(_save(fig, out_dir, f"{prefix}breakdown.png"))
    return names


def _save(fig: Any, out_dir: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=100)
    plt.close(fig)
    return name


def noise_text(results: dict[str, Any]) -> str:
    """How noisy the run was: pages/s min / median / max and spread per mode."""
    lines = []
    for mode, s in results["modes"].items():
        rate = s["pages_per_second"]
        spread = (rate["max"] - rate["min"]) / rate["median"] * 100 if rate["median"] else 0.0
        lines.append(
            f"- {mode}: {rate['min']:.1f} / {rate['median']:.1f} / {rate['max']:.1f} pages/s "
            f"over {s['repeats']} runs (spread {spread:.0f}% of the median)"
        )
    return "\n".join(lines)


def memory_rows(memory: dict[str, Any]) -> list[dict[str, str]]:
    """One row per mode of the memory workload (medians over its runs)."""
    out = []
    for mode, s in memory["modes"].items():
        facts = memory["facts"].get(mode) or mode_facts(mode)
        med = {k: v["median"] for k, v in s.items() if isinstance(v, dict)}
        out.append({
            "mode": mode,
            "client": facts["http_client"],
            "parse in": facts["parse"],
            "in flight": f"{med['in_flight']:.0f}",
            "ok/failed": f"{med['pages_ok']:.0f}/{med['pages_failed']:.0f}",
            "idle MB": f"{med['idle_rss_mb']:.0f}",
            "peak MB": f"{med['tree_rss_mb']:.0f}",
            "processes": f"{med['tree_processes']:.0f}",
            "KB per in-flight": f"{med['kb_per_in_flight']:.0f}",
            "spread": f"{s['kb_per_in_flight']['min']:.0f}-{s['kb_per_in_flight']['max']:.0f}",
            "pages/s": f"{med['pages_per_second']:.1f}",
        })
    return out


def memory_table(memory: dict[str, Any]) -> str:
    """The memory workload as a markdown table."""
    return _markdown(memory_rows(memory))


def creation_text(creation: dict[str, Any]) -> str:
    """The creation-cost figures as markdown."""
    per = creation["per_task_ms"]
    return "\n".join([
        f"{creation['tasks']} parse jobs (BeautifulSoup over a 120 KB page, "
        f"{creation['job_ms']:.1f} ms each in one thread), at most {creation['workers']} at "
        f"once; processes start with `{creation['start_method']}`. Milliseconds per task, "
        "creation of the pool or of each thread/process included:",
        "",
        "| | pool, reused | a new one per task | starting one (no-op) | idle, resident |",
        "|---|---|---|---|---|",
        f"| process | {per['process_pool']:.1f} | {per['process_per_task']:.1f} | "
        f"{creation['start_ms']['process']:.1f} ms | "
        f"{creation['idle_mb_each']['process']:.1f} MB |",
        f"| thread | {per['thread_pool']:.1f} | {per['thread_per_task']:.1f} | "
        f"{creation['start_ms']['thread']:.2f} ms | "
        f"{creation['idle_mb_each']['thread'] * 1024:.0f} KB |",
        "",
        f"Idle footprints: {creation['units']} threads, then {creation['units']} processes, "
        "alive at once and waiting; resident memory of the whole process tree before and "
        "after, per unit (a process's libraries count once per process).",
    ])


def machine_text(machine: dict[str, Any]) -> str:
    """Machine facts as a markdown line."""
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    load = machine.get("load_average")
    busy = ""
    if load is not None:
        busy = f", load average {load:.1f} over the last minute of the runs"
        if machine_was_busy(machine):
            busy += " (other work shared the cores: the figures are disturbed)"
    return (
        f"{machine['usable_cores']} usable cores ({machine['cpu_count']} CPUs){busy}, "
        f"{machine['implementation']} {machine['python']} on {machine['platform']}; {packages}"
    )


def write_compare_report(
    results: dict[str, Any], latencies: dict[str, list[float]], out_dir: Path,
    extra_sections: Sequence[str] = (),
) -> None:
    """report.md, results.json and the charts for one comparison."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    charts = write_charts(results, latencies, out_dir)
    plan = results["plan"]
    text = [
        "# crawlkit compare",
        "",
        f"Machine: {machine_text(results['machine'])}.",
        "",
        f"Modes run one after another, each in a fresh process, {plan['repeat']} time(s); "
        f"crawl flags: `{' '.join(plan['crawl_args']) or '(none)'}`. Figures are medians over "
        "the repeats; `x best` is the ratio to the fastest mode's median.",
        "",
        markdown_table(results),
        advice_text(results),
        "",
        "## Columns",
        "",
        columns_text(),
        "",
        "## Agreement",
        "",
        agreement_text(results["agreement"]),
        "",
        "## Noise",
        "",
        noise_text(results),
        "",
        *extra_sections,
        "## Charts",
        "",
        *[f"![{name}]({name})" for name in charts],
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(text), encoding="utf-8")
