"""Run every tutorial example at full size, one after the other, and write RESULTS.md.

Run: python examples/run_all.py [--pages N] [--latency S]
Each example starts its own demo site; nothing else should run meanwhile, or the
figures measure the neighbours too.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# seed tutorial section -> the examples that cover it, in the tutorial's order
SECTIONS: list[tuple[str, list[str]]] = [
    ("threading", [
        "threads_queue_workers.py", "threads_lock_race.py", "threads_rlock.py",
        "threads_condition_frontier.py", "threads_semaphore.py", "threads_event_stop.py",
    ]),
    ("concurrent.futures.ThreadPoolExecutor", [
        "threadpool_callbacks.py", "threadpool_map_vs_as_completed.py", "threadpool_wait.py",
    ]),
    ("multiprocessing", [
        "process_function_subclass.py", "process_manager_seen.py", "process_pipe_parse.py",
        "process_shared_state.py",
    ]),
    ("process pools: multiprocessing.Pool and ProcessPoolExecutor", [
        "process_pool_apply.py", "process_pool_map.py", "process_pool_vs_per_task.py",
        "process_pool_parse.py",
    ]),
    ("asynchronous I/O: asyncio + aiohttp, gevent", ["asyncio_aiohttp.py", "gevent_pool.py"]),
    ("from the tutorial to crawlkit", ["crawlkit_strategies.py"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.08)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    flags = ["--pages", str(args.pages), "--latency", str(args.latency)]
    lines = [
        "# Tutorial examples: measured results",
        "",
        f"Written by `python examples/run_all.py {' '.join(flags)}` on "
        f"{time.strftime('%Y-%m-%d')}: Python {platform.python_version()}, "
        f"{platform.system()}, {os.cpu_count()} cores shared with other work.",
        "Each table: the example's pattern against the same pages done one at a time"
        " (the first row). Peak RSS is the run's own process plus its largest child"
        " (getrusage), not the sum over a pool's workers; CPU s is user + system time,"
        " children included. Pages are the demo site's,"
        f" {args.latency * 1000:.0f} ms per response; the parse-bound examples use"
        " 100 KB pages, the others 24 KB.",
        "",
        f"Load average (1 min) when the run began: {os.getloadavg()[0]:.1f} on"
        f" {os.cpu_count()} cores. Under such load a CPU-bound row's seconds measure the"
        " share of the cores it got; compare its CPU seconds instead.",
        "",
    ]
    for section, names in SECTIONS:
        lines += [f"## {section}", ""]
        for name in names:
            print(f"running {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, str(HERE / name), *flags],
                                  capture_output=True, text=True, timeout=1800, check=False)
            took = time.perf_counter() - started
            load = os.getloadavg()[0]
            if proc.returncode != 0:
                sys.exit(f"{name} failed with exit code {proc.returncode}:\n{proc.stderr}")
            lines += [f"### {name}", "", "```", proc.stdout.rstrip(), "```",
                      f"({took:.0f} s in all; load average {load:.1f} at the end)", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
