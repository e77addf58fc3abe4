"""Adaptive politeness (``--autothrottle``): the per-origin AIMD state machine on fixed
inputs, its place in the politeness rules and the progress line, and crawls of the
overload site in every strategy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crawlkit
from crawlkit import MODES, CrawlSettings
from crawlkit.engine import Engine
from crawlkit.errors import Reason
from crawlkit.lab.overload import OverloadSite, OverloadSpec
from crawlkit.models import Outcome, Request, Timing
from crawlkit.politeness import (
    DECREASE,
    DELAY_STEP,
    LATENCY_DECREASE,
    MAX_ADAPTIVE_DELAY,
    Politeness,
    Throttle,
)
from crawlkit.progress import Snapshot
from crawlkit.sinks import ListSink

FAST = 0.01  # a time to first byte, seconds


def healthy(throttle: Throttle, in_flight: int | None = None, ttfb: float = FAST) -> None:
    """One 200 answer while the origin used its whole limit (unless told otherwise)."""
    busy = throttle.allowed - 1 if in_flight is None else in_flight
    throttle.observe(busy, 200, ttfb, None)


def round_trip(throttle: Throttle) -> None:
    """As many healthy answers as the limit allowed in flight."""
    for _ in range(throttle.allowed):
        healthy(throttle)


# the state machine


def test_starts_at_one_and_doubles_per_round_trip_up_to_the_cap():
    throttle = Throttle(cap=16)
    assert throttle.allowed == 1
    seen = []
    for _ in range(6):
        round_trip(throttle)
        seen.append(throttle.allowed)
    assert seen == [2, 4, 8, 16, 16, 16]
    for _ in range(100):
        healthy(throttle)
    assert throttle.allowed == 16 and throttle.limit <= 16


@pytest.mark.parametrize("signal", [
    {"status": 503}, {"status": 429}, {"status": 504},
    {"status": None, "error": Reason.TIMEOUT.value},
    {"status": None, "error": Reason.RESET.value},
    {"status": None, "error": Reason.REFUSED.value},
    {"status": None, "error": Reason.DISCONNECTED.value},
    {"status": None, "error": Reason.CONNECTION.value},
    {"status": 200, "error": Reason.TRUNCATED.value},
])
def test_an_overload_signal_cuts_the_limit_multiplicatively(signal):
    throttle = Throttle(cap=32, limit=20.0)
    throttle.observe(19, signal["status"], FAST, signal.get("error"))
    assert throttle.limit == 20 * DECREASE
    assert throttle.allowed == 10


@pytest.mark.parametrize("signal", [
    {"status": 500}, {"status": 502}, {"status": 404}, {"status": 301},
    {"status": None, "error": Reason.DNS.value},
    {"status": None, "error": Reason.TLS.value},
    {"status": None, "error": Reason.TOO_LARGE.value},
])
def test_answers_that_say_nothing_about_load_do_not_cut(signal):
    throttle = Throttle(cap=32, limit=20.0)
    throttle.observe(19, signal["status"], FAST, signal.get("error"))
    assert throttle.limit >= 20


def test_the_cut_is_taken_from_what_was_in_flight():
    throttle = Throttle(cap=32, limit=30.0)
    throttle.observe(7, 503, FAST, None)  # only 8 were in flight: 8 overloaded it
    assert throttle.allowed == 4


def test_the_cut_counts_what_was_in_flight_when_others_came_back_first():
    throttle = Throttle(cap=32, limit=8.0, threshold=8.0)
    for in_flight in range(1, 9):
        throttle.started(in_flight)
    for in_flight in range(7, 1, -1):  # six answers came back
        healthy(throttle, in_flight=in_flight)
    throttle.observe(1, 503, FAST, None)  # then the refusal, while 1 is left in flight
    assert throttle.allowed == 4


def test_one_cut_per_round_trip():
    throttle = Throttle(cap=32, limit=16.0)
    throttle.observe(15, 503, FAST, None)
    assert throttle.limit == 8
    for in_flight in range(14, -1, -1):  # the rest of that burst: started before the cut
        throttle.observe(in_flight, 503, FAST, None)
    assert throttle.limit == 8
    throttle.observe(7, 503, FAST, None)  # a request started under the new limit
    assert throttle.limit == 4


def test_after_an_objection_it_grows_by_at_most_one_per_round_trip_and_slower_near_it():
    throttle = Throttle(cap=64, limit=10.0)  # still doubling per round trip
    throttle.observe(9, 503, FAST, None)  # 10 in flight overloaded it
    assert throttle.allowed == 5
    limits = [throttle.limit]
    for _ in range(40):
        round_trip(throttle)
        limits.append(throttle.limit)
    steps = [b - a for a, b in zip(limits, limits[1:], strict=False)]
    assert all(0 < step <= 1.0 + 1e-9 for step in steps)
    near = [step for a, step in zip(limits, steps, strict=False) if 9 <= a < 11]
    far = [step for a, step in zip(limits, steps, strict=False) if a < 8]
    assert near and far and max(near) < min(far)
    assert throttle.limit < 64  # no return to doubling


def test_no_growth_while_the_origin_does_not_use_its_limit():
    throttle = Throttle(cap=32, limit=8.0, threshold=8.0)
    for _ in range(50):
        healthy(throttle, in_flight=2)
    assert throttle.limit == 8


def test_at_one_in_flight_an_objection_adds_a_delay_that_doubles_and_shrinks_away():
    throttle = Throttle(cap=8)
    throttle.observe(0, 503, FAST, None)
    assert throttle.allowed == 1 and throttle.delay == DELAY_STEP
    throttle.observe(0, 429, FAST, None)
    assert throttle.delay == 2 * DELAY_STEP
    for _ in range(20):
        throttle.observe(0, 503, FAST, None)
    assert throttle.delay == MAX_ADAPTIVE_DELAY
    grown = None
    for n in range(200):
        healthy(throttle)
        if throttle.allowed > 1:
            grown = n
            break
    assert throttle.delay == 0 and grown is not None and grown > 10


def test_time_to_first_byte_well_above_the_baseline_cuts_gently():
    throttle = Throttle(cap=32, limit=16.0, threshold=16.0)
    for _ in range(20):
        healthy(throttle, ttfb=0.1)
    limit = throttle.limit
    healthy(throttle, ttfb=5.0)  # one slow answer: the smoothed one has not risen yet
    assert throttle.limit >= limit
    slow = 1
    while throttle.limit >= limit and slow < 10:
        healthy(throttle, ttfb=5.0)
        slow += 1
    assert slow == 3  # three slow answers in a row
    assert throttle.ceiling is not None
    assert throttle.limit == pytest.approx(throttle.ceiling * LATENCY_DECREASE)


def test_an_origin_slowing_with_the_load_is_held_where_it_answers_near_its_baseline():
    throttle = Throttle(cap=32)
    loads = []
    for _ in range(80):  # round trips; each answer's wait grows with what was in flight
        load = throttle.allowed
        loads.append(load)
        for _ in range(load):
            throttle.started(throttle.allowed)  # the engine keeps the origin at its limit
            healthy(throttle, ttfb=0.02 + 0.05 * load)
    # well above the baseline (0.07 s) means beyond 2 * 0.07 + 0.25 s: 7 in flight
    assert all(4 <= load <= 8 for load in loads[-40:])  # not 32, not down to 1


def test_an_origin_slower_for_good_is_cut_once_not_down_to_one():
    throttle = Throttle(cap=32, limit=16.0, threshold=16.0)
    for _ in range(20):
        healthy(throttle, ttfb=0.1)
    for _ in range(300):
        healthy(throttle, ttfb=1.0)
    assert throttle.ceiling is not None  # it was cut
    assert throttle.allowed >= 12


def test_a_steady_slow_origin_is_not_cut_for_being_slow():
    throttle = Throttle(cap=32)
    for _ in range(200):
        healthy(throttle, ttfb=2.0)
    assert throttle.allowed == 32


ANSWERS = st.tuples(
    st.integers(min_value=0, max_value=40),  # still in flight
    st.sampled_from([None, 200, 301, 404, 429, 500, 502, 503, 504]),
    st.floats(min_value=0.0, max_value=30.0),  # time to first byte
    st.sampled_from([None, *(r.value for r in Reason)]),
)


@given(cap=st.integers(min_value=1, max_value=64),
       steps=st.lists(st.one_of(st.integers(min_value=1, max_value=40), ANSWERS),
                      max_size=300))
def test_no_sequence_of_answers_takes_it_out_of_its_bounds(cap, steps):
    throttle = Throttle(cap=cap)
    for step in steps:
        if isinstance(step, int):
            throttle.started(step)
        else:
            throttle.observe(*step)
        assert 1 <= throttle.allowed <= cap and 1.0 <= throttle.limit <= max(cap, 1.0)
        assert 0.0 <= throttle.delay <= MAX_ADAPTIVE_DELAY
        assert throttle.hold >= 0


# in the politeness rules


def _outcome(status: int | None, error: str | None = None, ttfb: float = FAST) -> Outcome:
    request = Request("http://a.example/")
    return Outcome(request, request.url, status, error, timing=Timing(ttfb=ttfb))


def test_politeness_holds_each_origin_to_its_adaptive_limit():
    politeness = Politeness(CrawlSettings(autothrottle=True, per_host=4, obey_robots=False))
    a, b = "http://a.example", "http://b.example"
    politeness.started(a, 0.0)
    assert not politeness.ready(a, 0.0) and politeness.next_start(a) is None
    assert politeness.ready(b, 0.0)  # another origin has its own limit
    assert politeness.busy_limits() == ((a, 1, 1),)
    politeness.finished(a)
    politeness.observe(a, _outcome(200))
    politeness.started(a, 0.0)
    assert politeness.ready(a, 0.0)
    politeness.started(a, 0.0)
    assert not politeness.ready(a, 0.0)
    assert politeness.busy_limits() == ((a, 2, 2),)


def test_the_adaptive_delay_never_undercuts_the_delay_option():
    politeness = Politeness(CrawlSettings(autothrottle=True, delay=1.0, obey_robots=False))
    a = "http://a.example"
    politeness.started(a, 0.0)
    politeness.finished(a)
    politeness.observe(a, _outcome(503))  # at 1 in flight: a delay of DELAY_STEP
    politeness.started(a, 5.0)
    assert politeness.next_start(a) is None  # in flight at its limit of 1
    politeness.finished(a)
    assert politeness.next_start(a) == 6.0  # --delay 1 wins over the adaptive 0.1


def test_without_autothrottle_outcomes_change_nothing():
    politeness = Politeness(CrawlSettings(per_host=3, obey_robots=False))
    a = "http://a.example"
    for _ in range(3):
        politeness.started(a, 0.0)
    politeness.finished(a)
    for _ in range(5):
        politeness.observe(a, _outcome(503))
    politeness.started(a, 0.0)
    assert not politeness.ready(a, 0.0)
    politeness.finished(a)
    assert politeness.ready(a, 0.0)
    assert politeness.busy_limits() == ()


def test_progress_line_names_the_busy_origins_limits():
    limits = (("http://a", 5, 8), ("http://b", 2, 2), ("http://c", 1, 4), ("http://d", 1, 1))
    line = Snapshot(10, 0, 9, 3, 2.0, limits=limits).line()
    assert line.endswith("; in flight/limit: http://a 5/8, http://b 2/2, http://c 1/4 "
                         "(+1 origins)")
    assert "limit" not in Snapshot(10, 0, 9, 3, 2.0).line()


# crawls of the overload site

CAPACITY = 3
SPEC = OverloadSpec(pages=120, capacity=CAPACITY, latency=0.01, per_request=0.002)


@pytest.fixture(scope="module")
def overload_site() -> Iterator[OverloadSite]:
    with OverloadSite(SPEC) as site:
        yield site


def _crawl(site: OverloadSite, mode: str, **options: object) -> crawlkit.CrawlResult:
    site.reset()
    return crawlkit.crawl(site.url + "/", mode, follow=True, concurrency=16, per_host=16,
                          retries=12, retry_backoff=0.02, **options)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_autothrottle_keeps_the_overload_site_under_its_capacity(mode, overload_site):
    site = overload_site
    result = _crawl(site, mode, autothrottle=True)
    assert result.stats.pages_ok == SPEC.pages + 1 and result.stats.pages_failed == 0
    assert site.served == SPEC.pages + 1
    refused, arrivals = site.refused, list(site.arrivals)
    if CrawlSettings(mode=mode).effective_concurrency == 1:
        assert refused == 0
        return
    late = arrivals[len(arrivals) // 2:]
    assert max(late) <= 2 * CAPACITY  # it settled near the capacity: 16 were allowed
    _crawl(site, mode)
    assert site.peak > 2 * CAPACITY  # the same crawl without it does press harder
    assert refused < site.refused


@pytest.mark.slow
def test_progress_shows_the_adaptive_limits_while_it_crawls():
    # at most 4 answered at once, each after 0.12 s or more: 81 requests take 2.4 s or
    # more, so several of the engine's twice-a-second snapshots; answers to requests
    # started together come back 20 ms apart, so a snapshot (taken after the answers
    # at hand) finds others still in flight
    spec = OverloadSpec(pages=80, capacity=4, latency=0.1, per_request=0.02)
    seen: list[Snapshot] = []
    settings = CrawlSettings(mode="async", follow=True, concurrency=8, per_host=8,
                             autothrottle=True, retries=12, retry_backoff=0.02)
    with OverloadSite(spec) as site:
        Engine(settings, crawlkit.DefaultSpider(), ListSink(), progress=seen.append).run(
            [site.url + "/"])
    shown = [limits for snap in seen for limits in snap.limits]
    assert shown
    # after a cut more may be in flight than the new limit: they started before it
    assert all(origin == site.url and 1 <= busy <= 8 and 1 <= limit <= 8
               for origin, busy, limit in shown)
    assert any("in flight/limit: " + site.url in snap.line() for snap in seen)


@pytest.mark.slow
def test_serve_demo_serves_the_overload_site():
    from test_cli import _serve_and_get

    status, body = _serve_and_get(["serve-demo", "--overload", "2", "--pages", "5"], "/_stats")
    assert status == 200
    assert json.loads(body) == {"served": 0, "refused": 0, "peak": 0, "arrivals": []}
