"""The durable crawl's frontier: same order and decisions as the one in memory,
with bounded memory, and a queue taken up again after a crash."""

from __future__ import annotations

import random

import pytest

from crawlkit.frontiers import disk as disk_frontier
from crawlkit.frontiers.disk import DiskFrontier
from crawlkit.frontiers.journal import CrawlState
from crawlkit.frontiers.memory import Frontier
from crawlkit.settings import CrawlSettings

ORIGINS = ("http://a.test", "http://b.test", "http://c.test")


@pytest.fixture()
def small(monkeypatch):
    """Tiny buffers, so that a few hundred URLs go through disk many times over."""
    monkeypatch.setattr(disk_frontier, "BUFFER", 3)
    monkeypatch.setattr(disk_frontier, "BUFFERED", 7)
    monkeypatch.setattr(disk_frontier, "RECENT", 5)


def _settings() -> CrawlSettings:
    return CrawlSettings(follow=True, same_host=False)


def _readiness(seed: int):
    rng = random.Random(seed)
    return lambda origin, now: rng.random() < 0.7


def _drive(frontier: Frontier, state: CrawlState | None, seed: int) -> list[tuple]:
    """A random run of offers, pops, retries and batch commits; returns what happened."""
    rng = random.Random(seed)
    ready = _readiness(seed)
    log: list[tuple] = [("seed", frontier.add_seed(ORIGINS[0] + "/"))]
    in_flight = []
    for step in range(3000):
        roll = rng.random()
        if roll < 0.55:
            url = f"{rng.choice(ORIGINS)}/p/{rng.randrange(400)}"
            log.append(("add", url, frontier.add_link(url, 1)))
        elif roll < 0.9:
            request = frontier.pop(float(step), ready)
            log.append(("pop", request.url if request else None))
            if request is not None:
                in_flight.append(request)
        elif roll < 0.95 and in_flight:
            request = in_flight.pop(rng.randrange(len(in_flight)))
            frontier.retry_later(request, float(step) + 3)
        elif in_flight:
            done = in_flight.pop(0)
            write_batch = rng.random() < 0.3  # drawn in both runs, to keep them in step
            if state is not None:
                state.done.append(done.url)
                if write_batch:
                    state.commit(None, {}, [])
        log.append(("len", len(frontier)))
    while (request := frontier.pop(1e9, lambda origin, now: True)) is not None:
        log.append(("pop", request.url))
    return log


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_decisions_and_order_as_the_frontier_in_memory(small, tmp_path, seed):
    expected = _drive(Frontier(_settings()), None, seed)
    state = CrawlState(tmp_path / "s.db", "fp")
    got = _drive(DiskFrontier(_settings(), state), state, seed)
    assert got == expected
    assert sum(1 for entry in expected if entry[0] == "pop" and entry[1]) > 300


def test_memory_is_bounded_whatever_is_queued(small, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    for i in range(2000):
        assert frontier.add_link(f"{ORIGINS[i % 3]}/p/{i}", 1)
        assert frontier._buffered <= 7
        assert all(len(q) <= 3 for q in frontier._queues.values())
        assert len(frontier._seen.recent) <= 5
    state.commit(None, {}, [])
    assert len(frontier) == 2000 and not state.new
    # long forgotten by memory, still known: refused as a duplicate
    assert frontier.add_link(f"{ORIGINS[0]}/p/0", 1) is False
    popped = [frontier.pop(0.0, lambda o, n: True) for _ in range(2000)]
    assert sorted(r.url for r in popped) == sorted(f"{ORIGINS[i % 3]}/p/{i}" for i in range(2000))
    assert frontier.pop(0.0, lambda o, n: True) is None and len(frontier) == 0


def test_a_resumed_frontier_takes_up_pending_pages_in_order(small, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    urls = [f"{ORIGINS[0]}/p/{i}" for i in range(10)] + [f"{ORIGINS[1]}/q/{i}" for i in range(4)]
    for url in urls:
        frontier.add_link(url, 2)
    first = [frontier.pop(0.0, lambda o, n: True) for _ in range(6)]
    state.done.extend(r.url for r in first[:4])  # two more are in flight when it "crashes"
    state.commit(None, {}, [])
    state.close()

    state = CrawlState(tmp_path / "s.db", "fp")
    resumed = DiskFrontier(_settings(), state)
    resumed.resume([])
    assert len(resumed) == len(urls) - 4
    assert sorted(resumed.take_new_origins()) == [ORIGINS[0], ORIGINS[1]]
    rest = []
    while (request := resumed.pop(0.0, lambda o, n: True)) is not None:
        rest.append(request)
    done = {r.url for r in first[:4]}
    assert sorted(r.url for r in rest) == sorted(u for u in urls if u not in done)
    a_order = [r.url for r in rest if r.url.startswith(ORIGINS[0])]
    assert a_order == [u for u in urls if u.startswith(ORIGINS[0]) and u not in done]
    assert all(r.depth == 2 for r in rest)
    assert resumed.add_link(urls[0], 1) is False  # done before the crash: still seen
