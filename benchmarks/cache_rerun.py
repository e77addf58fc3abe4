"""A crawl run again from its --cache: first run against a slow site vs the re-run.

Serves the demo site on loopback with a fixed latency per response (100 ms by
default), then in every mode crawls a list of its pages (pages, a redirect, a
404) twice with the same fresh cache: the first run fetches and stores, the
re-run answers from the cache. Reports both wall times (strategy start-up
included), the speed-up, whether the records are identical, and how many
requests the re-run sent (must be 0). Prints a table and writes JSON.

Run: python benchmarks/cache_rerun.py [--pages 100] [--latency 0.1] [--modes async,sync]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import crawlkit
from crawlkit.lab.demo import DemoSite, SiteSpec

HERE = Path(__file__).resolve().parent


def _records(result: crawlkit.CrawlResult) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in result)


def run_mode(site: DemoSite, mode: str, seeds: list[str]) -> dict[str, object]:
    """Both runs of one mode, each with its own fresh cache."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "cache")
        started = time.perf_counter()
        first = crawlkit.crawl(seeds, mode=mode, cache=cache)
        first_s = time.perf_counter() - started
        before = site.requests
        started = time.perf_counter()
        again = crawlkit.crawl(seeds, mode=mode, cache=cache)
        again_s = time.perf_counter() - started
        sent = site.requests - before
    return {
        "mode": mode,
        "records": len(first),
        "first_s": round(first_s, 3),
        "rerun_s": round(again_s, 4),
        "speedup": round(first_s / again_s, 1),
        "identical": _records(first) == _records(again),
        "rerun_requests": sent,
        "from_cache": again.stats.from_cache,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="pages in the crawl")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per response")
    parser.add_argument("--modes", default=",".join(crawlkit.MODES))
    parser.add_argument("--json", default=str(HERE / "results-cache-rerun.json"))
    args = parser.parse_args()

    rows = []
    with DemoSite(SiteSpec(pages=args.pages, links=4, latency=args.latency)) as site:
        seeds = [f"{site.url}/page/{i}" for i in range(args.pages - 2)]
        seeds += [f"{site.url}/redirect/{args.pages - 1}", f"{site.url}/missing/1"]
        for mode in args.modes.split(","):
            rows.append(run_mode(site, mode, seeds))
            print(f"{mode}: done", flush=True)

    header = f"{'mode':<13}{'records':>8}{'first s':>9}{'re-run s':>10}{'speed-up':>10}" \
             f"{'identical':>11}{'requests':>10}"
    print(f"\n{args.pages} pages, {args.latency * 1000:.0f} ms per response; "
          "re-run from --cache (default concurrency)")
    print(header)
    for row in rows:
        print(f"{row['mode']:<13}{row['records']:>8}{row['first_s']:>9.2f}"
              f"{row['rerun_s']:>10.3f}{row['speedup']:>9.0f}x{str(row['identical']):>11}"
              f"{row['rerun_requests']:>10}")
    Path(args.json).write_text(json.dumps({
        "pages": args.pages, "latency": args.latency, "runs": rows,
        "crawlkit": crawlkit.__version__,
    }, indent=2) + "\n")
    print(f"\nwritten to {args.json}")
    failed = [r["mode"] for r in rows
              if not r["identical"] or r["rerun_requests"] or float(r["speedup"]) < 10]  # type: ignore[arg-type]
    if failed:
        raise SystemExit(f"not identical, not offline or under 10x: {', '.join(failed)}")


if __name__ == "__main__":
    main()
