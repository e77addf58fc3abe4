"""crawlkit's strategies, Scrapy and Crawlee, side by side on the same local sites.

One command builds the sites (the built-in demo site served by a separate
process on 127.0.0.1; the Python docs served by nginx), runs every crawlkit mode
and the peers (Scrapy, Crawlee for Python: each in its own process, with the same
job: same-host links matching the same pattern, a title per page, the same
concurrency, retries and robots.txt off) on each, the runs interleaved round by
round, and prints and writes medians (with min-max) and ratios from this one run
on this machine:

* ``large``   ~95 KB pages, full crawl with the default spider (records with titles);
* ``latency`` small pages answered after 100 ms, concurrency 64 (``sync`` is left out:
              one request at a time is 10 pages/s by construction). Two ideals:
              640 pages/s (64 connections / 100 ms), and the site's own ideal, every
              connection busy all the time: a redirect page costs two round trips
              (the 302, then its target), so ideal = 640 x pages / requests, with
              the requests counted from the site's link graph;
* ``soup``    ~95 KB pages and a spider doing real BeautifulSoup work:
              ``multiprocess`` against ``async``;
* ``selector`` ~95 KB pages and a spider using CSS selectors (parsel) for the
              title, every h2's text and every link's href; every mode and Scrapy
              running the same extraction;
* ``tiny``    512-byte pages, zero latency, concurrency 64: ``async`` (fetch, parse,
              follow, write) against a bare aiohttp loop fetching the same URLs and
              parsing nothing (``crawlkit.lab.clients``);
* ``engine``  frontier + de-duplication + canonicalisation + output with fetching
              replaced by an in-memory fake;
* ``sync``    ``sync`` against a bare ``requests.Session`` loop over the same URLs,
              and against that loop doing the same title-and-links extraction;
* ``docs``    a real site: Debian's python3-doc HTML (~530 pages) served by nginx on
              a loopback port, crawled from index.html following same-host links
              matching ``\.html$``, concurrency 64; beside it the parse-bound limit
              (``decode_html`` + ``extract`` over the same files, on one core and on
              every core). Without nginx and python3-doc
              (``apt-get install nginx python3-doc``) the synthetic ~95 KB pages
              stand in, and the output says so.

A peer that is not installed is left out, with a note.

Run: pip install -e ".[bench]" && python benchmarks/vs_scrapy.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from crawlkit import strategies
from crawlkit.lab.demo import SiteSpec, reachable_urls
from crawlkit.lab.servers import wait_for_port

HERE = Path(__file__).parent
MODES: tuple[str, ...] = tuple(strategies.MODES)
"""Every fixed strategy, from the registry."""
WITH_AUTO = (*MODES, "auto")
"""The fixed strategies and ``auto``, on the workloads where auto is judged."""
PEERS = {"scrapy": "scrapy_runner.py", "crawlee": "crawlee_runner.py"}
DOCS = Path("/usr/share/doc/python3-doc/html")
DOCS_PATTERN = r"\.html$"


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

    @property
    def start(self) -> str:
        return self.url + "/"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


_NGINX_CONF = """\
worker_processes 1;
error_log {tmp}/error.log error;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; text/css css; application/javascript js; }}
    default_type application/octet-stream;
    charset utf-8;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class DocsSite:
    """Debian's python3-doc HTML served by nginx on a loopback port, from a config
    generated in a temporary directory (its logs and pid file stay there too)."""

    @staticmethod
    def available() -> bool:
        return (DOCS / "index.html").is_file() and nginx_binary() is not None

    def __init__(self, cpus: str | None = None) -> None:
        nginx = nginx_binary()
        assert nginx is not None
        self.tmp = tempfile.TemporaryDirectory(prefix="crawlkit-nginx-")
        prefix = Path(self.tmp.name)
        (prefix / "logs").mkdir()  # nginx opens its default error log before the config
        self.port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(tmp=prefix, port=self.port, root=DOCS))
        pin = ["taskset", "-c", cpus] if cpus is not None else []
        self.proc = subprocess.Popen([*pin, nginx, "-p", str(prefix), "-c", str(conf),
                                      "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def start(self) -> str:
        return self.url + "/index.html"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.tmp.cleanup()


def crawlkit_run(start: str, mode: str, concurrency: int, spider: str | None = None,
                 env: dict[str, str] | None = None, allow: str | None = None,
                 cpus: str | None = None) -> dict[str, Any]:
    """One ``crawlkit measure`` run in a process of its own (pinned to ``cpus``, a
    ``taskset -c`` list, when given)."""
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds.txt"
        seeds.write_text(start + "\n")
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "crawlkit", "measure", str(seeds), "--mode", mode,
               "--result", str(result), "--follow", "--concurrency", str(concurrency),
               "--per-host", str(concurrency), "--ignore-robots", "--retries", "0"]
        if spider:
            cmd += ["--spider", spider]
        if allow:
            cmd += ["--allow", allow]
        if cpus is not None:
            cmd = ["taskset", "-c", cpus, *cmd]
        subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
        doc: dict[str, Any] = json.loads(result.read_text())
    return {"pages": doc["pages_ok"] + doc["pages_failed"], "elapsed": doc["wall"],
            "pages_per_second": doc["pages_per_second"]}


def peer_available(peer: str) -> bool:
    """Whether the peer's package is installed (the ``bench`` extra)."""
    return importlib.util.find_spec(peer) is not None


def peer_run(peer: str, start: str, concurrency: int, selector: bool = False,
             include: str | None = None) -> dict[str, Any]:
    """One crawl by ``peer`` ("scrapy", "crawlee") in a process of its own."""
    extra = ["--selector"] if selector else []
    if include:
        extra += ["--include", include]
    out = subprocess.run([sys.executable, str(HERE / PEERS[peer]), start,
                          "--concurrency", str(concurrency), *extra],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def scrapy_run(start: str, concurrency: int, selector: bool = False) -> dict[str, Any]:
    return peer_run("scrapy", start, concurrency, selector)


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by pages/s (the runs differ only by noise)."""
    ordered = sorted(runs, key=lambda r: r["pages_per_second"])
    return ordered[len(ordered) // 2]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run, with every run's pages/s listed under ``runs`` and their
    ``min`` and ``max``."""
    med = dict(best_of(runs))
    rates = [r["pages_per_second"] for r in runs]
    med["runs"] = [round(r, 1) for r in rates]
    med["min"], med["max"] = min(rates), max(rates)
    return med


def repeat(fn: Any, times: int) -> dict[str, Any]:
    return summarise([fn() for _ in range(times)])


def interleaved(jobs: dict[str, Callable[[], dict[str, Any]]], rounds: int,
                ) -> dict[str, dict[str, Any]]:
    """Each job once per round, in turn, so a slow spell of the machine hits them alike;
    the median run of each (see :func:`summarise`)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            runs[name].append(job())
    return {name: summarise(done) for name, done in runs.items()}


def crawl_jobs(start: str, modes: tuple[str, ...], peers: list[str], spider: str | None = None,
               selector: bool = False, allow: str | None = None,
               ) -> dict[str, Callable[[], dict[str, Any]]]:
    """Every crawlkit mode and every installed peer doing one job on one site."""
    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        m: (lambda m=m: crawlkit_run(start, m, 64, spider, allow=allow)) for m in modes}
    for peer in peers:
        jobs[peer] = lambda peer=peer: peer_run(peer, start, 64, selector, allow)
    return jobs


_PARSE_PAGES: list[tuple[str, bytes]] = []


def _load_pages(pages: list[tuple[str, bytes]]) -> None:
    _PARSE_PAGES[:] = pages


def _parse_slice(bounds: tuple[int, int]) -> int:
    """The parse stage as the crawl runs it (``decode_html`` and ``extract`` from the
    bytes; ``decode_body`` and ``extract`` from the text in trees before it)."""
    from crawlkit import parse

    headers = {"content-type": "text/html"}
    decode_html = getattr(parse, "decode_html", None)
    for url, body in _PARSE_PAGES[bounds[0]:bounds[1]]:
        if decode_html is None:
            parse.extract(parse.decode_body(body, headers), url)
        else:
            text, utf8 = decode_html(body, headers)
            parse.extract(text, url, utf8)
    return bounds[1] - bounds[0]


def parse_bound(pages: list[tuple[str, bytes]], rounds: int) -> dict[str, Any]:
    """Pages/s of the parse stage alone (``decode_html`` + ``extract``) over ``pages``:
    on one core, and on every core with a process pool holding the pages already."""
    _load_pages(pages)
    single = []
    for _ in range(rounds):
        started = time.perf_counter()
        _parse_slice((0, len(pages)))
        single.append(len(pages) / (time.perf_counter() - started))
    cores = os.cpu_count() or 1
    step = max(1, len(pages) // (cores * 8))
    chunks = [(i, min(i + step, len(pages))) for i in range(0, len(pages), step)]
    pooled = []
    with ProcessPoolExecutor(cores, initializer=_load_pages, initargs=(pages,)) as pool:
        list(pool.map(_parse_slice, chunks))  # workers started and warm
        for _ in range(rounds):
            started = time.perf_counter()
            done = sum(pool.map(_parse_slice, chunks))
            pooled.append(done / (time.perf_counter() - started))
    return {"pages": len(pages), "one_core": statistics.median(single),
            "all_cores": statistics.median(pooled), "cores": cores}


def docs_pages() -> list[tuple[str, bytes]]:
    """The python3-doc pages as the docs crawl finds them: (URL path, bytes)."""
    return [("http://docs.invalid/" + str(p.relative_to(DOCS)), p.read_bytes())
            for p in sorted(DOCS.rglob("*.html"))]


def fetched_pages(base: str, count: int) -> list[tuple[str, bytes]]:
    import requests

    with requests.Session() as session:
        return [(f"{base}/page/{i}", session.get(f"{base}/page/{i}").content)
                for i in range(count)]


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


def round_trips(spec: SiteSpec, base: str) -> tuple[int, int]:
    """(pages, requests) of a full ``--follow`` crawl of the demo site: every
    reachable URL is a page, and a ``/redirect/`` page takes two requests."""
    urls = reachable_urls(spec, base)
    return len(urls), len(urls) + sum("/redirect/" in url for url in urls)


def bare_aiohttp_run(urls: list[str], concurrency: int) -> dict[str, Any]:
    """A bare aiohttp loop over ``urls`` in a fresh process (``crawlkit.lab.clients``)."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        out = subprocess.run([sys.executable, "-m", "crawlkit.lab.clients", str(listing),
                              "--client", "aiohttp", "--concurrency", str(concurrency)],
                             check=True, capture_output=True).stdout
    doc: dict[str, Any] = json.loads(out)
    return {"pages": doc["requests"], "elapsed": doc["seconds"],
            "pages_per_second": doc["requests_per_second"]}


