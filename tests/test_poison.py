"""Spider output that could hang or kill a crawl, and Ctrl-C to the whole process
group: the crawl goes on (the bad page is a record) or stops gracefully, in every
strategy."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crawlkit
from crawlkit import MODES, CrawlSettings
from crawlkit.lab.demo import DemoSite, SiteSpec
from crawlkit.models import FetchResult, Request
from crawlkit.process import Processor
from crawlkit.sinks import JsonLinesSink, ListSink, item_problem
from crawlkit.spiders import FunctionSpider
from poison_spiders import (
    EXPECTED_REASONS,
    BaseExceptionSpider,
    DyingSpider,
    ExitingSpider,
    UnwritableItemSpider,
    page_number,
)

HERE = Path(__file__).parent
HANG = 120  # seconds after which a crawl that has not returned is taken as hung


def crawl_or_hang(**kwargs: Any) -> crawlkit.CrawlResult:
    """``crawlkit.crawl(**kwargs)`` in a thread; fails the test if it never returns."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = crawlkit.crawl(**kwargs)
        except BaseException as exc:  # report whatever ended it, SystemExit included
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), "the crawl hung"
    assert "error" not in box, f"the crawl raised {box['error']!r}"
    result: crawlkit.CrawlResult = box["result"]
    return result


# -- the item check, without any server ----------------------------------------------

def _process(item: object) -> crawlkit.models.Outcome:
    spider = FunctionSpider(lambda page: [item])
    result = FetchResult(Request("http://127.0.0.1/page/1"), 200,
                         {"content-type": "text/html"}, b"<html><title>t</title></html>", None)
    return Processor(spider, CrawlSettings(follow=False))(result)


@pytest.mark.parametrize(("value", "reason"), [
    (b"raw", "bytes at key 'x'"),
    (Decimal("1.5"), "Decimal at key 'x'"),
    ({1, 2}, "set at key 'x'"),
    ({1: "one"}, "int key 1 at key 'x'"),
    (2**64, "int beyond 64 bits at key 'x'"),
    (-(2**63) - 1, "int beyond 64 bits at key 'x'"),
    (float("nan"), "float nan at key 'x'"),
    (float("-inf"), "float -inf at key 'x'"),
    (datetime(2020, 1, 1), "datetime at key 'x'"),
    ("\ud800", "str with a lone surrogate at key 'x'"),
    ([{"a": [1, b"z"]}], "bytes at key 'x'[0]['a'][1]"),
    (threading.Lock(), "lock at key 'x'"),
])
def test_an_unwritable_item_makes_the_page_a_record_naming_it(value, reason):
    outcome = _process({"x": value})
    assert outcome.error == f"item not serialisable: {reason}"
    assert outcome.items == ()


def test_the_other_items_and_links_of_the_page_are_kept():
    spider = FunctionSpider(lambda page: [{"a": 1}, {"x": b"raw"}, "/next", {"b": 2}])
    result = FetchResult(Request("http://127.0.0.1/page/1"), 200,
                         {"content-type": "text/html"}, b"<html></html>", None)
    outcome = Processor(spider, CrawlSettings(follow=False))(result)
    assert outcome.error == "item not serialisable: bytes at key 'x'"
    assert outcome.items == ({"a": 1}, {"b": 2})
    assert outcome.follow == ("http://127.0.0.1/next",)


def test_accepted_edge_values():
    for value in (2**64 - 1, -(2**63), 1.5, -0.0, True, None, "\u00e9\U0001f600", (1, [2]),
                  {"k": {"n": []}}):
        assert item_problem({"x": value}) is None, value
    deep: list[Any] = []
    for _ in range(126):
        deep = [deep]
    assert item_problem({"x": deep}) is None  # 128 levels, the item included
    assert _json_lines_round_trip({"x": deep}) == {"x": deep}
    problem = item_problem({"x": [deep]})
    assert problem is not None
    assert problem.startswith("item not serialisable: nested deeper than 128 levels at key 'x'")


