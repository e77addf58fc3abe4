"""``--mode auto`` against every fixed strategy, on each of ``bench``'s workloads.

For each workload of ``crawlkit bench`` (the same sites, spiders and flags, taken
from :func:`crawlkit.lab.bench.workload_table`), crawls the demo site once per
strategy and once with ``auto``, each run a fresh ``crawlkit measure`` process as
``compare`` does (one after another, never two at once), and reports pages/s,
start-up, auto's decision with its figures, and auto's pages/s over the best
fixed strategy's. With ``--repeat N`` each figure is the median of N runs. Prints
a table and writes JSON.

Run: python benchmarks/auto_vs_fixed.py [--full] [--repeat 1] [--workloads io,cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import crawlkit
from crawlkit.lab.bench import Workload, workload_table
from crawlkit.lab.compare import machine_facts
from crawlkit.lab.demo import DemoSite

HERE = Path(__file__).resolve().parent
AUTO = "auto"
# measure's crawl, with the library's INFO lines (auto's decision) on stderr
_RUNNER = ("import logging, sys; logging.basicConfig(level=logging.INFO, "
           "format='%(name)s: %(message)s'); from crawlkit.cli import main; "
           "sys.exit(main(sys.argv[1:]))")


def run_once(seeds: Path, mode: str, workload: Workload, tmp: Path) -> dict[str, Any]:
    """One measured crawl in a fresh process; its figures and auto's decision line."""
    result = tmp / f"{mode}.json"
    cmd = [sys.executable, "-c", _RUNNER, "measure", str(seeds), "--mode", mode,
           "--result", str(result), *workload.args]
    env = dict(os.environ)
    env.update(workload.env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not result.exists():
        raise SystemExit(f"the {mode} run failed (exit {proc.returncode}): {proc.stderr[-500:]}")
    doc = json.loads(result.read_text())
    result.unlink()
    decision = [line.partition(": ")[2] for line in proc.stderr.splitlines()
                if line.startswith("crawlkit.fetchers.auto: ")]
    return {"pages": doc["pages_ok"] + doc["pages_failed"], "wall": doc["wall"],
            "startup": doc["startup"], "pages_per_second": doc["pages_per_second"],
            "cpu_seconds": doc["cpu_seconds"], "items": len(doc["items"]),
            "decision": decision[0] if decision else None}


def run_workload(workload: Workload, modes: list[str], repeat: int) -> dict[str, Any]:
    """Every mode ``repeat`` times on the workload's site, interleaved by repeat."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    with DemoSite(workload.spec) as site, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        seeds = tmp / "seeds.txt"
        seeds.write_text(site.url + "/\n", encoding="utf-8")
        for r in range(repeat):
            for mode in modes:
                print(f"{workload.name}: {mode} (run {r + 1}/{repeat})", file=sys.stderr)
                runs[mode].append(run_once(seeds, mode, workload, tmp))
    rates = {m: statistics.median(run["pages_per_second"] for run in runs[m]) for m in modes}
    fixed = [m for m in modes if m != AUTO]
    best = max(fixed, key=lambda m: rates[m])
    return {
        "workload": workload.name,
        "description": workload.description,
        "flags": list(workload.args),
        "pages_per_second": rates,
        "startup": {m: statistics.median(run["startup"] for run in runs[m]) for m in modes},
        "pages": {m: sorted({run["pages"] for run in runs[m]}) for m in modes},
        "best_fixed": best,
        "auto_over_best": rates[AUTO] / rates[best] if rates[best] else None,
        "auto_decisions": [run["decision"] for run in runs[AUTO]],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="bench's full sizes, not --quick's")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode (median)")
    parser.add_argument("--workloads", default="", help="comma-separated (default: all)")
    parser.add_argument("--modes", default=",".join(crawlkit.MODES),
                        help="the fixed strategies to compare auto with")
    parser.add_argument("--json", default=str(HERE / "results-auto-vs-fixed.json"))
    args = parser.parse_args()
    table = workload_table(quick=not args.full)
    names = [n for n in args.workloads.split(",") if n] or list(table)
    modes = [m for m in args.modes.split(",") if m] + [AUTO]
    started = time.perf_counter()
    found = [run_workload(table[name], modes, args.repeat) for name in names]
    doc = {"quick": not args.full, "repeat": args.repeat, "machine": machine_facts(),
           "seconds": round(time.perf_counter() - started, 1), "workloads": found}
    Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"{'workload':10} " + " ".join(f"{m:>12}" for m in modes) + "  auto/best")
    for res in found:
        rates = res["pages_per_second"]
        cells = " ".join(f"{rates[m]:12.1f}" for m in modes)
        print(f"{res['workload']:10} {cells}  {res['auto_over_best']:.2f} "
              f"(best: {res['best_fixed']})")
    for res in found:
        for line in res["auto_decisions"]:
            print(f"{res['workload']}: {line}")
    print(f"results written to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
