"""compare: fresh-process runs, the results document, the agreement check, the report."""

from __future__ import annotations

import json

import pytest

from crawlkit.errors import UsageError
from crawlkit.lab.compare import (
    METRICS,
    SCHEMA,
    ComparePlan,
    advice_text,
    check_agreement,
    mode_facts,
    parse_modes,
    recommend,
    run_plan,
    validate_results,
)
from crawlkit.strategies import MODES, known_modes, strategy_class
from test_cli import assert_usage_error, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def small_site(site_factory):
    return site_factory(pages=12, links=4)


@pytest.fixture
def seeds(tmp_path, small_site):
    path = tmp_path / "seeds.txt"
    path.write_text(small_site.url + "/\n")
    return path


def test_results_document_has_every_figure_per_mode_and_repeat(seeds):
    plan = ComparePlan(str(seeds), ("sync", "async", "gevent"), ("--follow",), repeat=2)
    results, latencies = run_plan(plan)
    assert validate_results(results) == []
    assert [(r["mode"], r["repeat"]) for r in results["runs"]] == [
        ("sync", 0), ("async", 0), ("gevent", 0), ("sync", 1), ("async", 1), ("gevent", 1)
    ]
    assert results["facts"] == {m: mode_facts(m) for m in ("sync", "async", "gevent")}
    assert results["facts"]["gevent"] == {"http_client": "geventhttpclient",
                                          "parse": "worker processes"}
    for run in results["runs"]:
        assert run["pages_ok"] > 12 and run["pages_per_second"] > 0
        # the whole tree at its peak holds at least the crawl process at its peak
        assert run["tree_rss_mb"] >= run["idle_rss_mb"] > 10
        assert run["tree_processes"] >= (2 if run["mode"] == "gevent" else 1)
        assert run["cpu_seconds"] > 0 and run["peak_rss_mb"] > 10
        assert run["latency"]["p50"] <= run["latency"]["p95"] <= run["latency"]["p99"]
        assert run["breakdown"]["parse"] > 0 and run["breakdown"]["transfer"] == 0
    # the gevent run's child process is counted in the CPU figures
    assert all(r["peak_child_rss_mb"] > 10 for r in results["runs"] if r["mode"] == "gevent")
    assert results["agreement"] == {"agree": True, "reference": "sync", "differences": {}}
    assert set(latencies) == {"sync", "async", "gevent"}
    assert all(len(v) == 2 * results["runs"][0]["pages_ok"] + 2 * results["runs"][0][
        "pages_failed"] for v in latencies.values())


def test_multiprocess_reports_transfer_time(seeds):
    results, _ = run_plan(ComparePlan(str(seeds), ("multiprocess",), ("--follow",)))
    assert results["runs"][0]["breakdown"]["transfer"] > 0
    assert results["runs"][0]["startup"] > 0


def test_a_broken_mode_is_caught_by_the_agreement_check(seeds):
    plan = ComparePlan(str(seeds), ("sync", "broken_fetcher:LosingFetcher"), ("--follow",))
    results, _ = run_plan(plan)
    agreement = results["agreement"]
    assert agreement["agree"] is False
    diff = agreement["differences"]["broken_fetcher:LosingFetcher"]
    assert diff["missing_urls"] == 0 and diff["extra_urls"] == 0
    assert diff["missing_items"] >= 5 and diff["extra_items"] == 0
    assert diff["examples"]["missing_items"]


def test_check_agreement_counts_each_kind_of_difference():
    evidence = {
        "a": (["u1", "u2"], ["i1", "i2", "i2"]),
        "b": (["u1", "u2"], ["i2", "i1", "i2"]),
        "c": (["u1", "u3"], ["i1", "i2", "i3"]),
    }
    out = check_agreement(evidence)
    assert out["agree"] is False and list(out["differences"]) == ["c"]
    diff = out["differences"]["c"]
    assert (diff["missing_urls"], diff["extra_urls"]) == (1, 1)
    assert (diff["missing_items"], diff["extra_items"]) == (1, 1)
    assert diff["examples"]["missing_items"] == ["i2"]


def test_validate_results_finds_problems():
    assert validate_results({"schema": "nope"})
    doc = {"schema": SCHEMA, "machine": {}, "plan": {"modes": ["sync"],
           "repeat": 1}, "facts": {"sync": {"http_client": "", "parse": "in-process"}},
           "runs": [{"mode": "sync", "repeat": 0}], "modes": {},
           "agreement": {"agree": "yes"}}
    problems = validate_results(doc)
    assert any("lacks pages_per_second" in p for p in problems)
    assert any("lacks tree_rss_mb" in p for p in problems)
    assert any("no HTTP client named" in p for p in problems)
    assert any("no summary for mode 'sync'" in p for p in problems)
    assert any("agreement.agree" in p for p in problems)
    assert len(METRICS) > 15


def test_machine_text_says_when_other_work_shared_the_cores():
    from crawlkit.lab.compare import machine_facts
    from crawlkit.lab.report import machine_text

    facts = machine_facts()
    assert "packages" in facts and facts["load_average"] >= 0
    quiet = {**facts, "usable_cores": 2, "load_average": 2.9}  # its own runs and a bit
    busy = {**facts, "usable_cores": 2, "load_average": 6.0}
    assert "load average 2.9" in machine_text(quiet) and "disturbed" not in machine_text(quiet)
    assert "load average 6.0 over the last minute of the runs (other work" in machine_text(busy)


