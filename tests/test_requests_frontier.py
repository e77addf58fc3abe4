"""Requests through the frontier: fingerprints, priorities, whole requests kept by the
journal and Redis, URLs sent as the page wrote them, and redirects that are not links."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawlkit import MODES
from crawlkit.engine import Engine
from crawlkit.frontiers.base import Frontier
from crawlkit.frontiers.disk import DiskFrontier
from crawlkit.frontiers.journal import CrawlState
from crawlkit.frontiers.memory import MemoryFrontier
from crawlkit.models import FetchResult, Outcome, Request
from crawlkit.process import Processor
from crawlkit.settings import CrawlSettings
from crawlkit.sinks import ListSink
from crawlkit.spiders import DefaultSpider
from crawlkit.urls import canonicalize
from sample_spiders import RequestsProcessor
from test_cli import HERE
from test_state import _records, _wait_for_lines

ORIGIN = "http://a.test"


def _always(origin: str, now: float) -> bool:
    return True


def _drain(frontier: Frontier) -> list[Request]:
    """Every request left, each completed once taken out."""
    out = []
    while (request := frontier.pop(0.0, _always, 0)) is not None:
        out.append(request)
        frontier.complete(request, True, 0, None)
    return out


def _found_on_a_page(frontier: Frontier, links: list[str | Request]) -> list[str | None]:
    """Offer ``links`` as a seed's page does (a Redis frontier writes them on completion)."""
    assert frontier.offer_seed(ORIGIN + "/") is None
    seed = frontier.pop(0.0, _always, 0)
    assert seed is not None
    reasons = frontier.offer_links(links, 1)
    frontier.complete(seed, True, 0, None)
    return reasons


@pytest.fixture(params=["memory", "disk", "redis"])
def backend(request, tmp_path, small_disk_buffers) -> Iterator[Callable[[], Frontier]]:
    """Makes frontiers of one backend (the disk one with tiny buffers)."""
    settings = CrawlSettings(follow=True, same_host=False)
    if request.param == "memory":
        yield lambda: MemoryFrontier(settings)
    elif request.param == "disk":
        states: list[CrawlState] = []

        def make() -> Frontier:
            states.append(CrawlState(tmp_path / f"{len(states)}.db", "fp"))
            return DiskFrontier(settings, states[-1])

        yield make
        for state in states:
            state.close()
    else:
        redis = pytest.importorskip("redis")
        from crawlkit.frontiers.redis import RedisFrontier, delete_job

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        jobs: list[str] = []

        def make_shared() -> Frontier:
            jobs.append(uuid.uuid4().hex)
            return RedisFrontier(settings, client, jobs[-1], "fp")

        yield make_shared
        for job in jobs:
            delete_job(client, job)
        client.close()


def test_higher_priority_first_within_an_origin_then_arrival(backend):
    frontier = backend()
    priorities = [0, 2, 1, 0, 2, -1, 1, 0, 3, 0, 2, 1, 0, 0]
    links = [Request(f"{ORIGIN}/p/{i}", priority=p) for i, p in enumerate(priorities)]
    assert _found_on_a_page(frontier, links[:7]) == [None] * 7
    first = frontier.pop(0.0, _always, 0)  # the best of the first seven goes out...
    assert first is not None and first.url == f"{ORIGIN}/p/1"
    # ... and what comes after, outranking what was queued before, goes first
    assert frontier.offer_links(links[7:], 1) == [None] * 7
    frontier.complete(first, True, 0, None)
    order = [first] + _drain(frontier)
    expected = [links[1]] + sorted([r for r in links if r is not links[1]],
                                   key=lambda r: -r.priority)  # sorted() is stable: arrival
    assert [r.url for r in order] == [r.url for r in expected]
    assert all(r.depth == 1 for r in order)


def test_requests_are_the_same_by_method_url_and_body(backend):
    frontier = backend()
    url = f"{ORIGIN}/search"
    links: list[str | Request] = [
        Request(url, data={"q": "lamp"}),
        Request(url + "?", data={"q": "lamp"}),          # the same URL, canonically
        Request(url, data={"q": "desk"}),                # another body
        url,                                             # the GET
        Request(url, data={"q": "lamp"}, dont_filter=True),
        Request(url, dont_filter=True),
        Request(url, data={"q": "lamp"}),                # seen
    ]
    assert _found_on_a_page(frontier, links) == [None, "duplicate", None, None, None, None,
                                                 "duplicate"]
    popped = _drain(frontier)
    assert sorted((r.method, r.body) for r in popped) == [
        ("GET", b""), ("GET", b""), ("POST", b"q=desk"), ("POST", b"q=lamp"),
        ("POST", b"q=lamp")]
    # a dont_filter request does not enter the seen set, nor is it refused by it
    assert frontier.offer_links([Request(url, data={"q": "lamp"}, dont_filter=True),
                                 Request(url, data={"q": "lamp"})], 1) == [None, "duplicate"]


