"""crawlkit's strategies and Scrapy, side by side on the same local sites.

One command builds the sites (the built-in demo site served by a separate
process on 127.0.0.1), runs every crawlkit mode and Scrapy on each, and prints
and writes ratios from this one run on this machine:

* ``large``   ~95 KB pages, full crawl with the default spider (records with titles);
* ``latency`` small pages answered after 100 ms, concurrency 64 (ideal = 640 pages/s;
              ``sync`` is left out: one request at a time is 10 pages/s by construction);
* ``soup``    ~95 KB pages and a spider doing real BeautifulSoup work:
              ``multiprocess`` against ``async``;
* ``selector`` ~95 KB pages and a spider using CSS selectors (parsel) for the
              title, every h2's text and every link's href; every mode and Scrapy
              running the same extraction;
* ``engine``  frontier + de-duplication + canonicalisation + output with fetching
              replaced by an in-memory fake;
* ``sync``    ``sync`` against a bare ``requests.Session`` loop over the same URLs,
              and against that loop doing the same title-and-links extraction.

Run: pip install -e ".[bench]" && python benchmarks/vs_scrapy.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crawlkit.lab.servers import wait_for_port

HERE = Path(__file__).parent
MODES = ("sync", "threaded", "threadpool", "multiprocess", "async", "gevent")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    """The demo site in its own process, so serving does not share the crawler's GIL."""

    def __init__(self, pages: int, page_bytes: int, latency: float, links: int = 8) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawlkit", "serve-demo", "--port", str(self.port),
             "--pages", str(pages), "--page-bytes", str(page_bytes), "--latency", str(latency),
             "--links", str(links)],
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def crawlkit_run(url: str, mode: str, concurrency: int, spider: str | None = None,
                 env: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds.txt"
        seeds.write_text(url + "/\n")
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "crawlkit", "measure", str(seeds), "--mode", mode,
               "--result", str(result), "--follow", "--concurrency", str(concurrency),
               "--per-host", str(concurrency), "--ignore-robots", "--retries", "0"]
        if spider:
            cmd += ["--spider", spider]
        subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
        doc: dict[str, Any] = json.loads(result.read_text())
    return {"pages": doc["pages_ok"] + doc["pages_failed"], "elapsed": doc["wall"],
            "pages_per_second": doc["pages_per_second"]}


