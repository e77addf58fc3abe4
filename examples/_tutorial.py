"""What every tutorial example shares: its flags, the demo site in a child process,
one page's work, the sequential baseline, measuring a run and the printed table.

Each example measures its pattern against the same crawl done one page at a time
and prints one table through :func:`report`::

    pattern                                  pages  seconds  pages/s speed-up  CPU s peak RSS MB
    sequential                                 200    16.94     11.8    1.00x   1.32        30.1
    16 Thread subclass + Queue                 200     1.14    175.4   14.86x   1.41        38.9

Every run (the baseline too) happens in a forked child of the example, so each
row's peak RSS is that run's alone: ``getrusage`` of the run's process plus its
largest child process (a pool's workers are not summed). Seconds count the work
only, not the fork. CPU s is the user + system time of the run's process and its
children: on a machine shared with other work, a CPU-bound row's seconds say how
much of the cores it got, its CPU seconds what the work cost. The demo site runs
in another process so that serving pages never competes with the pattern for the
example's GIL or shows in its memory. Forking and getrusage make the examples
Unix-only (Linux, macOS).
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import resource
import subprocess
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests
from bs4 import BeautifulSoup

from crawlkit.parse import extract

_PAGE = re.compile(r"/page/\d+")

# The demo site, started by `demo_site` in a child process; prints its port.
_SERVE = """
import sys, threading
from crawlkit.lab.demo import DemoSite, SiteSpec
pages, latency, page_bytes = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
site = DemoSite(SiteSpec(pages=pages, latency=latency, page_bytes=page_bytes))
site.start()
print(site.port, flush=True)
threading.Event().wait()
"""


def arguments(doc: str | None, **defaults: int) -> argparse.ArgumentParser:
    """The flags every example takes: site size, latency, page size, and ``--workers``.

    Args:
        doc: the example's docstring; its first line is the ``--help`` description.
        defaults: ``workers=N`` changes the default of ``--workers`` (16),
            ``page_bytes=B`` that of ``--page-bytes`` (24000).
    """
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="pages on the demo site")
    parser.add_argument("--latency", type=float, default=0.08,
                        help="seconds the site waits before each response (default 0.08)")
    page_bytes = defaults.get("page_bytes", 24_000)
    parser.add_argument("--page-bytes", type=int, default=page_bytes,
                        help=f"size of each page's HTML (default {page_bytes})")
    parser.add_argument("--workers", type=int, default=defaults.get("workers", 16),
                        help="threads, processes, greenlets or requests in flight")
    return parser


@dataclass(frozen=True)
class Site:
    """The running demo site: its base URL and its page URLs."""

    url: str
    pages: int

    def page(self, n: int) -> str:
        """The URL of page ``n``."""
        return f"{self.url}/page/{n}"

    def urls(self) -> list[str]:
        """Every page URL, in page order."""
        return [self.page(n) for n in range(self.pages)]

    def pages_among(self, links: Iterable[str]) -> list[str]:
        """The links that are plain page URLs of this site (no query), to follow."""
        return [link for link in links if _PAGE.fullmatch(link[len(self.url):])
                and link.startswith(self.url + "/")]


@contextmanager
def demo_site(args: argparse.Namespace) -> Iterator[Site]:
    """Serve the demo site (``crawlkit.lab.demo``) on 127.0.0.1 in a child process."""
    command = [sys.executable, "-c", _SERVE, str(args.pages), str(args.latency),
               str(args.page_bytes)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the demo site did not start (exit code {server.wait()})")
        yield Site(f"http://127.0.0.1:{port}", args.pages)
    finally:
        server.terminate()
        server.wait(timeout=10)


def parse_links(html: str, url: str) -> tuple[str, tuple[str, ...]]:
    """crawlkit's parse stage on one page: the key a run reports for it (URL, title,
    link count; compared between runs) and the page's links."""
    title, links = extract(html, url)
    return f"{url} | {title} | {len(links)} links", links


def parse(html: str, url: str) -> str:
    """The key of one page (see :func:`parse_links`)."""
    return parse_links(html, url)[0]


def parse_heavy(html: str, url: str) -> str:
    """A parse that costs CPU like a real scraper's: crawlkit's parse stage, then a
    BeautifulSoup tree walked for every section heading and list item. The key
    gains the heading count."""
    soup = BeautifulSoup(html, "html.parser")
    headings = len(soup.find_all("h2"))
    items = len(soup.find_all("li"))
    return f"{parse(html, url)} | {headings} headings | {items} items"