def test_a_resumed_journal_gives_requests_back_whole(tmp_path, small_disk_buffers):
    settings = CrawlSettings(follow=True, same_host=False)
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(settings, state)
    links = [Request(f"{ORIGIN}/p/{i}", "parse_item", meta={"i": i, "tags": [], "m": {}},
                     priority=i % 3, errback="failed", headers={"X-I": str(i)})
             for i in range(12)]
    links += [Request(f"{ORIGIN}/form", data={"q": str(i)}, priority=5) for i in range(3)]
    links += [Request(f"{ORIGIN}/again", meta={"k": k}, dont_filter=True) for k in (1, 1, 2)]
    assert frontier.offer_links(links, 2) == [None] * len(links)
    taken = [frontier.pop(0.0, _always, 0) for _ in range(5)]
    assert [r.priority for r in taken if r is not None] == [5, 5, 5, 2, 2]
    done = [r for r in taken[:4] if r is not None]
    state.done.extend(done)  # the fifth is in flight when the process dies
    again = frontier.pop(0.0, _always, 0)
    assert again is not None
    state.done.append(replace(again, attempt=2))  # a retried page counts once as well
    state.commit(None, {}, [])
    state.close()

    state = CrawlState(tmp_path / "s.db", "fp")
    resumed = DiskFrontier(settings, state)
    resumed.resume([])
    rest = _drain(resumed)
    finished = done + [again]
    over = {r.fingerprint for r in finished if not r.dont_filter}
    expected = sorted((replace(r, depth=2) for r in links
                       if r.dont_filter or r.fingerprint not in over),
                      key=lambda r: -r.priority)
    want = [r.to_dict() for r in expected]
    for r in finished:
        if r.dont_filter:  # of the alike requests, one is done
            want.remove(replace(r, attempt=0).to_dict())
    assert len(want) == len(links) - 5
    assert [r.to_dict() for r in rest] == want
    assert {r.depth for r in rest} == {2}
    assert resumed.offer_links([links[0], Request(f"{ORIGIN}/form", data={"q": "0"})],
                               2) == ["duplicate", "duplicate"]
    state.close()


def test_a_dead_workers_requests_come_back_whole_from_redis(redis_url):
    redis = pytest.importorskip("redis")
    from crawlkit.frontiers.redis import RedisFrontier, delete_job, job_status

    client = redis.Redis.from_url(redis_url)
    job = uuid.uuid4().hex
    settings = CrawlSettings(follow=True, same_host=False, concurrency=1)
    try:
        dying = RedisFrontier(settings, client, job, "fp", lease=0.2)
        links = [Request(f"{ORIGIN}/p/{i}", "parse_item", meta={"i": i, "tags": []},
                         priority=i, data={"n": str(i)}) for i in range(3)]
        links.append(Request(f"{ORIGIN}/p/0", "parse_item", data={"n": "0"},
                             meta={"i": 0, "tags": []}, dont_filter=True))
        assert dying.offer_seed(Request(f"{ORIGIN}/seed", "start", meta={"s": 1})) is None
        seed = dying.pop(0.0, _always, 0)
        assert seed is not None and seed.callback == "start" and seed.meta == {"s": 1}
        assert dying.offer_links(links, 1) == [None] * 4
        dying.complete(seed, True, 0, None)
        leased = dying.pop(0.0, _always, 1)
        assert leased is not None and leased.priority == 2  # then it dies with it
        time.sleep(0.3)
        survivor = RedisFrontier(settings, client, job, "fp", lease=5)
        got = []
        for _ in range(50):
            request = survivor.pop(0.0, _always, 0)
            if request is None:
                break
            got.append(request)
            survivor.complete(request, True, 0, None)
        assert [r.to_dict() for r in got] == [replace(links[i], depth=1).to_dict()
                                              for i in (2, 1, 0, 3)]
        status = job_status(client, job)
        assert status["queued"] == 0 and status["leased"] == 0
        assert status["stats"]["reclaimed"] == 1
    finally:
        delete_job(client, job)
        client.close()


