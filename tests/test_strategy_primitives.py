"""The concurrency primitives inside the thread strategies: the Condition hand-off of
``threaded`` and the as_completed stream of ``threadpool``."""

from __future__ import annotations

import threading

from crawlkit import CrawlSettings, DefaultSpider, Outcome, Request
from crawlkit.fetchers.threaded import HandOff, ThreadedFetcher
from crawlkit.fetchers.threadpool import ThreadPoolFetcher
from crawlkit.models import FetchResult
from crawlkit.process import Processor

WAIT = 30.0  # seconds a thread may take to answer before the test fails


def _taker(hand_off: HandOff, into: list[Request | None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.append(hand_off.take()), daemon=True)
    thread.start()
    return thread


def test_the_hand_off_gives_each_request_to_one_worker_in_order():
    hand_off = HandOff()
    taken: list[Request | None] = []
    takers = [_taker(hand_off, taken) for _ in range(3)]
    requests = [Request(f"http://127.0.0.1/{n}") for n in range(3)]
    for request in requests:
        hand_off.put(request)
    for thread in takers:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert sorted(r.url for r in taken if r is not None) == sorted(r.url for r in requests)


def test_closing_the_hand_off_wakes_every_worker_and_drops_what_waits():
    hand_off = HandOff()
    taken: list[Request | None] = []
    takers = [_taker(hand_off, taken) for _ in range(4)]
    hand_off.close()
    for thread in takers:
        thread.join(WAIT)
        assert not thread.is_alive(), "a worker slept through close()"
    assert taken == [None] * 4
    hand_off.put(Request("http://127.0.0.1/late"))
    assert hand_off.take() is None  # closed stays closed


def test_threaded_workers_end_on_close(demo_site):
    settings = CrawlSettings(mode="threaded", concurrency=3)
    fetcher = ThreadedFetcher()
    fetcher.start(settings, Processor(DefaultSpider(), settings))
    fetcher.submit(Request(demo_site.url + "/page/1"))
    [outcome] = fetcher.completed(WAIT)
    assert outcome.status == 200
    fetcher.close()
    assert not any(thread.is_alive() for thread in fetcher.threads)


class _GatedProcessor:
    """Answers every request without I/O, once its URL's gate is opened."""

    def __init__(self, urls: list[str]) -> None:
        self.gates = {url: threading.Event() for url in urls}

    def __call__(self, result: FetchResult) -> Outcome:
        self.gates[result.request.url].wait(WAIT)
        return Outcome(result.request, result.request.url, 200, None)


def test_threadpool_streams_each_outcome_once(demo_site, monkeypatch):
    from crawlkit.http import sync as http_sync

    monkeypatch.setattr(http_sync, "fetch", lambda session, request, settings: FetchResult(
        request, 200, {}, b"", None))
    urls = [f"{demo_site.url}/page/{n}" for n in range(4)]
    processor = _GatedProcessor(urls)
    settings = CrawlSettings(mode="threadpool", concurrency=4)
    fetcher = ThreadPoolFetcher()
    fetcher.start(settings, processor)  # type: ignore[arg-type]
    try:
        for url in urls:
            fetcher.submit(Request(url))
        assert fetcher.completed(0) == []
        processor.gates[urls[2]].set()
        assert [o.request.url for o in fetcher.completed(WAIT)] == [urls[2]]
        processor.gates[urls[0]].set()
        processor.gates[urls[3]].set()
        got = [o.request.url for o in fetcher.completed(WAIT)]
        while len(got) < 2:
            got += [o.request.url for o in fetcher.completed(WAIT)]
        assert sorted(got) == [urls[0], urls[3]]
        processor.gates[urls[1]].set()
        assert [o.request.url for o in fetcher.completed(WAIT)] == [urls[1]]
        assert fetcher.completed(0) == []
    finally:
        for gate in processor.gates.values():
            gate.set()
        fetcher.close()