def fetch(session: requests.Session, url: str) -> str:
    """Download one page with ``session``; raises on an HTTP error status."""
    response = session.get(url, timeout=30)
    response.raise_for_status()
    return response.text


def fetch_and_parse(session: requests.Session, url: str) -> str:
    """One page's whole work: download, then :func:`parse`. A page that fails
    becomes a key with the reason, never an exception."""
    try:
        return parse(fetch(session, url), url)
    except requests.RequestException as exc:
        return f"{url} | failed: {type(exc).__name__}"


def sequential(site: Site) -> list[str]:
    """The baseline: every page fetched and parsed one after the other."""
    with requests.Session() as session:
        return [fetch_and_parse(session, url) for url in site.urls()]


def sequential_follow(site: Site) -> list[str]:
    """The baseline of a crawl that discovers pages: start at page 0, follow every
    page link once (a local set of seen URLs, a deque as the frontier)."""
    seen = {site.page(0)}
    frontier = deque(seen)
    keys = []
    with requests.Session() as session:
        while frontier:
            url = frontier.popleft()
            key, links = parse_links(fetch(session, url), url)
            keys.append(key)
            for link in site.pages_among(links):
                if link not in seen:
                    seen.add(link)
                    frontier.append(link)
    return keys


@dataclass(frozen=True)
class Done:
    """What a run returns: one key per page it handled and a few facts to print."""

    keys: list[str]
    notes: dict[str, object] = field(default_factory=dict)
    compare: list[str] | None = None  # what must equal the baseline's; default `keys`
    seconds: float | None = None  # the run timed its own part (e.g. start-up excluded)


@dataclass(frozen=True)
class Run:
    """One row of the table."""

    label: str
    keys: list[str]
    seconds: float
    cpu_seconds: float
    rss_mb: float
    notes: dict[str, object]
    compare: list[str]

    @property
    def pages(self) -> int:
        """Pages this run handled."""
        return len(self.keys)


def peak_rss_mb() -> float:
    """Peak RSS of this process plus that of its largest waited-for child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + child) / 1024  # kilobytes on Linux


def cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + child.ru_utime + child.ru_stime


def measure(label: str, work: Callable[[], Done | Iterable[str]]) -> Run:
    """Run ``work`` in a forked child process and time it there.

    Raises:
        RuntimeError: ``work`` raised; the child's traceback is in the message.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, send the result up the pipe, leave without cleanup
        os.close(read_end)
        code = 0
        try:
            started = time.perf_counter()
            done = work()
            seconds = time.perf_counter() - started
            if not isinstance(done, Done):
                done = Done(list(done))
            if done.seconds is not None:
                seconds = done.seconds
            compare = done.keys if done.compare is None else done.compare
            payload: object = Run(label, done.keys, seconds, cpu_seconds(), peak_rss_mb(),
                                  done.notes, compare)
        except BaseException:
            payload = traceback.format_exc()
            code = 1
        data = pickle.dumps(payload)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(len(data).to_bytes(8, "big") + data)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(write_end)
    # Length first, then exactly that many bytes: under gevent's patched fork the
    # parent never sees end-of-file on this pipe, so the read must not wait for it.
    with os.fdopen(read_end, "rb") as pipe:
        size = int.from_bytes(pipe.read(8) or b"\0", "big")
        data = pipe.read(size) if size else b""
    os.waitpid(pid, 0)
    result = pickle.loads(data) if data else f"{label}: the run died without a result"
    if not isinstance(result, Run):
        raise RuntimeError(f"{label} failed:\n{result}")
    return result


def report(runs: list[Run]) -> None:
    """Print the table (the first run is the baseline), then whether each run handled
    the same pages as the baseline, then the runs' notes."""
    base = runs[0]
    print(f"{'pattern':<44} {'pages':>5} {'seconds':>8} {'pages/s':>8} {'speed-up':>8}"
          f" {'CPU s':>6} {'peak RSS MB':>11}")
    for run in runs:
        rate = run.pages / run.seconds if run.seconds else 0.0
        base_rate = base.pages / base.seconds if base.seconds else 0.0
        speedup = rate / base_rate if base_rate else 0.0
        print(f"{run.label:<44} {run.pages:>5} {run.seconds:>8.2f} {rate:>8.1f}"
              f" {speedup:>7.2f}x {run.cpu_seconds:>6.2f} {run.rss_mb:>11.1f}")
    for run in runs[1:]:
        same = sorted(run.compare) == sorted(base.compare)
        print(f"same pages as baseline [{run.label}]: {same}")
    for run in runs:
        for name, value in run.notes.items():
            print(f"{name}: {value}")