# --- through the engine, against a server that records what it was sent ------------------


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.lines: list[str] = []  # every request line, as received
        self.bodies: list[tuple[str, bytes]] = []  # (method, body) of each request
        self.lock = threading.Lock()  # guards lines and bodies (one thread per request)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.lines.append(self.requestline)
            self.server.bodies.append((self.command, body))
        path = self.path.split("?", 1)[0]
        status, headers, content = self.server.routes.get(
            path, (404, {"Content-Type": "text/plain"}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Callable[[dict[str, tuple[int, dict[str, str], bytes]]], _Recorder]]:
    servers: list[_Recorder] = []

    def start(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> _Recorder:
        server = _Recorder(routes)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _html(body: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html"}, f"<html><body>{body}</body></html>".encode()


def _moved(status: int, to: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Location": to}, b""


def _planned(path: str, callback: str | None = None, **kwargs) -> dict:
    """A Request to ``path`` on the page's site, as a plan entry."""
    return Request("http://site" + path, callback, **kwargs).to_dict() | {"url": path}


def _run(settings: CrawlSettings, seeds: list[str | Request],
         processor: Processor | None = None, **kwargs) -> tuple[list[dict], Engine]:
    sink = ListSink()
    engine = Engine(settings, DefaultSpider(), sink, processor=processor, **kwargs)
    engine.stats = engine.run(seeds)  # type: ignore[attr-defined]
    return sink.items, engine


@pytest.mark.parametrize("mode", MODES)
def test_links_are_sent_as_the_page_wrote_them(mode, recorder):
    server = recorder({
        "/": _html('<a href="/list?b=2&a=1">1</a><a href="/list?a=1&b=2">same</a>'
                   '<a href="/flag?flag">2</a><a href="/files/a%2Fb">3</a>'
                   '<a href="/sp ace?q=x y">4</a>'),
        "/list": _html(""), "/flag": _html(""), "/files/a%2Fb": _html(""),
        "/sp%20ace": _html(""),
    })
    settings = CrawlSettings(mode=mode, follow=True, obey_robots=False, concurrency=2)
    records, _ = _run(settings, [server.url + "/"])
    urls = sorted(r["url"] for r in records)
    # the records name the URLs as sent: the first spelling of each page, made safe
    assert urls == sorted(server.url + path for path in (
        "/", "/list?b=2&a=1", "/flag?flag", "/files/a%2Fb", "/sp%20ace?q=x%20y"))
    # the request lines the server received: this assertion needs the HTTP clients
    # to send the URL as given (what the frontier hands them, above, already is)
    assert sorted(server.lines) == sorted(
        f"GET {path} HTTP/1.1" for path in (
            "/", "/list?b=2&a=1", "/flag?flag", "/files/a%2Fb", "/sp%20ace?q=x%20y"))


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_chain_through_a_denied_url_reaches_its_target(mode, recorder):
    server = recorder({
        "/": _html('<a href="/go">go</a><a href="/login/direct">denied link</a>'),
        "/go": _moved(302, "/login/next"),        # deny matches this hop
        "/login/next": _moved(301, "/deep"),
        "/deep": _moved(302, "/target"),          # max_depth 1 is long passed
        "/target": _html('<a href="/login/more">denied link</a>'),
    })
    settings = CrawlSettings(mode=mode, follow=True, obey_robots=False, deny=(r"/login/",),
                             max_depth=1)
    records, engine = _run(settings, [server.url + "/"])
    by_path = {r["url"][len(server.url):]: r for r in records}
    assert set(by_path) == {"/", "/go", "/login/next", "/deep", "/target"}
    assert by_path["/target"]["status"] == 200 and by_path["/target"]["depth"] == 1
    # the links, never the hops
    assert engine.stats.refused == {"denied": 1, "too deep": 1}


def _hop_site(recorder) -> _Recorder:
    return recorder({
        "/": _html(""),
        "/see": _moved(303, "/seen"), "/seen": _html(""),
        "/keep": _moved(307, "/kept"), "/kept": _html(""),
        "/off": _moved(302, "http://127.0.0.2:9/elsewhere"),  # offsite: no hop
    })


_HOP_PLAN = {"/": [
    _planned("/see", "parse_x", data={"a": "1"}, meta={"k": 1}, priority=2),
    _planned("/keep", "parse_y", json={"b": 2}, meta={"k": 2}, errback="oops"),
    _planned("/off", "parse_z"),
]}


def test_a_redirect_hop_keeps_the_request_and_follows_the_status(recorder):
    server = _hop_site(recorder)
    settings = CrawlSettings(mode="sync", follow=True, obey_robots=False)
    records, engine = _run(settings, [server.url + "/"],
                           RequestsProcessor(DefaultSpider(), settings, _HOP_PLAN))
    by_path = {r["url"][len(server.url):]: r for r in records}
    assert set(by_path) == {"/", "/see", "/seen", "/keep", "/kept", "/off"}
    seen, kept = by_path["/seen"], by_path["/kept"]
    assert (seen["method"], seen["body"], seen["callback"], seen["meta"], seen["priority"]) \
        == ("GET", "", "parse_x", {"k": 1}, 2)
    assert (kept["method"], kept["body"], kept["callback"], kept["errback"], kept["meta"]) \
        == ("POST", '{"b":2}', "parse_y", "oops", {"k": 2})
    assert engine.stats.refused == {"offsite": 1}


@pytest.mark.parametrize("mode", MODES)
def test_the_server_receives_each_hops_method_and_body(mode, recorder):
    server = _hop_site(recorder)
    settings = CrawlSettings(mode=mode, follow=True, obey_robots=False)
    _run(settings, [server.url + "/"], RequestsProcessor(DefaultSpider(), settings, _HOP_PLAN))
    assert sorted(server.bodies) == [("GET", b"")] * 3 + [("POST", b"a=1"),
                                                        ("POST", b'{"b":2}'),
                                                        ("POST", b'{"b":2}')]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_priority_order_within_an_origin(mode, recorder):
    routes = {"/": _html("")} | {f"/p/{i}": _html("") for i in range(12)}
    server = recorder(routes)
    plan = {"/": [_planned(f"/p/{i}", priority=i % 4) for i in range(12)]}
    settings = CrawlSettings(mode=mode, follow=True, obey_robots=False, concurrency=1,
                             per_host=1)
    _run(settings, [server.url + "/"], RequestsProcessor(DefaultSpider(), settings, plan))
    expected = sorted(range(12), key=lambda i: -(i % 4))
    assert server.lines == ["GET / HTTP/1.1"] + [f"GET /p/{i} HTTP/1.1" for i in expected]


def test_post_requests_are_fetched_once_per_body(recorder):
    server = recorder({"/": _html(""), "/search": _html("")})
    form = {"url": "/search", "method": "POST", "body": "cT1sYW1w"}  # q=lamp
    plan = {"/": [form, form, {**form, "body": "cT1kZXNr"}, {"url": "/search"},
                  {**form, "dont_filter": True}]}
    settings = CrawlSettings(mode="sync", follow=True, obey_robots=False)
    records, engine = _run(settings, [server.url + "/"],
                           RequestsProcessor(DefaultSpider(), settings, plan))
    assert sorted((r["method"], r["body"]) for r in records if "search" in r["url"]) == [
        ("GET", ""), ("POST", "q=desk"), ("POST", "q=lamp"), ("POST", "q=lamp")]
    assert engine.stats.refused == {"duplicate": 1}


def test_requests_as_seeds(recorder):
    server = recorder({"/a": _html(""), "/b": _html("")})
    settings = CrawlSettings(mode="sync", obey_robots=False)
    seeds: list[str | Request] = [
        Request(server.url + "/a", "parse_a", meta={"m": 1}), server.url + "/b",
        server.url + "/a", Request(server.url + "/a", data={"x": "1"})]
    records, engine = _run(settings, seeds, RequestsProcessor(DefaultSpider(), settings))
    got = sorted((r["url"][len(server.url):], r["method"], r["callback"]) for r in records)
    assert got == [("/a", "GET", "parse_a"), ("/a", "POST", None), ("/b", "GET", None)]
    assert engine.stats.refused == {"duplicate": 1}


class _Troubled(Processor):
    """Every page: two items, one dropped, and a spider error named by its path."""

    def __call__(self, result: FetchResult) -> Outcome:
        outcome = super().__call__(result)
        if outcome.request.purpose != "page":
            return outcome
        kind = "KeyError" if "k" in outcome.request.url else "ValueError"
        reason = f"spider error: {kind}: x"
        trace = f"Traceback (most recent call last):\n  ...\n{kind}: x ({outcome.request.url})"
        return replace(outcome, error=reason, traceback=trace, dropped=1,
                       items=({"url": outcome.request.url},))


def test_dropped_items_and_the_first_traceback_of_each_error(recorder):
    server = recorder({p: _html("") for p in ("/v1", "/v2", "/k1", "/k2", "/v3")})
    settings = CrawlSettings(mode="sync", obey_robots=False)
    heard: list[tuple[str, str]] = []
    _, engine = _run(settings, [server.url + p for p in ("/v1", "/v2", "/k1", "/k2", "/v3")],
                     _Troubled(DefaultSpider(), settings),
                     on_spider_error=lambda reason, trace: heard.append((reason, trace)))
    stats = engine.stats  # type: ignore[attr-defined]
    assert stats.dropped == 5 and stats.items == 5
    assert set(stats.tracebacks) == {"spider error: ValueError: x", "spider error: KeyError: x"}
    assert stats.tracebacks["spider error: KeyError: x"].endswith(f"({server.url}/k1)")
    assert sorted(heard) == sorted(stats.tracebacks.items())  # once per distinct error
    assert "5 items dropped" in stats.summary()


# --- a crash, then a resume: requests come back whole ------------------------------------

_SCRIPT = """
import sys
from crawlkit.crawler import Crawler
from crawlkit.settings import CrawlSettings
from sample_spiders import CallbackNamesSpider, RequestsProcessor

def main():
    seed, mode, out, where = sys.argv[1:5]
    settings = CrawlSettings(mode=mode, follow=True, concurrency=8, timeout=1.5)
    processor = RequestsProcessor(CallbackNamesSpider(), settings, derive=True)
    if where.startswith("redis://"):
        crawler = Crawler(settings, processor=processor, out=out, frontier=where,
                          job="requests", lease=2)
    else:
        crawler = Crawler(settings, processor=processor, out=out, state=where)
    crawler.run([seed])


if __name__ == "__main__":  # worker processes import this file again
    main()
"""


def _identity(record: dict) -> tuple:
    return (canonicalize(record["url"]), record["method"], record["body"])


def _whole(record: dict) -> tuple:
    return (*_identity(record), record["callback"], record["errback"],
            json.dumps(record["meta"], sort_keys=True), record["priority"], record["status"])


@pytest.fixture
def requests_crawl(tmp_path, site_factory):
    """A site, the script that crawls it with Requests, and what a clean run writes."""
    site = site_factory(pages=120, links=5, latency=0.01)
    script = tmp_path / "requests_crawl.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])

    def start(mode: str, out: Path, where: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(script), site.url + "/", mode, str(out),
                                 where], env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    clean = tmp_path / "clean.jsonl"
    proc = start("async", clean, str(tmp_path / "clean.db"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    records = _records(clean)
    assert len(records) > 120  # pages and forms
    assert {r["callback"] for r in records} == {None, "parse_even", "parse_odd", "parse_form"}
    assert {r["method"] for r in records} == {"GET", "POST"}
    assert {r["priority"] for r in records} == {0, 1, 2}
    return start, records


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_kill_9_then_resume_keeps_callbacks_meta_bodies_and_priorities(
        mode, tmp_path, requests_crawl):
    start, clean = requests_crawl
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    for kill_at in (5, 60, 150):
        proc = start(mode, out, str(state))
        if _wait_for_lines(out, kill_at, proc):
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    final = start(mode, out, str(state))
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    records = _records(out)
    assert len(records) == len({_identity(r) for r in records}), "a record was written twice"
    assert {_whole(r) for r in records} == {_whole(r) for r in clean}


@pytest.mark.slow
def test_a_killed_redis_worker_loses_no_request_nor_what_it_carries(
        tmp_path, redis_url, requests_crawl):
    start, clean = requests_crawl
    victim_out, survivor_out = tmp_path / "victim.jsonl", tmp_path / "survivor.jsonl"
    victim = start("threaded", victim_out, redis_url)
    assert _wait_for_lines(victim_out, 20, victim)
    survivor = start("async", survivor_out, redis_url)
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    records = _records(victim_out) + _records(survivor_out)
    assert {_whole(r) for r in records} == {_whole(r) for r in clean}
    assert len(records) - len({_identity(r) for r in records}) <= 8  # what was in flight
