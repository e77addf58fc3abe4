"""The durable crawl's frontier: bounded memory, and a queue taken up again after a crash.

That it decides and orders like the frontier in memory is in test_frontier_conformance.py.
"""

from __future__ import annotations

import gc

from crawlkit.frontiers.disk import DiskFrontier
from crawlkit.frontiers.journal import CrawlState
from crawlkit.frontiers.memory import Fingerprints, MemoryFrontier
from crawlkit.settings import CrawlSettings

ORIGINS = ("http://a.test", "http://b.test", "http://c.test")


def _settings() -> CrawlSettings:
    return CrawlSettings(follow=True, same_host=False)


def test_memory_is_bounded_whatever_is_queued(small_disk_buffers, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    for i in range(2000):
        assert frontier.offer_links([f"{ORIGINS[i % 3]}/p/{i}"], 1) == [None]
        assert frontier.buffered <= 7
        assert all(frontier.buffered_for(origin) <= 3 for origin in ORIGINS)
    state.commit(None, {}, [])
    assert len(frontier) == 2000 and not state.new
    # long out of the buffers, still known: refused as a duplicate
    assert frontier.offer_links([f"{ORIGINS[0]}/p/0"], 1) == ["duplicate"]
    popped = [frontier.pop(0.0, lambda o, n: True, 0) for _ in range(2000)]
    assert sorted(r.url for r in popped) == sorted(f"{ORIGINS[i % 3]}/p/{i}" for i in range(2000))
    assert frontier.pop(0.0, lambda o, n: True, 0) is None and len(frontier) == 0


def test_a_resumed_frontier_takes_up_pending_pages_in_order(small_disk_buffers, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    urls = [f"{ORIGINS[0]}/p/{i}" for i in range(10)] + [f"{ORIGINS[1]}/q/{i}" for i in range(4)]
    assert frontier.offer_links(urls, 2) == [None] * len(urls)
    first = [frontier.pop(0.0, lambda o, n: True, 0) for _ in range(6)]
    state.done.extend(first[:4])  # two more are in flight when it "crashes"
    state.commit(None, {}, [])
    state.close()

    state = CrawlState(tmp_path / "s.db", "fp")
    resumed = DiskFrontier(_settings(), state)
    resumed.resume([])
    assert len(resumed) == len(urls) - 4
    assert sorted(resumed.take_new_origins()) == [ORIGINS[0], ORIGINS[1]]
    rest = []
    while (request := resumed.pop(0.0, lambda o, n: True, 4)) is not None:
        rest.append(request)
    done = {r.url for r in first[:4]}
    assert sorted(r.url for r in rest) == sorted(u for u in urls if u not in done)
    a_order = [r.url for r in rest if r.url.startswith(ORIGINS[0])]
    assert a_order == [u for u in urls if u.startswith(ORIGINS[0]) and u not in done]
    assert all(r.depth == 2 for r in rest)
    assert resumed.offer_links([urls[0]], 1) == ["duplicate"]  # done before the crash: still seen


def test_a_page_never_asks_the_journal_whether_its_links_were_seen(
        small_disk_buffers, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    old = [f"{ORIGINS[0]}/p/{i}" for i in range(40)]
    assert frontier.offer_links(old, 1) == [None] * len(old)
    state.commit(None, {}, [])  # in the journal, and out of the buffers
    queries: list[str] = []
    state._db.set_trace_callback(queries.append)
    page = [old[3], f"{ORIGINS[1]}/new", old[17], old[3], f"{ORIGINS[1]}/new", old[39],
            f"{ORIGINS[2]}/other", old[0]]
    reasons = frontier.offer_links(page, 2)
    assert frontier.offer_links([f"{ORIGINS[1]}/new", f"{ORIGINS[2]}/third"], 2) \
        == ["duplicate", None]
    state._db.set_trace_callback(None)
    assert reasons == ["duplicate", None, "duplicate", "duplicate", "duplicate", "duplicate",
                       None, "duplicate"]
    assert queries == []


def test_a_resumed_frontier_knows_every_key_of_the_journal_without_a_query(tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    urls = [f"{ORIGINS[i % 3]}/p/{i}" for i in range(300)]
    assert frontier.offer_links(urls, 1) == [None] * len(urls)
    state.commit(None, {}, [])
    state.close()

    state = CrawlState(tmp_path / "s.db", "fp")
    resumed = DiskFrontier(_settings(), state)
    resumed.resume([])
    assert resumed.remembered == len(urls)
    queries: list[str] = []
    state._db.set_trace_callback(queries.append)
    assert resumed.offer_links([*urls[::7], f"{ORIGINS[0]}/fresh"], 2) \
        == ["duplicate"] * len(urls[::7]) + [None]
    state._db.set_trace_callback(None)
    assert queries == []
    assert resumed.remembered == len(urls) + 1


def test_the_garbage_collector_walks_no_more_of_the_seen_set_as_it_grows(tmp_path):
    # a full collection walks every element of a tracked container: a seen set of a
    # million URLs in a set made each one cost in proportion to the crawl so far
    state = CrawlState(tmp_path / "s.db", "fp")
    for frontier in (DiskFrontier(_settings(), state), MemoryFrontier(_settings())):
        walked = []
        for batch in range(3):
            urls = [f"{ORIGINS[0]}/p/{batch}/{i}" for i in range(1000)]
            assert frontier.offer_links(urls, 1) == [None] * len(urls)
            walked.append(_walked(frontier._seen))
        assert walked[0] == walked[1] == walked[2]


def test_fingerprints_are_a_seen_set():
    seen = Fingerprints([f"http://a.test/{i}" for i in range(5000)] + ["http://a.test/1"])
    assert len(seen) == 5000
    assert all(f"http://a.test/{i}" in seen for i in range(5000))
    assert not any(f"http://a.test/x{i}" in seen for i in range(5000))
    seen.add("http://a.test/x1")
    seen.add("http://a.test/x1")
    assert "http://a.test/x1" in seen and len(seen) == 5001


def _walked(obj: object) -> int:
    """How many references a full collection follows from ``obj`` and the containers
    it holds (not its class)."""
    if not gc.is_tracked(obj):
        return 0
    referents = [r for r in gc.get_referents(obj) if not isinstance(r, type)]
    return len(referents) + sum(_walked(r) for r in referents)
