"""``--mode auto``: the decision on synthetic figures, a switch in the middle of a
crawl that loses and repeats nothing, the same records as the fixed strategies."""

from __future__ import annotations

import os
import re
import time
from collections import Counter, deque
from typing import ClassVar

import pytest

import crawlkit
from conftest import SITE_SPEC
from crawlkit import CrawlSettings, Page, Spider
from crawlkit.engine import Engine
from crawlkit.fetchers import MODES, get_fetcher, known_modes, modes_where, strategy_class
from crawlkit.fetchers.auto import AutoFetcher, Decision, Sample, choose
from crawlkit.lab.demo import reachable_urls
from crawlkit.models import Outcome, Request, Timing
from crawlkit.process import Processor
from crawlkit.sinks import ListSink
from crawlkit.urls import canonicalize
from test_cli import run_cli


def _sample(**figures: float) -> Sample:
    base = {"pages": 8, "parse": 0.0, "wait": 0.001, "cpu": 0.0005, "nbytes": 2048,
            "wall": 0.1, "concurrency": 16, "cores": 2}
    base.update(figures)
    return Sample(**base)  # type: ignore[arg-type]


# -- the decision, on figures made up here -------------------------------------------------


def test_a_parse_bound_crawl_moves_to_worker_processes():
    # bench's cpu workload: 120 KB pages, 22 ms of BeautifulSoup each, an instant server
    decision = choose(_sample(parse=0.022, wait=0.002, cpu=0.0225, nbytes=120_000))
    assert decision.mode == "multiprocess"
    assert decision.gain is not None and decision.gain >= 1.5
    line = decision.describe()
    assert line.startswith("auto: parse 22.0 ms/page vs wait 2.0 ms/page over 8 pages")
    assert line.endswith("-> multiprocess (multiprocess predicted 1.9x the pages/s of async)")


def test_parsing_behind_slow_responses_is_still_parse_bound():
    # bench's mixed workload: 50 ms per response, 18 ms of parsing, 32 in flight
    decision = choose(_sample(parse=0.018, wait=0.05, cpu=0.019, nbytes=100_000,
                              concurrency=32))
    assert decision.mode == "multiprocess"


def test_an_io_bound_crawl_stays_on_async():
    # bench's io workload: 100 ms per response, next to no parsing
    decision = choose(_sample(parse=0.0002, wait=0.1, cpu=0.0006, concurrency=32))
    assert decision.mode == "async"
    assert decision.gain == pytest.approx(1.0)
    assert "the network bounds the crawl" in decision.why


def test_a_crawl_bound_by_the_engine_stays_on_async():
    # bench's overhead workload: the harness alone; processes would only add transfers
    decision = choose(_sample(parse=0.0001, wait=0.001, cpu=0.00045, nbytes=512))
    assert decision.mode == "async"
    assert decision.gain is not None and decision.gain < 1
    assert "this process bounds the crawl" in decision.why


def test_no_second_core_or_no_picklable_spider_keeps_the_crawl_in_process():
    heavy = {"parse": 0.05, "wait": 0.001, "cpu": 0.05}
    one_core = choose(_sample(cores=1, **heavy))
    assert (one_core.mode, one_core.gain) == ("async", None)
    assert "one core" in one_core.why
    local = choose(_sample(**heavy), can_pickle=False)
    assert (local.mode, local.gain) == ("async", None)
    assert "cannot be sent to worker processes" in local.why


def test_the_decision_is_a_pure_function_of_the_figures():
    sample = _sample(parse=0.004, wait=0.01, cpu=0.0045, nbytes=50_000)
    assert choose(sample) == choose(sample)
    # more parsing per page never makes processes look worse
    gains = [choose(_sample(parse=p, cpu=p + 0.0004, nbytes=50_000)).gain
             for p in (0.0001, 0.001, 0.005, 0.02, 0.1)]
    assert gains == sorted(gains)  # type: ignore[type-var]


def test_requests_are_held_back_only_while_parsing_looks_heavy():
    from crawlkit.fetchers.auto import _hold_limit

    assert _hold_limit(_sample(parse=0.0003, wait=0.1)) is None
    assert _hold_limit(_sample(parse=0.022, wait=0.002)) == 3
    assert _hold_limit(_sample(parse=0.018, wait=0.05, concurrency=32)) == 5
    assert _hold_limit(_sample(parse=0.002, wait=0.5, concurrency=32)) == 32


def test_auto_is_a_mode_but_not_one_of_the_strategies():
    assert "auto" in known_modes() and "auto" not in MODES
    cls = strategy_class("auto")
    assert cls is AutoFetcher and cls.name == "auto"
    assert "auto" not in modes_where("spider_in_process")
    assert "auto" not in modes_where("spider_must_pickle")
    assert CrawlSettings(mode="auto", concurrency=7).effective_concurrency == 7
    assert isinstance(get_fetcher("auto"), AutoFetcher)


