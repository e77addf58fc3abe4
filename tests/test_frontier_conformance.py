"""One conformance test over the three frontier backends: memory, disk, Redis.

The same random run of offers (seeds, links, redirects), pops, retries and
completions goes through each backend the way the engine makes them (links are
plain URLs, or Requests with meta, a priority or a POST body): a page's
links and redirect are offered, then the page is completed; a retry comes back
with ``attempt + 1``; the caller counts the pages started. Every backend must
give the same decision (queued, or the reason it was refused) for every offer,
take out the same requests over the run, and leave the same number behind.

What each backend promises about order:

* memory: one queue per origin (higher priority first, then arrival), origins
  served round-robin, a due retry first on its origin; the whole order follows
  from the calls made;
* disk: exactly the order of memory, pop for pop, whatever is spilled to the journal;
* Redis: each origin's first attempts of one priority in the order they were
  queued (one shared FIFO per origin and priority); retries (held by the worker
  that leased them) and the order across origins may differ from memory's.

Every backend hands back each request whole: callback, meta, body and priority.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from crawlkit.frontiers.base import Frontier, Link, redirect_hop
from crawlkit.frontiers.disk import DiskFrontier
from crawlkit.frontiers.journal import CrawlState
from crawlkit.frontiers.memory import MemoryFrontier
from crawlkit.models import Request
from crawlkit.settings import CrawlSettings
from crawlkit.urls import origin_of

ORIGINS = ("http://a.test", "http://b.test", "http://c.test")
SEEDS = (ORIGINS[0] + "/", ORIGINS[1] + "/", ORIGINS[0] + "/")


def _settings(max_pages: int | None) -> CrawlSettings:
    # every rule can refuse: c.test is offsite until a seed redirects there
    return CrawlSettings(follow=True, same_host=True, max_depth=3, max_pages=max_pages,
                         allow=(r"\.test/(p|r|t)/",), deny=(r"/p/13\d$",),
                         concurrency=64, per_host=1000)


def _always(origin: str, now: float) -> bool:
    return True


def _url(rng: random.Random) -> str:
    """A URL: mostly pages, some not allowed, denied or shaped like a trap."""
    roll = rng.random()
    kind = "x" if roll < 0.05 else "t/t/t/t" if roll < 0.1 else "p"
    return f"{rng.choice(ORIGINS)}/{kind}/{rng.randrange(300)}"


def _link(rng: random.Random) -> Link:
    """A link: mostly a plain URL, some Requests with a priority, meta or a POST body
    (a POST to a page's URL is another request than the GET)."""
    url, roll, n = _url(rng), rng.random(), rng.randrange(3)
    if roll < 0.7:
        return url
    if roll < 0.85:
        return Request(url, "parse_item", priority=rng.choice((-1, 1, 2)), meta={"n": [n]})
    return Request(url, data={"q": str(n)}, errback="failed")


def _key(request: Request) -> str:
    return request.fingerprint


def _form(request: Request) -> dict[str, object]:
    """What a backend must hand back of a request (bookkeeping aside)."""
    raw = request.to_dict()
    raw.pop("attempt", None)
    return raw


@dataclass
class Run:
    """What one backend did with the run's calls."""

    decisions: list[tuple[str, object]] = field(default_factory=list)
    queued: list[Request] = field(default_factory=list)
    pops: list[tuple[str, int] | None] = field(default_factory=list)
    forms: dict[str, dict[str, object]] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)
    left: int = 0

    def first_attempts(self) -> dict[tuple[str, int], list[str]]:
        """Each origin's pages of each priority in the order they were first taken out."""
        return _by_level(self.forms, (pop[0] for pop in self.pops
                                      if pop is not None and pop[1] == 0))

    def queued_by_origin(self) -> dict[tuple[str, int], list[str]]:
        """Each origin's pages of each priority in the order they were queued."""
        forms = {_key(r): _form(r) for r in self.queued}
        return _by_level(forms, (_key(r) for r in self.queued))