def test_parse_modes():
    assert parse_modes("all")[0] == "sync" and parse_modes("all") == known_modes()
    assert parse_modes("async, gevent") == ("async", "gevent")
    for bad in ("", "async,fibers", "async,async"):
        with pytest.raises(UsageError):
            parse_modes(bad)


def test_compare_cli_writes_the_report(seeds, tmp_path):
    report = tmp_path / "report"
    proc = run_cli("compare", str(seeds), "--modes", "sync,threadpool", "--repeat", "2",
                   "--follow", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert "All modes agree with sync" in proc.stdout
    assert "threadpool" in proc.stdout and "requests" in proc.stdout
    doc = json.loads((report / "results.json").read_text())
    assert validate_results(doc) == []
    assert {f["http_client"] for f in doc["facts"].values()} == {"requests"}
    # the terminal output ends with the advice, and it names what recommend() chose
    advice = advice_text(doc)
    chosen = recommend(doc)["recommended"]
    assert advice.startswith(f"Recommended for this crawl: {chosen}: ")
    assert " ".join(proc.stdout.split()).endswith(" ".join(advice.split()))
    text = (report / "report.md").read_text()
    assert "| mode | client | parse in |" in text and "| requests | in-process |" in text
    assert "## Noise" in text and "over 2 runs" in text
    assert advice in text and "## Columns" in text
    for column in ("`RSS MB`", "`queue/ttfb/dl/parse/xfer ms`", "`tree MB`", "`client`"):
        assert column in text
    for chart in ("throughput.png", "latency.png", "breakdown.png"):
        assert (report / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({chart})" in text


def test_compare_cli_usage_errors(seeds, tmp_path):
    assert_usage_error(run_cli("compare", str(seeds), "--modes", "fibers"), "unknown mode")
    assert_usage_error(run_cli("compare", str(seeds), "--repeat", "0"), "at least 1")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_usage_error(run_cli("compare", str(seeds), "--report", str(blocker)),
                       "not a directory")


def _summary(rates, cpu=None, repeats=3, lost=()):
    """A results document with pages/s (min, median, max) and CPU seconds per mode."""
    return {
        "modes": {m: {"repeats": repeats,
                      "pages_per_second": {"min": lo, "median": med, "max": hi},
                      "cpu_seconds": {"median": (cpu or {}).get(m, 1.0)}}
                  for m, (lo, med, hi) in rates.items()},
        "agreement": {"agree": not lost, "reference": "sync",
                      "differences": {m: {} for m in lost}},
    }


def test_recommend_a_clear_winner_says_its_slowest_run_beats_the_rest():
    results = _summary({"sync": (40, 42, 44), "async": (44, 46, 47),
                        "multiprocess": (75, 78, 80)})
    rec = recommend(results)
    assert (rec["recommended"], rec["ties"]) == ("multiprocess", [])
    assert "slowest run (75.0 pages/s) beats every other mode's fastest" in rec["why"]
    assert "async, 47.0 pages/s" in rec["why"]
    assert advice_text(results).startswith("Recommended for this crawl: multiprocess: ")


def test_recommend_picks_the_cheapest_of_the_modes_within_noise():
    results = _summary({"threaded": (100, 107, 110), "async": (104, 108, 111),
                        "sync": (9, 9.5, 10)}, cpu={"threaded": 2.0, "async": 0.8})
    results["modes"]["threaded"]["pages_per_second"]["median"] = 109.0
    rec = recommend(results)
    assert rec["fastest"] == "threaded" and rec["ties"] == ["async"]
    assert rec["recommended"] == "async"
    assert "async is within noise" in rec["why"] and "async used the least CPU" in rec["why"]
    assert "0.800 s vs 2.000 s" in rec["why"]


def test_recommend_keeps_the_best_median_when_the_cpu_is_about_the_same():
    results = _summary({"threaded": (100, 107, 110), "async": (104, 109, 111)},
                       cpu={"threaded": 0.95, "async": 1.0})
    rec = recommend(results)
    assert (rec["fastest"], rec["ties"], rec["recommended"]) == ("async", ["threaded"], "async")
    assert "none of those used clearly less CPU than its 1.000 s" in rec["why"]


def test_recommend_never_advises_a_mode_that_lost_pages():
    results = _summary({"sync": (40, 42, 44), "broken": (90, 95, 99)}, lost=("broken",))
    rec = recommend(results)
    assert rec["recommended"] == "sync"
    assert "disagreed with the reference: broken" in rec["why"]


def test_recommend_with_one_run_per_mode_says_there_is_no_spread():
    results = _summary({"sync": (40, 40, 40), "async": (50, 50, 50)}, repeats=1)
    assert "no spread to judge the noise by" in recommend(results)["why"]


def test_mode_facts_come_from_the_registry():
    for mode in MODES:
        cls = strategy_class(mode)
        facts = mode_facts(mode)
        assert facts["http_client"] == cls.http_client
        assert facts["parse"] == ("in-process" if cls.spider_in_process else "worker processes")
    assert mode_facts("no.such.module:Nothing") == {"http_client": "unknown", "parse": "unknown"}