# -- switching, on in-memory strategies ------------------------------------------------------

PAGES = 200


class _Scripted:
    """An in-memory strategy: page ``/n`` links to ``/2n`` and ``/2n+1`` (below
    ``PAGES``); each :meth:`completed` call answers the oldest request only, so
    requests are still in flight when auto switches."""

    name: ClassVar[str] = "scripted"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "none"

    def __init__(self, label: str, parse: float) -> None:
        self.label = label
        self.parse = parse
        self.closed = False
        self.submitted = 0

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self.pending: deque[Request] = deque()

    def submit(self, request: Request) -> None:
        assert not self.closed
        self.submitted += 1
        self.pending.append(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        assert not self.closed
        if not self.pending:
            return []
        request = self.pending.popleft()
        n = int(request.url.rsplit("/", 1)[1])
        links = tuple(f"http://scripted.test/{k}" for k in (2 * n, 2 * n + 1) if 0 < k < PAGES)
        item = {"url": request.url, "by": self.label}
        return [Outcome(request, request.url, 200, None, items=(item,), follow=links,
                        timing=Timing(ttfb=0.001, parse=self.parse), nbytes=1000)]

    def close(self) -> None:
        self.closed = True


class _ScriptedAuto(AutoFetcher):
    sample_pages = 5
    sample_seconds = 60.0

    def __init__(self, parse: float) -> None:
        self.reports: list[str] = []
        super().__init__(report=self.reports.append)
        self.parse = parse
        self.made: dict[str, _Scripted] = {}

    def _fetcher(self, mode: str) -> _Scripted:  # type: ignore[override]
        fetcher = _Scripted(mode, self.parse)
        self.made[mode] = fetcher
        return fetcher


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawlkit.fetchers.auto.worker_count", lambda: 2)


def _scripted_crawl(fetcher: _ScriptedAuto, concurrency: int = 8) -> ListSink:
    settings = CrawlSettings(mode="auto", follow=True, concurrency=concurrency,
                             per_host=concurrency, obey_robots=False)
    sink = ListSink()
    stats = Engine(settings, crawlkit.DefaultSpider(), sink, fetcher=fetcher).run(
        ["http://scripted.test/1"])
    assert stats.pages == len(sink.items)
    return sink


def test_a_switch_mid_crawl_loses_and_repeats_no_page(two_cores):
    fetcher = _ScriptedAuto(parse=0.05)
    sink = _scripted_crawl(fetcher)
    urls = [item["url"] for item in sink.items]
    assert sorted(urls) == sorted(f"http://scripted.test/{k}" for k in range(1, PAGES))
    by = Counter(item["by"] for item in sink.items)
    first, second = fetcher.made["async"], fetcher.made["multiprocess"]
    # the first strategy answered every request it took, the second took the rest
    assert by["async"] == first.submitted > 5 and by["multiprocess"] == second.submitted > 100
    # once the first pages pointed to processes, the first strategy got few more:
    # 2 + wait/parse requests at a time, the rest waited for the decision
    assert first.submitted <= 5 + 3
    assert first.closed and second.closed
    assert fetcher.decision is not None and fetcher.decision.mode == "multiprocess"
    assert fetcher.decision.sample.pages == 5
    assert len(fetcher.reports) == 1 and "-> multiprocess" in fetcher.reports[0]


def test_an_io_bound_crawl_closes_the_idle_process_strategy(two_cores):
    fetcher = _ScriptedAuto(parse=0.0)
    sink = _scripted_crawl(fetcher)
    assert {item["by"] for item in sink.items} == {"async"}
    assert len(sink.items) == PAGES - 1
    unused = fetcher.made["multiprocess"]
    assert unused.submitted == 0
    for _ in range(500):  # it is closed in the background: the crawl does not wait for it
        if unused.closed:
            break
        time.sleep(0.01)
    assert unused.closed
    assert fetcher.decision is not None and fetcher.decision.mode == "async"


def test_one_core_starts_no_process_strategy(monkeypatch):
    monkeypatch.setattr("crawlkit.fetchers.auto.worker_count", lambda: 1)
    fetcher = _ScriptedAuto(parse=0.05)
    sink = _scripted_crawl(fetcher)
    assert {item["by"] for item in sink.items} == {"async"}
    assert "multiprocess" not in fetcher.made
    assert fetcher.decision is not None and "one core" in fetcher.decision.why


def test_a_crawl_shorter_than_the_sample_says_so(two_cores):
    fetcher = _ScriptedAuto(parse=0.05)
    settings = CrawlSettings(mode="auto", obey_robots=False)
    sink = ListSink()
    Engine(settings, crawlkit.DefaultSpider(), sink, fetcher=fetcher).run(
        ["http://scripted.test/100", "http://scripted.test/101"])
    assert len(sink.items) == 2 and fetcher.decision is None
    assert fetcher.reports == ["auto: the crawl ended after 2 pages, before a decision: "
                               "it ran on async"]


def test_drain_honours_the_timeout(two_cores):
    fetcher = _ScriptedAuto(parse=0.05)
    fetcher.start(CrawlSettings(mode="auto"), Processor(crawlkit.DefaultSpider(), CrawlSettings()))
    try:
        for k in range(1, 9):
            fetcher.submit(Request(f"http://scripted.test/{k}"))
        seen = []
        while fetcher.decision is None:
            seen += fetcher.completed(0)
        assert len(seen) == 5 and fetcher._old is not None
        old = fetcher.made["async"]
        old.pending.clear()  # three requests the old strategy will never answer
        started = time.perf_counter()
        assert fetcher.completed(0.05) == []
        assert time.perf_counter() - started < 5  # it returned, it did not hang
    finally:
        fetcher.close()


# -- real crawls -----------------------------------------------------------------------------


class PidSpider(Spider):
    """Records which process ran the spider for each page."""

    def parse(self, page: Page):
        yield {"url": page.url, "title": page.title, "pid": os.getpid()}
        yield from page.links


class SwitchAtOnce(AutoFetcher):
    """Moves to the process strategy after five pages, whatever they show."""

    sample_pages = 5

    def choose(self, sample: Sample) -> Decision:
        return Decision(self.candidate, sample, None, "told to")


@pytest.mark.slow
def test_auto_gives_the_records_of_sync_and_keeps_the_contract(demo_site, fault_server):
    """The contract suite's checks (tests/test_contract.py), run on auto: it is not
    one of MODES, over which that suite is parametrized."""
    import test_contract as contract

    sync = crawlkit.crawl(demo_site.url + "/", mode="sync", follow=True)
    contract.test_full_crawl_matches_site_graph("auto", demo_site,
                                                {contract._key(r) for r in sync})
    contract.test_failures_are_records("auto", fault_server)
    contract.test_user_spider_runs_in_every_mode("auto", demo_site)
    contract.test_spider_errors_become_records("auto", demo_site)


@pytest.mark.slow
def test_a_real_switch_to_worker_processes_keeps_every_page_once(demo_site):
    settings = CrawlSettings(mode="auto", follow=True, concurrency=8)
    sink = ListSink()
    fetcher = SwitchAtOnce(report=lambda line: None)
    committed: list[Outcome] = []
    stats = Engine(settings, PidSpider(), sink, fetcher=fetcher,
                   observer=committed.append).run([demo_site.url + "/"])
    urls = [canonicalize(outcome.request.url) for outcome in committed]
    assert len(urls) == len(set(urls)) == stats.pages > 500
    assert set(urls) == reachable_urls(SITE_SPEC, demo_site.url)
    assert stats.errors == {"http 404": stats.pages_failed}
    assert len({item["url"] for item in sink.items}) == len(sink.items) == stats.items
    pids = Counter(item["pid"] for item in sink.items)
    assert pids[os.getpid()] >= 5  # the first pages, parsed here
    assert sum(n for pid, n in pids.items() if pid != os.getpid()) > 200  # then in workers
    assert fetcher.decision is not None and fetcher.decision.mode == "multiprocess"


@pytest.mark.slow
def test_an_unpicklable_spider_keeps_auto_in_this_process(demo_site):
    lines: list[str] = []
    spider = lambda page: {"url": page.url}  # noqa: E731 - a lambda cannot be pickled
    settings = CrawlSettings(mode="auto", follow=True, max_pages=40)
    sink = ListSink()
    fetcher = AutoFetcher(report=lines.append)
    stats = Engine(settings, crawlkit.spiders.as_spider(spider), sink, fetcher=fetcher).run(
        [demo_site.url + "/"])
    assert stats.pages == 40 and len(sink.items) > 30
    assert fetcher.decision is not None and fetcher.decision.mode == "async"
    assert len(lines) == 1 and "-> async" in lines[0]


@pytest.mark.slow
def test_the_cli_prints_the_decision(tmp_path, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    out = tmp_path / "out.jsonl"
    proc = run_cli("crawl", str(seeds), "--mode", "auto", "--follow", "--max-pages", "60",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("crawlkit: auto: ")]
    assert len(notes) == 1, proc.stderr
    assert re.search(r"^crawlkit: auto: parse [\d.]+ ms/page vs wait [\d.]+ ms/page over "
                     r"\d+ pages at concurrency 16; ", notes[0]), notes[0]
    assert notes[0].split(" -> ")[1].split()[0] in ("async", "multiprocess")
    assert len(out.read_text().splitlines()) == 60
    quiet = run_cli("crawl", str(seeds), "--mode", "auto", "--max-pages", "3", "--quiet",
                    "--out", str(tmp_path / "quiet.jsonl"))
    assert quiet.returncode == 0 and quiet.stderr == ""
