"""Does the crawl scale with cores? The docs crawl pinned to one core, then to two.

The real-site workload of ``vs_scrapy.py`` (Debian's python3-doc served by nginx
on loopback; the synthetic ~95 KB pages when nginx or python3-doc is missing),
crawled by the strategies that can use more than one core for CPU work
(``multiprocess``, ``processes``) and by ``async`` (one interpreter lock: the
control), each pinned with ``taskset`` to one core and then to every core, the
runs interleaved round by round; and the parse stage alone (``decode_html`` +
``extract`` over the same pages) on one core and on every core, which is the
scaling the crawl could reach if nothing but parsing cost CPU.

The server is pinned apart where the machine allows it: nginx runs on the last
core throughout; the one-core crawl runs on the first core (so it never shares
a core with nginx), the every-core crawl on all of them (sharing one with
nginx: on a 2-core machine there is no other way).

Run: python benchmarks/cores.py [--rounds 3] [--out benchmarks/results-cores.json]
(needs ``taskset``, from util-linux, and ideally ``apt-get install nginx python3-doc``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from vs_scrapy import (  # noqa: E402  (a script beside this one)
    DOCS_PATTERN,
    DocsSite,
    Site,
    crawlkit_run,
    docs_pages,
    fetched_pages,
    interleaved,
    parse_bound,
)

MODES = ("multiprocess", "processes", "async")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results-cores.json")
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        sys.exit("cores.py: taskset not found (apt-get install util-linux)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("cores.py: this machine has one core: nothing to scale to")
    one, every, server = str(cpus[0]), ",".join(map(str, cpus)), str(cpus[-1])

    site: DocsSite | Site
    if DocsSite.available():
        source, allow = "python3-doc served by nginx", DOCS_PATTERN
        site = DocsSite(cpus=server)
    else:
        source, allow = "synthetic ~95 KB pages (apt-get install nginx python3-doc)", None
        site = Site(500, 95_000, 0.0)
    print(f"docs workload: {source}; nginx on core {server}, one-core crawls on core {one}")
    try:
        jobs = {}
        for mode in MODES:
            jobs[f"{mode} 1"] = (lambda m=mode: crawlkit_run(site.start, m, 64, allow=allow,
                                                             cpus=one))
            jobs[f"{mode} {len(cpus)}"] = (lambda m=mode: crawlkit_run(
                site.start, m, 64, allow=allow, cpus=every))
        runs = interleaved(jobs, args.rounds)
        pages = docs_pages() if allow else fetched_pages(site.url, 100)
    finally:
        site.close()
    limit = parse_bound(pages, args.rounds)

    rows: dict[str, Any] = {}
    print(f"\npages/s, median of {args.rounds} [min-max]")
    print(f"  {'':14s} {'1 core':>16s} {f'{len(cpus)} cores':>16s}  ratio")
    for mode in MODES:
        low, high = runs[f"{mode} 1"], runs[f"{mode} {len(cpus)}"]
        ratio = high["pages_per_second"] / low["pages_per_second"]
        rows[mode] = {"one_core": low, "every_core": high, "ratio": ratio}
        print(f"  {mode:14s} {low['pages_per_second']:7.1f} [{low['min']:.0f}-{low['max']:.0f}]"
              f" {high['pages_per_second']:7.1f} [{high['min']:.0f}-{high['max']:.0f}]"
              f"  {ratio:.2f}x")
    limit_ratio = limit["all_cores"] / limit["one_core"]
    print(f"  {'parse stage':14s} {limit['one_core']:7.1f} {'':9s} {limit['all_cores']:7.1f}"
          f" {'':9s}  {limit_ratio:.2f}x  (no fetching, no server)")
    fastest = max(MODES, key=lambda m: rows[m]["every_core"]["pages_per_second"])
    print(f"\nfastest on every core: {fastest}, {rows[fastest]['ratio']:.2f}x its one-core "
          f"pages/s (the parse stage alone: {limit_ratio:.2f}x)")
    report = {"machine": {"cpus": len(cpus), "python": sys.version.split()[0]},
              "source": source, "rounds": args.rounds, "server_core": server,
              "one_core_crawl": one, "modes": rows, "parse_bound": limit,
              "parse_bound_ratio": limit_ratio, "fastest": fastest,
              "fastest_ratio": rows[fastest]["ratio"],
              "medians": {k: statistics.median([v["pages_per_second"]]) for k, v in runs.items()}}
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
