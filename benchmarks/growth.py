"""Cost as the crawl grows: pages/s and memory over a crawl of a million pages.

Serves a synthetic site in a separate process (a raw asyncio HTTP/1.1 server on
127.0.0.1: tiny pages, no latency), crawls it with ``crawlkit crawl --follow``
in a child process (``--state`` or not), and samples every second the pages
done (lines of the output file), the CPU seconds and the RSS of the crawl's
process tree (``/proc``). Reports pages/s over the first and the last tenth of
the crawl (100,000 pages each of a million), their ratio, CPU seconds per
1,000 pages over the same stretches (steadier than pages/s on a busy machine),
peak RSS, and RSS per million URLs seen.

The site has ``--pages`` pages: ``/`` links to ``/p/1`` .. ``/p/W`` (W =
``--width``), and page ``i`` links to ``/p/{i+W}`` (the only new URL, so the
queue stays about W long), to the three pages after it and to four pages
before it, spread over the whole crawl so far, and to ``/`` (all already seen:
the seen set is asked about old and recent URLs alike).

Results go to ``benchmarks/results-growth.json`` (one entry per kind of run,
``state`` and ``memory``; a run replaces its kind's entry) and the curves of
every entry to ``benchmarks/growth.png`` (needs matplotlib: the ``report`` extra).

Run: python benchmarks/growth.py [--pages 1000000] [--state/--no-state] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results-growth.json"
CHART = HERE / "growth.png"
BACK_LINKS = 4
NEAR_LINKS = 3


# --- the site ---------------------------------------------------------------------

def page_links(i: int, pages: int, width: int) -> list[str]:
    """The hrefs of page ``i`` (0 is ``/``)."""
    if i == 0:
        return [f"/p/{j}" for j in range(1, min(width, pages - 1) + 1)]
    links = [f"/p/{j}" for j in (i + width, *range(i + 1, i + 1 + NEAR_LINKS)) if j < pages]
    # earlier pages, spread over the whole crawl so far (a Knuth multiplicative hash)
    links += [f"/p/{1 + ((i * 2654435761 + k * 40503) & 0xFFFFFFFF) % i}"
              for k in range(BACK_LINKS)]
    links.append("/")
    return links


def render(i: int, pages: int, width: int) -> bytes:
    anchors = "".join(f'<a href="{href}">x</a>' for href in page_links(i, pages, width))
    return (f"<html><head><title>p{i}</title></head><body>{anchors}</body></html>").encode()


class _Page(asyncio.Protocol):
    """One keep-alive connection: answers each GET as soon as its head is in."""

    def __init__(self, pages: int, width: int) -> None:
        self.pages, self.width = pages, width
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            path = head.split(b" ", 2)[1].decode("latin-1")
            i = 0 if path == "/" else int(path[3:]) if path.startswith("/p/") else -1
            if 0 <= i < self.pages:
                body, status = render(i, self.pages, self.width), b"200 OK"
            else:
                body, status = b"not found", b"404 Not Found"
            out.append(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        if out:
            self.transport.write(b"".join(out))


def serve(port: int, pages: int, width: int) -> None:
    """Serve the site on 127.0.0.1:``port`` until killed."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Page(pages, width), "127.0.0.1", port,
                                          backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- sampling ---------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    except (OSError, IndexError):
        return 0.0


def sample(pid: int) -> tuple[float, float, float]:
    """RSS (MB), peak RSS (MB, sum of each process's VmHWM) and CPU seconds of the tree."""
    procs = _tree(pid)
    rss = sum(_status_kb(p, "VmRSS") for p in procs) / 1024
    hwm = sum(_status_kb(p, "VmHWM") for p in procs) / 1024
    return rss, hwm, sum(_cpu_seconds(p) for p in procs)


