"""``--autothrottle`` against fixed per-origin limits, on local sites.

Three sites, each served by its own process on 127.0.0.1 (so serving does not share
the crawler's GIL):

* ``overload``  the overload site (crawlkit.lab.overload): 503 beyond K requests in
                service, ``latency + per_request * n`` seconds per answer. Three crawls
                of the same pages: ``--autothrottle`` with ``--per-host 32``, a fixed
                ``--per-host 32`` and the ideal fixed ``--per-host K`` given by hand.
                Targets: autothrottle converges to at most K in flight (the second
                half of the crawl), under 5% of its requests answered 503, and within
                1.3x of the ideal crawl's time.
* ``slowing``   the overload site without a limit, 20 ms + 50 ms per request in
                service: only the time to first byte speaks. ``--autothrottle`` and a
                fixed ``--per-host 32``: how many it keeps in flight, at what cost.
* ``healthy``   the demo site (fast pages, no limit): ``--autothrottle`` and a fixed
                ``--per-host 32``. Targets: the adaptive limit reaches the cap within
                2 seconds and the crawl is no slower than the fixed one.

Columns: ``peak`` is the most requests the site saw open at once (served or being
refused), ``late peak`` the same over the second half of the crawl's requests and
``late >K`` the share of those that arrived with more than K open. Each figure is the
median of ``--repeat`` runs (default 3). Prints a table and writes the figures as JSON
(default: results-autothrottle.json next to this file).

Run: python benchmarks/autothrottle.py [--quick] [--mode async] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import crawlkit
from crawlkit.engine import Engine
from crawlkit.lab.servers import wait_for_port
from crawlkit.settings import CrawlSettings
from crawlkit.sinks import ListSink

HERE = Path(__file__).parent
CAP = 32  # --per-host (and --concurrency) of the adaptive and the fixed-high crawls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A site in its own process; ``code`` builds ``site`` (a LoopbackServer) on ``port``."""

    def __init__(self, code: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", code.format(port=self.port)],
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return dict(json.load(answer))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def overload_site(pages: int, capacity: int, latency: float, per_request: float) -> Served:
    return Served(
        "from crawlkit.lab.overload import OverloadSite, OverloadSpec\n"
        f"spec = OverloadSpec(pages={pages}, capacity={capacity}, latency={latency}, "
        f"per_request={per_request})\n"
        "OverloadSite(spec, port={port}).serve_forever()\n")


def demo_site(pages: int, latency: float) -> Served:
    return Served(
        "from crawlkit.lab.demo import DemoSite, SiteSpec\n"
        f"DemoSite(SiteSpec(pages={pages}, latency={latency}), port={{port}}).serve_forever()\n")


def overload_run(site: Served, mode: str, capacity: int, **options: Any) -> dict[str, Any]:
    """One crawl of the overload site; what the crawler and the site saw."""
    site.get("/_reset")
    result = crawlkit.crawl(site.url + "/", mode, follow=True, concurrency=CAP, retries=20,
                            retry_backoff=0.1, **options)
    seen = site.get("/_stats")
    arrivals = seen["arrivals"]
    second_half = arrivals[len(arrivals) // 2:] or [0]
    asked = seen["served"] + seen["refused"]
    return {
        "elapsed": result.stats.elapsed,
        "pages_ok": result.stats.pages_ok,
        "pages_failed": result.stats.pages_failed,
        "refused_503": seen["refused"],
        "share_503": seen["refused"] / asked if asked else 0.0,
        "peak_in_flight": seen["peak"],
        "late_peak_in_flight": max(second_half),
        "late_share_over_k": sum(n > capacity for n in second_half) / len(second_half),
    }


def healthy_run(site: Served, mode: str, max_pages: int, autothrottle: bool) -> dict[str, Any]:
    """One crawl of the demo site; with autothrottle, when the limit first reached the cap."""
    settings = CrawlSettings(mode=mode, follow=True, concurrency=CAP, per_host=CAP,
                             autothrottle=autothrottle, max_pages=max_pages)
    reached: list[float] = []
    engine: Engine

    def observe(outcome: Any) -> None:
        if not reached and any(limit >= CAP for _, _, limit in engine.politeness.busy_limits()):
            reached.append(time.perf_counter())

    engine = Engine(settings, crawlkit.DefaultSpider(), ListSink(), observer=observe)
    begun = time.perf_counter()
    stats = engine.run([site.url + "/"])
    first_request = begun + stats.seeding + stats.startup
    return {
        "elapsed": stats.elapsed,
        "pages_ok": stats.pages_ok,
        "seconds_to_cap": (reached[0] - first_request) if reached else None,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure's median over the runs (``None`` if any run had none)."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        out[key] = None if any(v is None for v in values) else statistics.median(values)
    out["runs"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sites")
    parser.add_argument("--mode", default="async", help="the strategy crawling (default: async)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (default 3)")
    parser.add_argument("--out", default=str(HERE / "results-autothrottle.json"))
    args = parser.parse_args()
    reps = args.repeat or 3
    pages = 400 if args.quick else 1500
    capacities = (4, 8)
    latency, per_request = 0.02, 0.004
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "mode": args.mode, "repeats": reps, "cap": CAP,
        "overload_site": {"pages": pages, "latency": latency, "per_request": per_request},
        "overload": {}, "healthy": {},
    }
    rows = []
    for capacity in capacities:
        site = overload_site(pages, capacity, latency, per_request)
        try:
            runs: dict[str, list[dict[str, Any]]] = {"auto": [], "fixed_cap": [], "ideal": []}
            for _ in range(reps):  # interleaved, so drift on the machine hits all three
                runs["auto"].append(overload_run(site, args.mode, capacity, per_host=CAP,
                                                 autothrottle=True))
                runs["fixed_cap"].append(overload_run(site, args.mode, capacity, per_host=CAP))
                runs["ideal"].append(overload_run(site, args.mode, capacity, per_host=capacity))
        finally:
            site.close()
        figures = {name: median_of(r) for name, r in runs.items()}
        figures["time_vs_ideal"] = figures["auto"]["elapsed"] / figures["ideal"]["elapsed"]
        report["overload"][f"K={capacity}"] = figures
        for name, label in (("auto", "--autothrottle"), ("fixed_cap", f"--per-host {CAP}"),
                            ("ideal", f"--per-host {capacity}")):
            f = figures[name]
            rows.append((f"overload K={capacity}", label, f"{f['elapsed']:.2f}",
                         f"{f['elapsed'] / figures['ideal']['elapsed']:.2f}x",
                         f"{f['pages_ok']:.0f}/{pages + 1}", f"{100 * f['share_503']:.1f}%",
                         f"{f['peak_in_flight']:.0f}", f"{f['late_peak_in_flight']:.0f}",
                         f"{100 * f['late_share_over_k']:.1f}%", "-"))

    # a site that never refuses but slows with every request in service: only the
    # time to first byte speaks (50 ms more per request: 32 in flight wait 1.6 s each)
    slowing_pages = 100 if args.quick else 300
    site = overload_site(slowing_pages, 1_000_000, 0.02, 0.05)
    try:
        slowing: dict[str, list[dict[str, Any]]] = {"auto": [], "fixed_cap": []}
        for _ in range(reps):
            slowing["auto"].append(overload_run(site, args.mode, CAP, per_host=CAP,
                                                autothrottle=True))
            slowing["fixed_cap"].append(overload_run(site, args.mode, CAP, per_host=CAP))
    finally:
        site.close()
    figures = {name: median_of(r) for name, r in slowing.items()}
    report["slowing"] = figures
    for name, label in (("auto", "--autothrottle"), ("fixed_cap", f"--per-host {CAP}")):
        f = figures[name]
        rows.append(("slowing, no 503", label, f"{f['elapsed']:.2f}",
                     f"{f['elapsed'] / figures['fixed_cap']['elapsed']:.2f}x",
                     f"{f['pages_ok']:.0f}/{slowing_pages + 1}", "-",
                     f"{f['peak_in_flight']:.0f}", f"{f['late_peak_in_flight']:.0f}", "-", "-"))

    healthy_pages = 2000 if args.quick else 5000
    site = demo_site(max(healthy_pages * 2, 2000), 0.01)
    try:
        healthy: dict[str, list[dict[str, Any]]] = {"auto": [], "fixed_cap": []}
        for _ in range(reps):
            healthy["fixed_cap"].append(healthy_run(site, args.mode, healthy_pages, False))
            healthy["auto"].append(healthy_run(site, args.mode, healthy_pages, True))
    finally:
        site.close()
    figures = {name: median_of(r) for name, r in healthy.items()}
    figures["time_vs_fixed"] = figures["auto"]["elapsed"] / figures["fixed_cap"]["elapsed"]
    report["healthy"] = figures
    for name, label in (("auto", "--autothrottle"), ("fixed_cap", f"--per-host {CAP}")):
        f = figures[name]
        cap = "-" if f["seconds_to_cap"] is None else f"{f['seconds_to_cap']:.2f}s"
        rows.append(("healthy 10 ms", label, f"{f['elapsed']:.2f}",
                     f"{f['elapsed'] / figures['fixed_cap']['elapsed']:.2f}x",
                     f"{f['pages_ok']:.0f}", "-", "-", "-", "-", cap))

    head = ("site", "crawl", "seconds", "vs ideal", "pages ok", "503", "peak", "late peak",
            "late >K", "to cap")
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
