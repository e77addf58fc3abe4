"""CPU time per page of the default crawl, one source tree against another.

Wall-clock rates are noisy on a shared machine; the CPU a crawl spends per page
(user + system of the crawl process and every process it started) is not. Each
run is a fresh ``python -m crawlkit crawl`` over the ``large`` workload of
``vs_scrapy.py`` (~95 KB pages, every link followed, concurrency 64), the trees
interleaved run by run; the medians (and min-max) are printed and written as JSON.

Run: python benchmarks/cpu_per_page.py --tree new=src --tree old=/tmp/old/src
     [--modes async,multiprocess] [--rounds 5] [--pages 500] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from vs_scrapy import MODES, Site  # noqa: E402


def one_run(src: str, url: str, mode: str, tmp: str) -> tuple[float, float, int]:
    """CPU seconds (user + system, children included) of the crawl alone and of the
    whole process (imports included), and the pages of one crawl."""
    seeds = Path(tmp) / "seeds.txt"
    seeds.write_text(url + "/\n")
    out = Path(tmp) / "result.json"
    cmd = [sys.executable, "-m", "crawlkit", "measure", str(seeds), "--mode", mode,
           "--follow", "--concurrency", "64", "--per-host", "64", "--ignore-robots",
           "--retries", "0", "--result", str(out)]
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} crawl with {src} exited {proc.returncode}")
    doc = json.loads(out.read_text())
    pages = doc["pages_ok"] + doc["pages_failed"]
    return doc["cpu_seconds"], usage.ru_utime + usage.ru_stime, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, metavar="LABEL=SRC",
                        help="a source tree (the directory holding crawlkit/); repeatable")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    modes = args.modes.split(",")
    # mode -> tree -> CPU ms per page of each run: the crawl's, and the whole process's
    ms: dict[str, dict[str, list[float]]] = {m: {t: [] for t in trees} for m in modes}
    whole: dict[str, dict[str, list[float]]] = {m: {t: [] for t in trees} for m in modes}
    site = Site(args.pages, 95_000, 0.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.rounds):
                for mode in modes:
                    for label, src in trees.items():
                        cpu, total, pages = one_run(src, site.url, mode, tmp)
                        ms[mode][label].append(1000 * cpu / pages)
                        whole[mode][label].append(1000 * total / pages)
    finally:
        site.close()
    report: dict[str, Any] = {"unit": "CPU ms per page (user+sys, children included)",
                              "rounds": args.rounds, "crawl": {}, "process": {}}
    first = next(iter(trees))
    for title, table in (("crawl", ms), ("process", whole)):
        print(f"CPU ms/page of the {title}, median [min-max] of {args.rounds} runs")
        for mode in modes:
            row = {t: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                   for t, v in table[mode].items()}
            report[title][mode] = row
            cells = "  ".join(f"{t} {r['median']:6.3f} [{r['min']:.3f}-{r['max']:.3f}]"
                              for t, r in row.items())
            ratios = "  ".join(f"{t}/{first} {row[t]['median'] / row[first]['median']:.3f}"
                               for t in trees if t != first)
            print(f"  {mode:13s} {cells}  {ratios}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