# --- the run ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crawl(args: argparse.Namespace) -> dict[str, Any]:
    """Serve the site, crawl it, and return the run's samples and figures."""
    from crawlkit.lab.servers import wait_for_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--pages", str(args.pages),
         "--width", str(args.width)])
    samples: list[list[float]] = []  # [seconds, pages done, rss MB, cpu seconds]
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            seeds = Path(tmp) / "seeds.txt"
            seeds.write_text(f"http://127.0.0.1:{port}/\n")
            out, db = Path(tmp) / "out.jsonl", Path(tmp) / "crawl.db"
            command = [sys.executable, "-m", "crawlkit", "crawl", str(seeds), "--follow",
                       "--mode", args.mode, "--concurrency", str(args.concurrency),
                       "--per-host", str(args.concurrency), "--ignore-robots",
                       "--out", str(out), "--quiet"]
            if args.state:
                command += ["--state", str(db)]
            started = time.perf_counter()
            child = subprocess.Popen(command)
            pages, offset, peak = 0, 0, 0.0
            while True:
                done = child.poll() is not None
                if out.exists():
                    with out.open("rb") as f:
                        f.seek(offset)
                        chunk = f.read()
                    pages += chunk.count(b"\n")
                    offset += len(chunk)
                if done:
                    break
                rss, hwm, cpu = sample(child.pid)
                peak = max(peak, hwm)
                samples.append([round(time.perf_counter() - started, 3), pages,
                                round(rss, 1), round(cpu, 2)])
                if args.progress:
                    print(f"{samples[-1][0]:8.0f}s {pages:>9} pages {rss:7.1f} MB "
                          f"{cpu:8.1f} cpu-s", file=sys.stderr, flush=True)
                time.sleep(1.0)
            samples.append([round(time.perf_counter() - started, 3), pages,
                            samples[-1][2] if samples else 0.0,
                            samples[-1][3] if samples else 0.0])
            if child.returncode != 0:
                raise SystemExit(f"the crawl exited with {child.returncode}")
            seen = None
            if args.state:
                with sqlite3.connect(db) as conn:
                    seen = int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
                size_mb = db.stat().st_size / 2**20
            else:
                size_mb = None
    finally:
        server.terminate()
        server.wait(timeout=10)
    return figures(args, samples, seen, peak, size_mb)


def _at(samples: list[list[float]], pages: float, column: int) -> float:
    """Column ``column`` (seconds or CPU seconds) interpolated where ``pages`` were done."""
    prev = samples[0]
    for row in samples:
        if row[1] >= pages:
            if row[1] == prev[1]:
                return row[column]
            share = (pages - prev[1]) / (row[1] - prev[1])
            return prev[column] + share * (row[column] - prev[column])
        prev = row
    return samples[-1][column]