def _by_level(forms: dict[str, dict[str, object]],
              keys: Iterable[str]) -> dict[tuple[str, int], list[str]]:
    by_level: dict[tuple[str, int], list[str]] = defaultdict(list)
    for key in keys:
        form = forms[key]
        by_level[origin_of(str(form["url"])), int(form.get("priority", 0))].append(key)  # type: ignore[call-overload]
    return dict(by_level)


def _drive(frontier: Frontier, state: CrawlState | None, seed: int,
           ready: Callable[[str, float], bool] = _always, steps: int = 1500) -> Run:
    """A random run against ``frontier``; the script depends only on ``seed``."""
    rng = random.Random(seed)
    run = Run()
    started = 0
    in_flight: list[Request] = []

    def pop(now: float, ready: Callable[[str, float], bool] = ready) -> Request | None:
        nonlocal started
        request = frontier.pop(now, ready, started)
        run.pops.append(None if request is None else (_key(request), request.attempt))
        if request is not None:
            run.forms[_key(request)] = _form(request)
            started += request.attempt == 0
            in_flight.append(request)
        return request

    def complete(request: Request, links: list[Link], depth: int,
                 redirect: tuple[Request, str, int] | None) -> None:
        if redirect is not None:
            hop = redirect_hop(*redirect)
            reason = frontier.offer_redirect(redirect[0], hop)
            run.decisions.append(("redirect", reason))
            run.queued.extend([hop] if reason is None else [])
        reasons = frontier.offer_links(links, depth)
        run.decisions.append(("links", reasons))
        run.queued.extend(Request(link, depth=depth) if isinstance(link, str)
                          else replace(link, depth=depth)
                          for link, reason in zip(links, reasons, strict=True) if not reason)
        frontier.complete(request, True, 0, None)
        if state is not None:
            state.done.append(request)

    for url in SEEDS:
        reason = frontier.offer_seed(url)
        run.decisions.append(("seed", reason))
        run.queued.extend([Request(url)] if reason is None else [])
    for step in range(steps):
        # every draw is made whatever the backend did, so the runs stay in step
        roll, pick, wait, batch = rng.random(), rng.random(), rng.randrange(1, 6), rng.random()
        links = [_link(rng) for _ in range(rng.randrange(2, 10))]
        depth = rng.choice((1, 2, 3, 3, 4))  # mostly within max_depth, so the crawl lives
        redirect = None
        if rng.random() < 0.1:
            # a redirect is not a link: neither allow (no /r/ target is) nor depth cuts it
            source = Request(f"{rng.choice(ORIGINS)}/r/{step}", depth=rng.choice((0, 1, 2, 4)),
                             data={"x": "1"} if rng.random() < 0.5 else None)
            redirect = (source, _url(rng).replace("/p/", "/s/"), rng.choice((302, 307)))
        if roll < 0.45:
            pop(float(step))
        elif in_flight and roll < 0.52:
            request = in_flight.pop(int(pick * len(in_flight)))
            frontier.retry_later(replace(request, attempt=request.attempt + 1), step + wait)
        elif in_flight:
            complete(in_flight.pop(int(pick * len(in_flight))), links, depth, redirect)
            if state is not None and batch < 0.3:
                state.commit(None, {}, [])
        run.lengths.append(len(frontier))
    for _ in range(10 * steps):  # bounded: a backend handing out a page again fails, not hangs
        while in_flight:
            complete(in_flight.pop(0), [], 1, None)
        if pop(1e9, _always) is None:
            break
    run.left = frontier.left_behind()
    return run


