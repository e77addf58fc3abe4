"""compare: fresh-process runs, the results document, the agreement check, the report."""

from __future__ import annotations

import json

import pytest

from crawlkit.errors import UsageError
from crawlkit.lab.compare import (
    METRICS,
    ComparePlan,
    check_agreement,
    parse_modes,
    run_plan,
    validate_results,
)
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
    for run in results["runs"]:
        assert run["pages_ok"] > 12 and run["pages_per_second"] > 0
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
    doc = {"schema": "crawlkit.lab.compare/1", "machine": {}, "plan": {"modes": ["sync"],
           "repeat": 1}, "runs": [{"mode": "sync", "repeat": 0}], "modes": {},
           "agreement": {"agree": "yes"}}
    problems = validate_results(doc)
    assert any("lacks pages_per_second" in p for p in problems)
    assert any("no summary for mode 'sync'" in p for p in problems)
    assert any("agreement.agree" in p for p in problems)
    assert len(METRICS) > 15


def test_parse_modes():
    assert parse_modes("all")[0] == "sync" and len(parse_modes("all")) == 6
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
    assert "threadpool" in proc.stdout
    doc = json.loads((report / "results.json").read_text())
    assert validate_results(doc) == []
    text = (report / "report.md").read_text()
    assert "| mode |" in text and "## Noise" in text and "over 2 runs" in text
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


def test_bench_claims_have_three_verdicts():
    from crawlkit.lab.bench import claims

    def found(io_rates, io_rss, cpu_rates):
        def modes(rates, rss=None, busy=1.0):
            return {"modes": {m: {"pages_per_second": {"median": r},
                                  "peak_rss_mb": {"median": (rss or {}).get(m, 70.0)},
                                  "cpu_cores_busy": {"median": busy}}
                              for m, r in rates.items()}}
        return {"io": modes(io_rates, io_rss), "cpu": modes(cpu_rates, busy=1.8)}

    io = {"sync": 10.0, "threaded": 100.0, "threadpool": 98.0, "async": 101.0}
    cpu = {"sync": 40.0, "threaded": 16.0, "threadpool": 15.0, "async": 41.0,
           "multiprocess": 75.0}
    verdicts = {c["claim"]: c["verdict"] for c in claims(found(io, {}, cpu))}
    assert verdicts == {
        "Threads help I/O-bound work.": "confirmed",
        "The GIL makes threads useless for CPU-bound work.": "confirmed",
        "Processes help CPU-bound work.": "confirmed",
        "asyncio scales I/O with less memory than threads.": "not shown",
    }
    memory = "asyncio scales I/O with less memory than threads."
    less = {c["claim"]: c["verdict"] for c in claims(found(io, {"async": 50.0}, cpu))}
    more = {c["claim"]: c["verdict"] for c in claims(found(io, {"async": 90.0}, cpu))}
    slow = {c["claim"]: c["verdict"] for c in claims(found({**io, "async": 50.0}, {}, cpu))}
    assert (less[memory], more[memory], slow[memory]) == ("confirmed", "refuted", "refuted")
    cpu_threads_win = {**cpu, "threaded": 60.0, "multiprocess": 45.0}
    against = {c["claim"]: c["verdict"] for c in claims(found(io, {}, cpu_threads_win))}
    assert against["The GIL makes threads useless for CPU-bound work."] == "refuted"
    assert against["Processes help CPU-bound work."] == "refuted"
