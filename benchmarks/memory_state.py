"""Peak memory of a durable crawl whose frontier grows far past what it fetches.

Serves the demo site in a separate process (300,000 pages, 24 links each, so a
crawl stopped at 30,000 pages has discovered more than 250,000 URLs), runs
``crawlkit crawl --follow --state --max-pages 30000`` against it, and reports
the crawl process's peak RSS (ru_maxrss of the child), the URLs seen and the
pages done.

Run: python benchmarks/memory_state.py [--pages 30000] [--mode async]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawlkit.lab.servers import wait_for_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30_000, help="pages to fetch")
    parser.add_argument("--site-pages", type=int, default=300_000)
    parser.add_argument("--links", type=int, default=24, help="links per page")
    parser.add_argument("--mode", default="async")
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "crawlkit", "serve-demo", "--port", str(port),
         "--pages", str(args.site_pages), "--page-bytes", "1024", "--links", str(args.links)],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory() as tmp:
            seeds = Path(tmp) / "seeds.txt"
            seeds.write_text(f"http://127.0.0.1:{port}/\n")
            state, out = Path(tmp) / "crawl.db", Path(tmp) / "out.jsonl"
            started = time.perf_counter()
            crawl = subprocess.run(
                [sys.executable, "-m", "crawlkit", "crawl", str(seeds), "--follow",
                 "--mode", args.mode, "--max-pages", str(args.pages), "--ignore-robots",
                 "--state", str(state), "--out", str(out), "--quiet"],
                check=True,
            )
            elapsed = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            with sqlite3.connect(state) as db:
                seen = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
                done = db.execute("SELECT COUNT(*) FROM requests WHERE done = 1").fetchone()[0]
            lines = sum(1 for _ in out.open("rb"))
    finally:
        server.terminate()
        server.wait(timeout=10)
    report = {"mode": args.mode, "pages_done": done, "records": lines, "urls_seen": seen,
              "peak_rss_mb": round(peak_mb, 1), "elapsed_s": round(elapsed, 1),
              "returncode": crawl.returncode, "cpus": os.cpu_count()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
