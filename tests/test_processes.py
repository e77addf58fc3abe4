"""The ``processes`` strategy: worker processes that fetch and parse, fed by a Queue,
answering on a Pipe, counting in shared Values, stopped by an Event, replaced when
they die."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import crawlkit
from crawlkit import CrawlSettings, DefaultSpider, Page
from crawlkit.engine import Engine
from crawlkit.fetchers.processes import ProcessesFetcher
from crawlkit.lab.demo import DemoSite, SiteSpec
from crawlkit.process import Processor
from crawlkit.sinks import ListSink
from crawlkit.urls import canonicalize

pytestmark = pytest.mark.slow

HANG = 120  # seconds after which a crawl that has not returned is taken as hung


class HoldingSpider(DefaultSpider):
    """Parses like the default spider, except that the first time it sees
    ``/page/5`` it writes its process id to ``marker`` and waits there to be killed."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def parse(self, page: Page) -> Any:
        if page.url.endswith("/page/5") and not os.path.exists(self.marker):
            Path(self.marker + ".tmp").write_text(str(os.getpid()))
            os.replace(self.marker + ".tmp", self.marker)
            time.sleep(HANG)
        return super().parse(page)


def _key(record: dict) -> tuple:
    return (canonicalize(record["url"]), record["title"], record["status"], record["error"])


def _crawl_in_thread(engine: Engine, seed: str) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["stats"] = engine.run([seed])
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


@pytest.fixture(scope="module")
def site() -> Any:
    with DemoSite(SiteSpec(pages=40, links=4)) as site:
        yield site


@pytest.fixture(scope="module")
def sync_records(site) -> list[dict]:
    return list(crawlkit.crawl(site.url + "/page/1", mode="sync", follow=True))


def test_same_records_as_sync_and_live_counters(site, sync_records):
    settings = CrawlSettings(mode="processes", follow=True, concurrency=6)
    fetcher = ProcessesFetcher(processes=2)
    sink = ListSink()
    seen: list[tuple[int, int]] = []  # (outcomes committed, pages the workers had fetched)

    def observe(outcome: crawlkit.Outcome) -> None:
        seen.append((len(seen) + 1, fetcher.counters().fetched))

    stats = Engine(settings, DefaultSpider(), sink, fetcher=fetcher, observer=observe).run(
        [site.url + "/page/1"])
    assert sorted(map(_key, sink.items)) == sorted(map(_key, sync_records))
    assert len(fetcher.worker_pids()) == 0  # closed
    # a page is counted in shared memory before its outcome is sent, so the live
    # count is never behind what the engine has committed
    assert seen and all(fetched >= committed for committed, fetched in seen)
    counters = fetcher.counters()
    assert counters.fetched == stats.pages + stats.robots_fetches
    assert counters.bytes == stats.bytes > 0


def test_the_stop_event_ends_every_worker(site):
    settings = CrawlSettings(mode="processes", concurrency=4)
    fetcher = ProcessesFetcher(processes=2)
    fetcher.start(settings, Processor(DefaultSpider(), settings))
    pids = fetcher.worker_pids()
    assert len(pids) == 2 and all(pid is not None for pid in pids)
    fetcher.submit(crawlkit.Request(site.url + "/page/3"))
    [outcome] = fetcher.completed(timeout=HANG)
    assert outcome.status == 200 and outcome.timing.transfer >= 0
    fetcher.close()
    assert fetcher.exit_codes == [0, 0]  # each returned from its Event's wait: none killed
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # ended and reaped


@pytest.mark.parametrize("retries", [0, 1])
def test_a_killed_worker_leaves_a_record_and_is_replaced(retries, site, sync_records,
                                                         tmp_path):
    marker = tmp_path / "holding"
    # one thread per worker: the worker killed holds exactly the page it waits in
    settings = CrawlSettings(mode="processes", follow=True, concurrency=2, retries=retries)
    fetcher = ProcessesFetcher(processes=2)
    sink = ListSink()
    engine = Engine(settings, HoldingSpider(str(marker)), sink, fetcher=fetcher)
    thread, box = _crawl_in_thread(engine, site.url + "/page/1")
    deadline = time.monotonic() + HANG
    while not marker.exists():
        assert thread.is_alive() and time.monotonic() < deadline, box
        time.sleep(0.02)
    victim = int(marker.read_text())
    assert fetcher.holding()[victim] == 1
    os.kill(victim, signal.SIGKILL)
    thread.join(HANG)
    assert not thread.is_alive(), "the crawl hung"
    assert "error" not in box, box
    stats = box["stats"]
    assert fetcher.restarts == 1
    assert -signal.SIGKILL in fetcher.exit_codes
    records = {canonicalize(r["url"]): r for r in sink.items}
    assert len(records) == len(sink.items), "a page was recorded twice"
    page5 = canonicalize(site.url + "/page/5")
    if retries:  # retried in another worker: nothing shows
        assert sorted(map(_key, sink.items)) == sorted(map(_key, sync_records))
        assert stats.retries == 1 and not stats.errors.get("worker process died")
    else:  # its record says why, and the crawl went on without its links
        assert records[page5]["error"] == "worker process died"
        assert stats.errors["worker process died"] == 1
        expected = {canonicalize(r["url"]) for r in sync_records}
        assert set(records) <= expected and len(records) > 10


def test_concurrency_maps_to_processes_times_threads(site):
    settings = CrawlSettings(mode="processes", concurrency=5)
    fetcher = ProcessesFetcher(processes=8)
    fetcher.start(settings, Processor(DefaultSpider(), settings))
    try:
        assert len(fetcher.worker_pids()) == 5  # never more processes than concurrency
        for n in range(5):
            fetcher.submit(crawlkit.Request(f"{site.url}/page/{n}"))
        assert sorted(fetcher.holding().values()) == [1, 1, 1, 1, 1]
        outcomes: list[crawlkit.Outcome] = []
        while len(outcomes) < 5:
            outcomes += fetcher.completed(timeout=HANG)
        assert sorted(o.request.url for o in outcomes) == sorted(
            f"{site.url}/page/{n}" for n in range(5))
    finally:
        fetcher.close()


def test_an_unpicklable_spider_is_a_usage_error():
    local = lambda page: {"x": 1}  # noqa: E731 - a lambda cannot be pickled
    with pytest.raises(crawlkit.UsageError, match="picklable"):
        crawlkit.crawl("http://127.0.0.1:9/", mode="processes", spider=local)

