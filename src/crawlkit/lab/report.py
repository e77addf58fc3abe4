"""Showing comparison results: a terminal table (rich), report.md and PNG charts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

_BREAKDOWN = ("queued", "ttfb", "download", "parse", "transfer")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row of formatted medians per mode (with the min-max spread of pages/s)."""
    summary = results["modes"]
    modes = [m for m in results["plan"]["modes"] if m in summary]
    best = max((summary[m]["pages_per_second"]["median"] for m in modes), default=0.0)
    out = []
    for mode in modes:
        s = summary[mode]
        med = {k: v["median"] for k, v in s.items() if isinstance(v, dict)}
        rate = s["pages_per_second"]
        out.append({
            "mode": mode,
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
            "queue/ttfb/dl/parse/xfer ms": "/".join(_ms(med[f"breakdown.{b}"]) for b in _BREAKDOWN),
        })
    return out


def print_table(results: dict[str, Any], title: str = "") -> None:
    """Print the comparison table and the agreement verdict to the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    data = rows(results)
    if data:
        columns = list(data[0])
        for part, names in ((title, columns[:8]), ("", ["mode", *columns[8:]])):
            table = Table(title=part or None)
            for column in names:
                table.add_column(column, justify="left" if column == "mode" else "right")
            for row in data:
                table.add_row(*(row[c] for c in names))
            console.print(table)
    console.print(agreement_text(results["agreement"]))


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


def markdown_table(results: dict[str, Any]) -> str:
    """The comparison table as GitHub-flavoured markdown."""
    data = rows(results)
    if not data:
        return "_no runs_\n"
    head = list(data[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[c] for c in head) + " |" for row in data]
    return "\n".join(lines) + "\n"


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
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(modes) + 1), modes)
    ax.set_ylabel("fetch latency, ms")
    ax.set_title("Fetch latency distribution per mode (all repeats)")
    names.append(_save(fig, out_dir, f"{prefix}latency.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0.0] * len(modes)
    for part in _BREAKDOWN:
        values = [summary[m][f"breakdown.{part}"]["median"] * 1000 for m in modes]
        ax.bar(modes, values, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("ms per page (median of means)")
    ax.set_title("Where a page's time goes")
    ax.legend()
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


def machine_text(machine: dict[str, Any]) -> str:
    """Machine facts as a markdown line."""
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    return (
        f"{machine['usable_cores']} usable cores ({machine['cpu_count']} CPUs), "
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