def test_spider_exit_in_the_processor_is_a_record():
    def leave(page: object) -> None:
        sys.exit(3)

    spider = FunctionSpider(leave)
    result = FetchResult(Request("http://127.0.0.1/page/1"), 200,
                         {"content-type": "text/html"}, b"<html></html>", None)
    outcome = Processor(spider, CrawlSettings())(result)
    assert outcome.error == "spider error: SystemExit: 3 (test_poison.py:121 in leave)"


# values a spider might yield: JSON ones, and everything a sink may choke on
_leaves = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text()
    | st.binary(max_size=4) | st.decimals(allow_nan=False, places=2)
    | st.sets(st.integers(), max_size=2) | st.datetimes()
)
_keys = st.text(max_size=5) | st.integers() | st.booleans()
_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=3) | st.tuples(children)
    | st.dictionaries(_keys, children, max_size=3),
    max_leaves=8,
)
_items = st.dictionaries(_keys, _values, max_size=4)


def _as_json(value: Any) -> Any:
    """What a JSON reader gives back for an accepted value (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def _json_lines_round_trip(item: Any) -> Any:
    stream = io.BytesIO()
    JsonLinesSink(stream).write(item)
    return orjson.loads(stream.getvalue())


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_items)
def test_every_sink_round_trips_what_it_accepts_and_refuses_the_rest(item):
    outcome = _process(item)
    if outcome.error is None:
        (accepted,) = outcome.items
        list_sink = ListSink()
        list_sink.write(accepted)
        expected = _as_json(item)
        assert _same(_as_json(list_sink.items[0]), expected)
        assert _same(_json_lines_round_trip(accepted), expected)
    else:
        assert outcome.error.startswith("item not serialisable: ")
        assert outcome.items == ()
        # refused only what JSON lines would have lost or choked on
        try:
            written = orjson.loads(orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS))
        except (TypeError, orjson.JSONEncodeError):
            return
        assert not _same(written, _as_json(item))


def test_nan_and_infinity_are_refused_alike_by_every_sink():
    for value in (math.nan, math.inf, -math.inf):
        assert _process({"x": value}).error == f"item not serialisable: float {value!r} at key 'x'"


# -- every strategy, against a loopback site ----------------------------------------

@pytest.fixture(scope="module")
def small_site():
    with DemoSite(SiteSpec(pages=30, links=4)) as site:
        yield site


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_unwritable_items_are_records_and_the_crawl_goes_on(mode, small_site):
    result = crawl_or_hang(urls_or_spider=small_site.url + "/page/1", mode=mode,
                           spider=UnwritableItemSpider, follow=True, retries=0)
    errors = result.stats.errors
    for name, reason in EXPECTED_REASONS.items():
        if name == "lock":  # the lock's class is named after the threading module in use
            assert any(k.startswith("item not serialisable: ") and k.endswith("at key 'x'")
                       and "lock" in k.lower() for k in errors), errors
        else:
            assert errors.get(reason) == 3, (reason, errors)
    assert not any("x" in item for item in result)
    pages = {item["url"] for item in result}
    assert result.stats.pages_failed == 3 + 3 * len(EXPECTED_REASONS)  # 3 are http 404
    parts = sorted((item["url"], item["part"]) for item in result)
    assert parts == sorted((url, part) for url in pages for part in (1, 2))
    assert len(result) == result.stats.items == 2 * len(pages) > 2 * 30


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_spider_calling_sys_exit_is_a_record_in_every_mode(mode, small_site):
    result = crawl_or_hang(urls_or_spider=small_site.url + "/page/1", mode=mode,
                           spider=ExitingSpider, follow=True, retries=0)
    errors = result.stats.errors
    in_parse = "spider error: SystemExit: 3 (poison_spiders.py:63 in parse)"
    in_failed = "spider error: SystemExit: None (poison_spiders.py:68 in failed)"
    assert errors[f"{in_parse}; {in_failed}"] == 10
    assert errors[f"http 404; {in_failed}"] == 3
    assert len(result) == result.stats.items > 0
    assert not any(page_number(item["url"]) in range(0, 30, 3) for item in result)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_base_exception_from_a_spider_is_a_record(mode, small_site):
    result = crawl_or_hang(urls_or_spider=small_site.url + "/page/1", mode=mode,
                           spider=BaseExceptionSpider, retries=0)
    assert result.stats.errors == {
        "spider error: Uncatchable: not an Exception (poison_spiders.py:79 in parse)": 1}


def run_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "crawlkit", *args], capture_output=True,
                          text=True, timeout=HANG, env=env, **kwargs)


@pytest.mark.slow
def test_unwritable_items_from_the_cli_with_a_state_file(tmp_path, small_site):
    seeds = tmp_path / "urls.txt"
    seeds.write_text(small_site.url + "/page/1\n")
    out, state = tmp_path / "out.jsonl", tmp_path / "state.db"
    args = ["crawl", str(seeds), "--follow", "--spider", "poison_spiders:UnwritableItemSpider",
            "--retries", "0", "--out", str(out), "--state", str(state)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert not any("x" in line for line in lines)
    pages = {line["url"] for line in lines}
    parts = sorted((line["url"], line["part"]) for line in lines)
    assert parts == sorted((url, part) for url in pages for part in (1, 2))
    assert len(pages) > 30
    again = run_cli(*args)  # a resume of a finished crawl: nothing new, nothing lost
    assert again.returncode == 0, again.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == lines


# -- Ctrl-C to the whole process group ----------------------------------------------

def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        assert time.monotonic() < deadline, "the crawl never wrote a record"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_to_the_process_group_stops_gracefully_and_resumes(mode, tmp_path):
    spec = SiteSpec(pages=40, links=4, latency=0.15)
    with DemoSite(spec) as site:
        seeds = tmp_path / "urls.txt"
        seeds.write_text(site.url + "/page/1\n")
        out, state = tmp_path / "out.jsonl", tmp_path / "state.db"
        args = ["crawl", str(seeds), "--mode", mode, "--follow", "--concurrency", "4",
                "--out", str(out), "--state", str(state)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        proc = subprocess.Popen([sys.executable, "-m", "crawlkit", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            _wait_for(lambda: out.exists() and out.stat().st_size > 0, proc)
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            _, stderr = proc.communicate(timeout=HANG)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr, stderr
        assert "run the same command to resume" in stderr
        interrupted = out.read_text().splitlines()
        resumed = run_cli(*args)
        assert resumed.returncode == 0, resumed.stderr
        assert "Traceback" not in resumed.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(records) > len(interrupted)  # the interrupted run had not finished
    with DemoSite(SiteSpec(pages=40, links=4)) as reference_site:
        reference = crawlkit.crawl(reference_site.url + "/page/1", follow=True)
    path = lambda url: url.split("/", 3)[3]  # noqa: E731
    urls = [path(r["url"]) for r in records]
    assert len(urls) == len(set(urls)), "a page was written twice"
    assert sorted(urls) == sorted(path(r["url"]) for r in reference)


@pytest.mark.slow
@pytest.mark.parametrize("mode", crawlkit.fetchers.modes_where("spider_must_pickle"))
def test_a_worker_process_that_dies_leaves_records_and_the_crawl_goes_on(mode, small_site):
    result = crawl_or_hang(urls_or_spider=small_site.url + "/page/1", mode=mode,
                           spider=DyingSpider, follow=True, concurrency=1, retries=1)
    assert result.stats.errors == {"worker process died": 3, "http 404": 3}
    assert result.stats.retries == 3
    assert not any(page_number(item["url"]) in (0, 10, 20) for item in result)
    assert len(result) == result.stats.items > 30


def test_an_unwritable_item_for_a_redirect_keeps_the_target():
    class Spider(crawlkit.Spider):
        def redirected(self, page):
            yield {"x": {1, 2}}

    result = FetchResult(Request("http://127.0.0.1/a"), 302, {"location": "/b"}, b"", None)
    outcome = Processor(Spider(), CrawlSettings())(result)
    assert outcome.error == "item not serialisable: set at key 'x'"
    assert outcome.redirect == "http://127.0.0.1/b"