def scrapy_run(url: str, concurrency: int, selector: bool = False) -> dict[str, Any]:
    extra = ["--selector"] if selector else []
    out = subprocess.run([sys.executable, str(HERE / "scrapy_runner.py"), url + "/",
                          "--concurrency", str(concurrency), *extra],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by pages/s (the runs differ only by noise)."""
    ordered = sorted(runs, key=lambda r: r["pages_per_second"])
    return ordered[len(ordered) // 2]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run, with every run's pages/s listed under ``runs``."""
    med = dict(best_of(runs))
    med["runs"] = [round(r["pages_per_second"], 1) for r in runs]
    return med


def repeat(fn: Any, times: int) -> dict[str, Any]:
    return summarise([fn() for _ in range(times)])


def engine_overhead(pages: int) -> float:
    """Pages/s of the engine alone: an in-memory fetcher answering from a dict."""
    import crawlkit
    from crawlkit.engine import Engine
    from crawlkit.models import FetchResult
    from crawlkit.settings import CrawlSettings
    from crawlkit.sinks import JsonLinesSink

    bodies = {}
    for i in range(pages):
        links = "".join(f'<a href="/p/{(i * 7 + k) % pages}?b=1&a={k % 3}">x</a>'
                        for k in range(10))
        bodies[f"http://h/p/{i}"] = f"<title>p{i}</title>{links}".encode()

    class Memory:
        name = "memory"

        def start(self, settings, processor):  # type: ignore[no-untyped-def]
            self.processor, self.pending = processor, []

        def submit(self, request):  # type: ignore[no-untyped-def]
            self.pending.append(request)

        def completed(self, timeout=None):  # type: ignore[no-untyped-def]
            done, self.pending = self.pending, []
            out = []
            for r in done:
                body = bodies.get(r.url.split("?")[0], b"")
                out.append(self.processor(FetchResult(r, 200, {"content-type": "text/html"},
                                                      body, None)))
            return out

        def close(self) -> None:
            pass

    settings = CrawlSettings(mode="async", follow=True, concurrency=64, per_host=64,
                             obey_robots=False)
    with open(os.devnull, "wb") as devnull:
        engine = Engine(settings, crawlkit.DefaultSpider(), JsonLinesSink(devnull), Memory())
        stats = engine.run(["http://h/p/0"])
    return stats.pages / stats.elapsed


def bare_requests(urls: list[str]) -> dict[str, Any]:
    import requests

    started = time.perf_counter()
    with requests.Session() as session:
        for url in urls:
            _ = session.get(url).content
    elapsed = time.perf_counter() - started
    return {"pages": len(urls), "elapsed": elapsed, "pages_per_second": len(urls) / elapsed}


def bare_requests_parsed(urls: list[str]) -> dict[str, Any]:
    """The bare loop plus the same title-and-links extraction crawlkit does."""
    import requests

    from crawlkit.parse import extract

    started = time.perf_counter()
    with requests.Session() as session:
        for url in urls:
            extract(session.get(url).text, url)
    elapsed = time.perf_counter() - started
    return {"pages": len(urls), "elapsed": elapsed, "pages_per_second": len(urls) / elapsed}


def sync_list(urls: list[str]) -> dict[str, Any]:
    import crawlkit

    result = crawlkit.crawl(urls, mode="sync", obey_robots=False, retries=0)
    return {"pages": len(result), "elapsed": result.stats.elapsed,
            "pages_per_second": result.stats.pages_per_second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sites, fewer repeats")
    parser.add_argument("--out", default="benchmarks/results-vs-scrapy.json")
    args = parser.parse_args()
    reps = 1 if args.quick else 3
    big_pages, lat_pages = (150, 300) if args.quick else (500, 2000)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                              "repeats": reps}

    site = Site(big_pages, 95_000, 0.0)
    try:
        large = {m: repeat(lambda m=m: crawlkit_run(site.url, m, 64), reps) for m in MODES}
        large["scrapy"] = repeat(lambda: scrapy_run(site.url, 64), reps)
        soup = {m: repeat(lambda m=m: crawlkit_run(site.url, m, 64,
                                                   "crawlkit.lab.bench_spiders:HeavySpider"), reps)
                for m in ("async", "multiprocess")}
        selector = {m: repeat(lambda m=m: crawlkit_run(
            site.url, m, 64, "crawlkit.lab.bench_spiders:SelectorSpider"), reps) for m in MODES}
        selector["scrapy"] = repeat(lambda: scrapy_run(site.url, 64, selector=True), reps)
    finally:
        site.close()
    site = Site(lat_pages, 2048, 0.1, links=10)
    try:
        # sync runs one request at a time: 10 pages/s here by construction, minutes per run
        latency = {m: repeat(lambda m=m: crawlkit_run(site.url, m, 64), reps)
                   for m in MODES if m != "sync"}
        latency["scrapy"] = repeat(lambda: scrapy_run(site.url, 64), reps)
    finally:
        site.close()
    # short runs are noisy: 1,500 URLs per run, the three loops interleaved round by round
    site = Site(1500, 13_000, 0.0)
    try:
        urls = [f"{site.url}/page/{i}" for i in range(1500)]
        rounds = 3 if args.quick else 5
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "parsed": [], "sync": []}
        for _ in range(rounds):
            runs["bare"].append(bare_requests(urls))
            runs["parsed"].append(bare_requests_parsed(urls))
            runs["sync"].append(sync_list(urls))
        bare, bare_parsed, sync = (summarise(runs[k]) for k in ("bare", "parsed", "sync"))
    finally:
        site.close()
    engine = statistics.median(engine_overhead(20_000) for _ in range(reps))

    best_large = max((m for m in MODES), key=lambda m: large[m]["pages_per_second"])
    best_selector = max((m for m in MODES), key=lambda m: selector[m]["pages_per_second"])
    ideal = 64 / 0.1
    ratios = {
        "large: best crawlkit / scrapy": large[best_large]["pages_per_second"]
        / large["scrapy"]["pages_per_second"],
        "latency: async / scrapy": latency["async"]["pages_per_second"]
        / latency["scrapy"]["pages_per_second"],
        **{f"latency: {m} / ideal 640": latency[m]["pages_per_second"] / ideal
           for m in ("async", "threaded", "threadpool", "gevent")},
        "selector: best crawlkit / scrapy": selector[best_selector]["pages_per_second"]
        / selector["scrapy"]["pages_per_second"],
        "soup: multiprocess / async": soup["multiprocess"]["pages_per_second"]
        / soup["async"]["pages_per_second"],
        "sync / bare requests loop": sync["pages_per_second"] / bare["pages_per_second"],
        "sync / bare loop + same parse": sync["pages_per_second"]
        / bare_parsed["pages_per_second"],
        "engine alone / 20,000 pages/s": engine / 20_000,
    }
    report.update(large=large, best_large=best_large, latency=latency, soup=soup,
                  selector=selector, best_selector=best_selector,
                  bare_requests=bare, bare_requests_parsed=bare_parsed, sync_list=sync,
                  engine_pages_per_second=engine, ratios=ratios)
    for name, table in (("large (95 KB pages)", large), ("latency (100 ms)", latency),
                        ("soup (BeautifulSoup spider)", soup),
                        ("selector (parsel css() spider, 95 KB pages)", selector)):
        print(f"\n{name}: pages/s (median of {reps}), pages")
        for mode, run in table.items():
            print(f"  {mode:13s} {run['pages_per_second']:8.1f}  {run['pages']:5d}  {run['runs']}")
    print(f"\nengine alone: {engine:,.0f} pages/s")
    print(f"bare requests loop {bare['pages_per_second']:.1f} pages/s, with the same parse "
          f"{bare_parsed['pages_per_second']:.1f}, sync {sync['pages_per_second']:.1f} pages/s")
    print("\nratios:")
    for name, value in ratios.items():
        print(f"  {name:35s} {value:6.2f}")
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