@pytest.fixture()
def redis_frontier(redis_url: str) -> Iterator[Callable[[CrawlSettings], Frontier]]:
    """Makes Redis frontiers, each on a job of its own, deleted afterwards."""
    redis = pytest.importorskip("redis")
    from crawlkit.frontiers.redis import RedisFrontier, delete_job

    client = redis.Redis.from_url(redis_url)
    jobs: list[str] = []

    def make(settings: CrawlSettings) -> Frontier:
        jobs.append(uuid.uuid4().hex)
        return RedisFrontier(settings, client, jobs[-1], "fp")

    yield make
    for job in jobs:
        delete_job(client, job)
    client.close()


@pytest.mark.parametrize(("seed", "max_pages"), [(1, None), (2, None), (3, 150)])
def test_every_backend_decides_and_takes_out_the_same(
        small_disk_buffers, tmp_path, redis_frontier, seed, max_pages):
    settings = _settings(max_pages)
    memory = _drive(MemoryFrontier(settings), None, seed)
    state = CrawlState(tmp_path / "s.db", "fp")
    disk = _drive(DiskFrontier(settings, state), state, seed)
    shared = _drive(redis_frontier(settings), None, seed)

    reasons = {r for _, d in memory.decisions for r in (d if isinstance(d, list) else [d])}
    assert reasons == {None, "duplicate", "too deep", "offsite", "not allowed", "denied", "trap"}
    hops = {d for kind, d in memory.decisions if kind == "redirect"}
    assert None in hops and hops <= {None, "duplicate", "offsite"}  # never "not allowed"...
    assert disk.decisions == memory.decisions
    assert shared.decisions == memory.decisions
    # every request comes back whole, from disk and from Redis too
    # (which pages max_pages lets out of Redis may differ: the order across origins does)
    assert disk.forms == memory.forms
    common = shared.forms.keys() & memory.forms.keys()
    assert len(common) > 100 and all(shared.forms[k] == memory.forms[k] for k in common)
    assert any("body" in form for form in memory.forms.values())
    assert any(form.get("meta") and form.get("priority") for form in memory.forms.values())
    # a 307 keeps its POST, a 302 becomes a GET
    hopped = [(r.method, r.body) for r in memory.queued if "/s/" in r.url]
    assert set(hopped) == {("GET", b""), ("POST", b"x=1")}

    # disk: memory's order, pop for pop
    assert disk.pops == memory.pops and disk.lengths == memory.lengths
    # Redis: a request at the same pops (which one is retried may differ)
    assert [p is None for p in shared.pops] == [p is None for p in memory.pops]
    # every backend: each origin's pages of a priority first taken out in the order
    # they were queued, all of them, or max_pages of them
    queued = memory.queued_by_origin()
    for run in (memory, disk, shared):
        firsts = run.first_attempts()
        assert all(keys == queued[level][:len(keys)] for level, keys in firsts.items())
        pages = sum(map(len, firsts.values()))
        if max_pages is None:
            assert firsts == queued and run.left == 0 and pages > 300
        else:
            assert pages == max_pages and run.left == len(memory.queued) - max_pages > 0
    assert any(p is not None and p[1] > 0 for p in memory.pops)  # retries came out
    assert any(r.url.startswith(ORIGINS[2]) for r in memory.queued)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_disk_keeps_the_order_of_memory_when_origins_are_not_ready(
        small_disk_buffers, tmp_path, seed):
    """With origins ready at random (as under per-host limits and delays), the
    frontier on disk still takes out exactly what the one in memory does."""
    settings = _settings(None)
    rng = random.Random(seed)
    readiness = [rng.random() < 0.7 for _ in range(100_000)]

    def ready_at_random() -> Callable[[str, float], bool]:
        draws = iter(readiness)
        return lambda origin, now: next(draws)

    memory = _drive(MemoryFrontier(settings), None, seed, ready_at_random())
    state = CrawlState(tmp_path / "s.db", "fp")
    disk = _drive(DiskFrontier(settings, state), state, seed, ready_at_random())
    assert disk.decisions == memory.decisions
    assert disk.pops == memory.pops and disk.lengths == memory.lengths
    assert sum(1 for p in memory.pops if p is not None) > 300