def docs_workload(peers: list[str], reps: int, fallback_pages: int,
                  synthetic: list[tuple[str, bytes]] | None = None,
                  ) -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
    """The docs crawl in every mode and peer, and the parse-bound limit over the same
    pages: where the pages came from, the runs, the limit."""
    docs_site: DocsSite | Site
    if DocsSite.available():
        docs_source, docs_allow = f"python3-doc ({DOCS}) served by nginx", DOCS_PATTERN
        docs_site = DocsSite()
    else:
        docs_source, docs_allow = ("synthetic ~95 KB pages: nginx and python3-doc not found "
                                   "(apt-get install nginx python3-doc)"), None
        docs_site = Site(fallback_pages, 95_000, 0.0)
    print(f"docs workload: {docs_source}")
    try:
        docs = interleaved(crawl_jobs(docs_site.start, WITH_AUTO, peers, allow=docs_allow), reps)
        if docs_allow is None and not synthetic:
            assert isinstance(docs_site, Site)
            synthetic = fetched_pages(docs_site.url, 100)
    finally:
        docs_site.close()
    limit = parse_bound(docs_pages() if docs_allow else synthetic or [], 3)
    return docs_source, docs, limit


def print_table(name: str, table: dict[str, dict[str, Any]], reps: int) -> None:
    print(f"\n{name}: pages/s, median [min-max] of {reps}, pages")
    for mode, run in table.items():
        print(f"  {mode:13s} {run['pages_per_second']:8.1f} "
              f"[{run['min']:.1f}-{run['max']:.1f}]  {run['pages']:5d}")


