"""The durable crawl's frontier: bounded memory, and a queue taken up again after a crash.

That it decides and orders like the frontier in memory is in test_frontier_conformance.py.
"""

from __future__ import annotations

from crawlkit.frontiers.disk import DiskFrontier
from crawlkit.frontiers.journal import CrawlState
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
        assert frontier.remembered <= 5
    state.commit(None, {}, [])
    assert len(frontier) == 2000 and not state.new
    # long forgotten by memory, still known: refused as a duplicate
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


def test_a_page_asks_the_journal_once_however_old_the_urls_it_repeats(
        small_disk_buffers, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    old = [f"{ORIGINS[0]}/p/{i}" for i in range(40)]
    assert frontier.offer_links(old, 1) == [None] * len(old)
    state.commit(None, {}, [])  # long forgotten by memory (5 remembered): in the journal only
    queries: list[str] = []
    state._db.set_trace_callback(queries.append)
    page = [old[3], f"{ORIGINS[1]}/new", old[17], old[3], f"{ORIGINS[1]}/new", old[39],
            f"{ORIGINS[2]}/other", old[0]]
    reasons = frontier.offer_links(page, 2)
    state._db.set_trace_callback(None)
    assert reasons == ["duplicate", None, "duplicate", "duplicate", "duplicate", "duplicate",
                       None, "duplicate"]
    assert [q for q in queries if q.lstrip().upper().startswith("SELECT")] \
        and len([q for q in queries if "FROM requests" in q]) == 1
    # what was found absent is asked again on the next page (it may be known by then)
    assert frontier.offer_links([f"{ORIGINS[1]}/new", f"{ORIGINS[2]}/third"], 2) \
        == ["duplicate", None]


def test_a_link_accepted_and_forgotten_on_the_same_page_is_still_a_duplicate(
        small_disk_buffers, tmp_path):
    state = CrawlState(tmp_path / "s.db", "fp")
    frontier = DiskFrontier(_settings(), state)
    fresh = [f"{ORIGINS[0]}/n/{i}" for i in range(8)]  # more than the 5 remembered
    assert frontier.offer_links([*fresh, fresh[0], fresh[7]], 1) \
        == [None] * 8 + ["duplicate", "duplicate"]
    assert len(frontier) == 8
