"""The ``processes`` strategy: worker processes that fetch and parse, fed by a Queue,
answering on a Pipe, counting in shared Values, stopped by closing a pipe, replaced
when they die."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
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
from crawlkit.progress import Snapshot
from crawlkit.sinks import ListSink
from crawlkit.urls import canonicalize

pytestmark = pytest.mark.slow

HANG = 120  # seconds after which a crawl that has not returned is taken as hung
SRC = Path(__file__).resolve().parent.parent / "src"


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


def test_closing_the_stop_pipe_ends_every_worker(site):
    settings = CrawlSettings(mode="processes", concurrency=4)
    fetcher = ProcessesFetcher(processes=2)
    fetcher.start(settings, Processor(DefaultSpider(), settings))
    pids = fetcher.worker_pids()
    assert len(pids) == 2 and all(pid is not None for pid in pids)
    fetcher.submit(crawlkit.Request(site.url + "/page/3"))
    [outcome] = fetcher.completed(timeout=HANG)
    assert outcome.status == 200 and outcome.timing.transfer >= 0
    fetcher.close()
    assert fetcher.exit_codes == [0, 0]  # each saw its stop pipe end and returned: none killed
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
    assert fetcher.live().endswith(", 1 replaced")
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



def test_the_progress_line_shows_the_workers_live_counters(site):
    settings = CrawlSettings(mode="processes", follow=True, concurrency=4)
    fetcher = ProcessesFetcher(processes=2)
    seen: list[Snapshot] = []
    stats = Engine(settings, DefaultSpider(), ListSink(), fetcher=fetcher,
                   progress=seen.append).run([site.url + "/page/1"])
    assert seen  # the first snapshot is never held back
    fetched = []
    for snapshot in seen:
        assert snapshot.line().endswith("; " + snapshot.live)
        match = re.fullmatch(r"workers fetched (\d+) \(\d+\.\d MB\)", snapshot.live)
        assert match, snapshot.live
        fetched.append(int(match[1]))
        # counted in shared memory before the outcome is sent: never behind the engine
        assert fetched[-1] >= snapshot.done
    assert fetched == sorted(fetched)
    assert fetched[-1] <= fetcher.counters().fetched == stats.pages + stats.robots_fetches
    assert Snapshot(1, 0, 0, 0, 1.0).line().endswith("elapsed")  # other strategies: nothing


def _wait_until_dead(pid: int) -> None:
    """Until ``pid`` is a zombie: dead, its pipes closed, not yet reaped by its parent."""
    deadline = time.monotonic() + HANG
    status = Path(f"/proc/{pid}/status")
    while "\nState:\tZ" not in status.read_text():
        assert time.monotonic() < deadline, f"{pid} did not die"
        time.sleep(0.01)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_requests_queued_to_a_dead_worker_become_records_without_noise(site, capfd):
    settings = CrawlSettings(mode="processes", concurrency=4)
    urls = [f"{site.url}/page/{n}" for n in range(4)]
    for _ in range(3):
        fetcher = ProcessesFetcher(processes=1)
        fetcher.start(settings, Processor(DefaultSpider(), settings))
        try:
            [pid] = fetcher.worker_pids()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            _wait_until_dead(pid)
            for url in urls:  # the parent has not seen the death yet: all go to the dead one
                fetcher.submit(crawlkit.Request(url))
            assert fetcher.holding() == {pid: 4}
            outcomes: list[crawlkit.Outcome] = []
            while len(outcomes) < len(urls):
                got = fetcher.completed(timeout=HANG)
                assert got, "a request queued to the dead worker was lost"
                outcomes += got
            assert sorted(o.request.url for o in outcomes) == sorted(urls)
            assert {o.error for o in outcomes} == {"worker process died"}
            assert fetcher.restarts == 1
        finally:
            fetcher.close()  # its replacement is still starting
        assert fetcher.exit_codes[0] == -signal.SIGKILL
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


_CLOSE_WHILE_KILLING = textwrap.dedent("""
    import os, random, signal, sys, threading
    from crawlkit import CrawlSettings, DefaultSpider
    from crawlkit.fetchers.processes import ProcessesFetcher
    from crawlkit.process import Processor

    def kill(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # close() was quicker and reaped it
            pass

    settings = CrawlSettings(mode="processes", concurrency=2)
    rounds = int(sys.argv[1])
    for n in range(rounds):
        fetcher = ProcessesFetcher(processes=2)
        fetcher.start(settings, Processor(DefaultSpider(), settings))
        pids = fetcher.worker_pids()
        if n % 3 == 2:  # while close() runs
            killer = threading.Timer(random.uniform(0, 0.004), kill, (pids[n % 2],))
            killer.start()
            fetcher.close()
            killer.join()
        else:  # just before: the worker is dying as close() begins
            kill(pids[n % 2])
            fetcher.close()
        assert set(fetcher.exit_codes) <= {0, -signal.SIGKILL}, fetcher.exit_codes
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"worker {pid} still there after close()")
    print("closed", rounds)
""")


def test_close_returns_when_workers_die_around_it():
    # a worker killed while close() tells it to stop must not hang close(): run in a
    # child with a generous deadline, so a hang fails the test instead of the suite
    rounds = 9
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    try:
        proc = subprocess.run([sys.executable, "-c", _CLOSE_WHILE_KILLING, str(rounds)],
                              env=env, capture_output=True, text=True, timeout=HANG / 2)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"close() hung: {exc.stdout!r} {exc.stderr!r}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["closed", str(rounds)]
    assert "Traceback" not in proc.stderr, proc.stderr