def figures(args: argparse.Namespace, samples: list[list[float]], seen: int | None,
            peak: float, size_mb: float | None) -> dict[str, Any]:
    """The run's figures: first and last tenth of the crawl, memory per URL seen."""
    total = int(samples[-1][1])
    window = max(1, total // 10)
    # the first page is done at start-up's end: the first tenth is timed from there
    first_from = min(1, total)

    def rate(lo: float, hi: float) -> tuple[float, float]:
        seconds = _at(samples, hi, 0) - _at(samples, lo, 0)
        cpu = _at(samples, hi, 3) - _at(samples, lo, 3)
        pages = hi - lo
        return pages / seconds if seconds > 0 else 0.0, 1000 * cpu / pages if pages else 0.0

    first, first_cpu = rate(first_from, first_from + window)
    last, last_cpu = rate(total - window, total)
    # the second tenth: past the point where the URLs a page repeats from far back
    # outgrow the bounded caches of link resolution (65,536 URLs each)
    second, second_cpu = rate(window, 2 * window)
    urls_seen = seen if seen is not None else min(args.pages, total + args.width)
    # what each URL seen adds to the crawl's memory, over the second half of the
    # crawl (past start-up and the fill of bounded caches); the site shows each new
    # URL W pages before it is crawled
    half = total // 2
    rss_half, rss_end = _at_rss(samples, half), max(row[2] for row in samples[-30:])
    seen_half = min(args.pages, half + args.width)
    per_million = ((rss_end - rss_half) / (urls_seen - seen_half) * 1e6
                   if urls_seen > seen_half else 0.0)
    return {
        "kind": "state" if args.state else "memory",
        "mode": args.mode,
        "concurrency": args.concurrency,
        "site_pages": args.pages,
        "width": args.width,
        "pages_done": total,
        "urls_seen": urls_seen,
        "window_pages": window,
        "first_pages_per_s": round(first, 1),
        "last_pages_per_s": round(last, 1),
        "ratio_last_first": round(last / first, 3) if first else 0.0,
        "second_pages_per_s": round(second, 1),
        "ratio_last_second": round(last / second, 3) if second else 0.0,
        "first_cpu_s_per_1000": round(first_cpu, 3),
        "second_cpu_s_per_1000": round(second_cpu, 3),
        "last_cpu_s_per_1000": round(last_cpu, 3),
        "peak_rss_mb": round(peak, 1),
        "rss_mb_per_million_urls_seen": round(per_million, 1),
        "state_file_mb": None if size_mb is None else round(size_mb, 1),
        "elapsed_s": samples[-1][0],
        "cpus": os.cpu_count(),
        "load_avg_at_end": round(os.getloadavg()[0], 2),
        "samples": samples,
    }


def _at_rss(samples: list[list[float]], pages: float) -> float:
    for row in samples:
        if row[1] >= pages:
            return row[2]
    return samples[-1][2]


def table(result: dict[str, Any]) -> str:
    r = result
    return "\n".join([
        f"{r['kind']} ({r['mode']}, {r['pages_done']:,} pages, {r['urls_seen']:,} URLs seen, "
        f"{r['elapsed_s']:.0f} s)",
        f"  {'':22}{'first tenth':>12}{'second':>10}{'last tenth':>12}"
        f"{'last/first':>11}{'last/second':>12}",
        f"  {'pages/s':22}{r['first_pages_per_s']:>12.1f}{r['second_pages_per_s']:>10.1f}"
        f"{r['last_pages_per_s']:>12.1f}{r['ratio_last_first']:>11.3f}"
        f"{r['ratio_last_second']:>12.3f}",
        f"  {'CPU s per 1000 pages':22}{r['first_cpu_s_per_1000']:>12.3f}"
        f"{r['second_cpu_s_per_1000']:>10.3f}{r['last_cpu_s_per_1000']:>12.3f}"
        f"{r['last_cpu_s_per_1000'] / (r['first_cpu_s_per_1000'] or 1):>11.3f}"
        f"{r['last_cpu_s_per_1000'] / (r['second_cpu_s_per_1000'] or 1):>12.3f}",
        f"  peak RSS {r['peak_rss_mb']:.1f} MB; "
        f"{r['rss_mb_per_million_urls_seen']:.1f} MB per million URLs seen"
        + (f"; state file {r['state_file_mb']:.1f} MB" if r["state_file_mb"] is not None else ""),
    ])


def chart(results: dict[str, Any], path: Path) -> None:
    """pages/s (over 10-second spans) and RSS against pages done, one line per run kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, memory) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for kind, r in sorted(results.items()):
        rows = r["samples"]
        xs, ys = [], []
        for a, b in zip(rows, rows[10:], strict=False):
            if b[0] > a[0]:
                xs.append((a[1] + b[1]) / 2 / 1000)
                ys.append((b[1] - a[1]) / (b[0] - a[0]))
        label = "--state" if kind == "state" else "in memory"
        speed.plot(xs, ys, label=label, linewidth=0.8)
        memory.plot([row[1] / 1000 for row in rows], [row[2] for row in rows], label=label)
    speed.set_ylabel("pages/s (10 s spans)")
    speed.set_ylim(bottom=0)
    speed.legend()
    speed.set_title("crawlkit: cost as the crawl grows (async, loopback, tiny pages)")
    memory.set_ylabel("RSS of the crawl (MB)")
    memory.set_xlabel("pages crawled (thousands)")
    memory.set_ylim(bottom=0)
    memory.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1_000_000, help="pages of the site")
    parser.add_argument("--quick", action="store_true", help="100,000 pages")
    parser.add_argument("--state", action=argparse.BooleanOptionalAction, default=True,
                        help="crawl with --state (default) or in memory")
    parser.add_argument("--width", type=int, default=1000, help="queue length the site keeps")
    parser.add_argument("--mode", default="async")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tmp", default=None, help="where the output and state go")
    parser.add_argument("--progress", action="store_true", help="print every sample")
    parser.add_argument("--no-save", dest="save", action="store_false",
                        help="print only; leave the results file and chart alone")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.pages = 100_000
    if args.serve is not None:
        serve(args.serve, args.pages, args.width)
        return
    result = crawl(args)
    print(table(result))
    if args.save:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results[result["kind"]] = result
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        try:
            chart(results, CHART)
        except ImportError:
            print("matplotlib is not installed (pip install 'crawlkit[report]'): no chart",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