def print_docs(source: str, docs: dict[str, dict[str, Any]], limit: dict[str, Any],
               reps: int) -> None:
    print_table(f"docs ({source})", docs, reps)
    print(f"\nparse-bound limit over the same {limit['pages']} pages (decode + extract): "
          f"{limit['one_core']:.0f} pages/s on one core, {limit['all_cores']:.0f} on "
          f"{limit['cores']} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sites, fewer repeats")
    parser.add_argument("--out", default="benchmarks/results-vs-scrapy.json")
    parser.add_argument("--docs-only", action="store_true",
                        help="only the docs workload and the parse-bound limit")
    args = parser.parse_args()
    reps = 1 if args.quick else 3
    big_pages, lat_pages = (150, 300) if args.quick else (500, 2000)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                              "repeats": reps}

    peers = [p for p in PEERS if peer_available(p)]
    missing = [p for p in PEERS if p not in peers]
    report["peers"] = peers
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (pip install -e \".[bench]\")")
    latency_modes = tuple(m for m in MODES if m != "sync")
    if args.docs_only:
        docs_source, docs, limit = docs_workload(peers, reps, big_pages)
        report.update(docs=docs, docs_source=docs_source, parse_bound=limit)
        print_docs(docs_source, docs, limit, reps)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"\nwritten to {args.out}")
        return

    site = Site(big_pages, 95_000, 0.0)
    try:
        large = interleaved(crawl_jobs(site.start, WITH_AUTO, peers), reps)
        soup = interleaved({m: (lambda m=m: crawlkit_run(
            site.start, m, 64, "crawlkit.lab.bench_spiders:HeavySpider"))
            for m in ("async", "multiprocess")}, reps)
        selector = interleaved(crawl_jobs(site.start, WITH_AUTO, peers,
                                          "crawlkit.lab.bench_spiders:SelectorSpider",
                                          selector=True), reps)
        synthetic = fetched_pages(site.url, 100) if not DocsSite.available() else []
    finally:
        site.close()
    site = Site(lat_pages, 2048, 0.1, links=10)
    latency_pages, latency_requests = round_trips(SiteSpec(pages=lat_pages, links=10), site.url)
    try:
        # sync runs one request at a time: 10 pages/s here by construction, minutes per run
        latency = interleaved(crawl_jobs(site.start, latency_modes, peers), reps)
    finally:
        site.close()
    docs_source, docs, limit = docs_workload(peers, reps, big_pages, synthetic)
    tiny_pages = 1000 if args.quick else 3000
    site = Site(tiny_pages, 512, 0.0)
    try:
        tiny_urls = [f"{site.url}/"] + [f"{site.url}/page/{i}" for i in range(tiny_pages)]
        tiny = interleaved({"async": lambda: crawlkit_run(site.start, "async", 64),
                            "bare aiohttp": lambda: bare_aiohttp_run(tiny_urls, 64)}, reps)
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
    best_docs = max((m for m in MODES), key=lambda m: docs[m]["pages_per_second"])
    best_selector = max((m for m in MODES), key=lambda m: selector[m]["pages_per_second"])
    ideal = 64 / 0.1
    site_ideal = ideal * latency_pages / latency_requests
    peer_ratios: dict[str, float] = {}
    for peer in peers:
        peer_ratios.update({
            f"large: best crawlkit / {peer}": large[best_large]["pages_per_second"]
            / large[peer]["pages_per_second"],
            f"latency: async / {peer}": latency["async"]["pages_per_second"]
            / latency[peer]["pages_per_second"],
            f"selector: best crawlkit / {peer}": selector[best_selector]["pages_per_second"]
            / selector[peer]["pages_per_second"],
            f"docs: best crawlkit / {peer}": docs[best_docs]["pages_per_second"]
            / docs[peer]["pages_per_second"],
        })
    ratios = {
        **peer_ratios,
        **{f"latency: {m} / ideal 640": latency[m]["pages_per_second"] / ideal
           for m in latency_modes},
        **{f"latency: {m} / site ideal {site_ideal:.0f}":
           latency[m]["pages_per_second"] / site_ideal for m in latency_modes},
        **{f"{name}: auto / best fixed mode": table["auto"]["pages_per_second"]
           / table[best]["pages_per_second"]
           for name, table, best in (("large", large, best_large), ("docs", docs, best_docs),
                                     ("selector", selector, best_selector))},
        "tiny: async / bare aiohttp loop": tiny["async"]["pages_per_second"]
        / tiny["bare aiohttp"]["pages_per_second"],
        "docs: best crawlkit / parse-bound limit (all cores)":
            docs[best_docs]["pages_per_second"] / limit["all_cores"],
        "soup: multiprocess / async": soup["multiprocess"]["pages_per_second"]
        / soup["async"]["pages_per_second"],
        "sync / bare requests loop": sync["pages_per_second"] / bare["pages_per_second"],
        "sync / bare loop + same parse": sync["pages_per_second"]
        / bare_parsed["pages_per_second"],
        "engine alone / 20,000 pages/s": engine / 20_000,
    }
    report.update(latency_site={"pages": latency_pages, "requests": latency_requests,
                                "ideal_pages_per_second": site_ideal})
    report.update(large=large, best_large=best_large, latency=latency, soup=soup,
                  selector=selector, best_selector=best_selector,
                  docs=docs, best_docs=best_docs, tiny=tiny, docs_source=docs_source,
                  parse_bound=limit,
                  bare_requests=bare, bare_requests_parsed=bare_parsed, sync_list=sync,
                  engine_pages_per_second=engine, ratios=ratios)
    for name, table in (("large (95 KB pages)", large), ("latency (100 ms)", latency),
                        ("soup (BeautifulSoup spider)", soup),
                        ("selector (parsel css() spider, 95 KB pages)", selector),
                        ("tiny (512-byte pages, no parse in the bare loop)", tiny)):
        print_table(name, table, reps)
    print_docs(docs_source, docs, limit, reps)
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
