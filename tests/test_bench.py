"""bench: the claims' verdicts on synthetic figures, the client share of a gap, the
memory sampling, and one tiny run that writes every part of the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from crawlkit.lab.bench import (
    MEMORY_CLAIM,
    claims,
    client_share,
    memory_modes,
    ratio_verdict,
    run_bench,
)
from crawlkit.lab.compare import mode_facts
from crawlkit.lab.measure import TreeSampler, high_water, tree_rss
from crawlkit.lab.slow import SlowSpec
from crawlkit.strategies import MODES, modes_where


def _modes(rates, rss=None, busy=1.0):
    return {"modes": {m: {"pages_per_second": {"median": r},
                          "peak_rss_mb": {"median": (rss or {}).get(m, 70.0)},
                          "cpu_cores_busy": {"median": busy}}
                      for m, r in rates.items()}}


IO = {"sync": 10.0, "threaded": 100.0, "threadpool": 98.0, "async": 101.0}
CPU = {"sync": 40.0, "threaded": 16.0, "threadpool": 15.0, "async": 41.0, "multiprocess": 75.0}


def _memory(kb, in_flight=500, rates=None, target=500):
    """A memory workload summary: KB per in-flight request per mode."""
    def stat(value):
        return {"min": value, "median": value, "max": value}
    return {"target_in_flight": target, "modes": {
        m: {"kb_per_in_flight": stat(v), "in_flight": stat(in_flight),
            "tree_rss_mb": stat(60 + v * in_flight / 1024), "idle_rss_mb": stat(60.0),
            "pages_per_second": stat((rates or {}).get(m, 200.0))}
        for m, v in kb.items()}}


def _creation(process_start=250.0, thread_start=0.08, job=15.0, pooled=(120.0, 16.0),
              each=(260.0, 17.0), idle=(38.0, 0.01)):
    return {"tasks": 8, "workers": 2, "start_method": "spawn", "job_ms": job,
            "per_task_ms": {"process_pool": pooled[0], "thread_pool": pooled[1],
                            "process_per_task": each[0], "thread_per_task": each[1]},
            "start_ms": {"process": process_start, "thread": thread_start},
            "idle_mb_each": {"process": idle[0], "thread": idle[1]}, "units": 4}


def _verdicts(*args, **kwargs):
    return {c["claim"]: c["verdict"] for c in claims(*args, **kwargs)}


def test_ratio_verdict_in_both_directions():
    assert [ratio_verdict(r, 2.0, 1.2) for r in (2.5, 1.5, 1.0)] == [
        "confirmed", "not shown", "refuted"]
    assert [ratio_verdict(r, 0.8, 1.25) for r in (0.5, 1.0, 1.3)] == [
        "confirmed", "not shown", "refuted"]


def test_cpu_and_io_claims_confirm_and_refute():
    verdicts = _verdicts({"io": _modes(IO), "cpu": _modes(CPU, busy=1.8)})
    assert verdicts == {
        "Threads help I/O-bound work.": "confirmed",
        "The GIL makes threads useless for CPU-bound work.": "confirmed",
        "Processes help CPU-bound work.": "confirmed",
        MEMORY_CLAIM: "not shown",  # no memory workload: nothing to show it with
    }
    threads_win = {**CPU, "threaded": 60.0, "multiprocess": 45.0}
    against = _verdicts({"io": _modes({**IO, "threaded": 11.0, "threadpool": 10.5}),
                         "cpu": _modes(threads_win)})
    assert against["Threads help I/O-bound work."] == "refuted"
    assert against["The GIL makes threads useless for CPU-bound work."] == "refuted"
    assert against["Processes help CPU-bound work."] == "refuted"


def test_cpu_claims_are_not_shown_when_other_work_held_the_cores():
    cpu = {**_modes(CPU, busy=1.8), "machine": {"load_average": 7.5, "usable_cores": 2}}
    verdicts = _verdicts({"io": _modes(IO), "cpu": cpu})
    assert verdicts["The GIL makes threads useless for CPU-bound work."] == "not shown"
    assert verdicts["Processes help CPU-bound work."] == "not shown"
    assert verdicts["Threads help I/O-bound work."] == "confirmed"
    evidence = claims({"cpu": cpu})[0]["evidence"]
    assert "load average 7.5 on 2 cores" in evidence
    cpu["machine"]["load_average"] = 2.5  # the bench's own runs: still judged
    assert _verdicts({"cpu": cpu})["Processes help CPU-bound work."] == "confirmed"


def test_memory_claim_from_the_memory_workload():
    def verdict(memory):
        return _verdicts({}, memory=memory)[MEMORY_CLAIM]

    lean = _memory({"threaded": 220.0, "threadpool": 230.0, "async": 60.0, "gevent": 50.0})
    assert verdict(lean) == "confirmed"
    text = claims({}, memory=lean)[0]["evidence"]
    assert "async 60 KB per in-flight request vs threaded 220 KB" in text
    assert verdict(_memory({"threaded": 100.0, "async": 300.0})) == "refuted"
    assert verdict(_memory({"threaded": 100.0, "async": 95.0})) == "not shown"
    # the best thread mode is the one compared: threadpool at 70 KB makes async's 60 a tie
    assert verdict(_memory({"threaded": 220.0, "threadpool": 70.0, "async": 60.0})) == (
        "not shown")
    # fewer requests in flight than asked: the figures cannot tell
    assert verdict(_memory({"threaded": 220.0, "async": 60.0}, in_flight=300)) == "not shown"
    # lean but slow does not scale
    slow = _memory({"threaded": 220.0, "async": 60.0}, rates={"async": 100.0})
    assert verdict(slow) == "refuted"


def test_creation_claims_confirm_and_refute():
    verdicts = _verdicts({}, creation=_creation())
    assert verdicts == {
        "A process pool pays off by saving the cost of starting a process per task.":
            "confirmed",
        "A thread pool pays off by saving the cost of starting a thread per task.":
            "refuted",  # 0.08 ms to start a thread is 0.5% of a 15 ms job
        "Threads use memory more efficiently than processes.": "confirmed",
    }
    cheap = _creation(process_start=0.1, thread_start=3.0, each=(121.0, 20.0),
                      idle=(0.01, 0.02))
    flipped = _verdicts({}, creation=cheap)
    assert flipped["A process pool pays off by saving the cost of starting a process per "
                   "task."] == "refuted"
    assert flipped["A thread pool pays off by saving the cost of starting a thread per "
                   "task."] == "confirmed"
    assert flipped["Threads use memory more efficiently than processes."] == "refuted"
    evidence = claims({}, creation=_creation())[0]["evidence"]
    assert "pool 120.0 ms per task vs a new process per task 260.0 ms" in evidence
    assert "starting one process (spawn) costs 250.00 ms" in evidence


def test_client_share_of_the_gap():
    results = {"modes": {m: {"pages_per_second": {"median": r}}
                         for m, r in {"sync": 1700.0, "threaded": 1000.0, "threadpool": 1100.0,
                                      "async": 2000.0, "multiprocess": 1250.0}.items()},
               "clients": {"requests": {"requests_per_second": 1250.0, "concurrency": 16},
                           "aiohttp": {"requests_per_second": 2500.0, "concurrency": 16}}}
    share = client_share(results)
    assert share is not None
    # threadpool (the faster requests mode) vs async; multiprocess parses elsewhere, sync
    # holds one request at a time
    assert (share["slow_mode"], share["fast_mode"]) == ("threadpool", "async")
    crawl_gap = 1000 / 1100 - 1000 / 2000
    assert share["crawl_gap_ms"] == pytest.approx(crawl_gap)
    assert share["share"] == pytest.approx((1000 / 1250 - 1000 / 2500) / crawl_gap)
    assert "client accounts for 98% of the gap" in share["text"]
    results["clients"]["requests"]["requests_per_second"] = 2600.0
    flipped = client_share(results)["text"]
    assert "bare requests 2600 vs bare aiohttp 2500 requests/s at concurrency 16" in flipped
    assert "bare requests is the faster client, so the client does not explain" in flipped
    del results["clients"]["aiohttp"]
    assert client_share(results) is None


def test_memory_modes_are_every_mode_that_holds_many_requests():
    assert set(memory_modes()) == set(MODES) - set(modes_where("fixed_concurrency"))
    assert "sync" not in memory_modes() and "async" in memory_modes()


def test_slow_spec_spreads_latency_over_its_range():
    spec = SlowSpec(pages=1000, latency_min=2.0, latency_max=5.0)
    delays = [spec.latency(i) for i in range(spec.pages)]
    assert min(delays) == 2.0 and max(delays) == 5.0
    assert delays == [spec.latency(i) for i in range(spec.pages)]


def test_tree_rss_counts_child_processes():
    alone, processes = tree_rss()
    assert processes >= 1 and alone > 10 * 2**20
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"  # started: its memory stays put now
        for _ in range(200):  # until the child has replaced the forked image
            together, with_child = tree_rss()
            if with_child == processes + 1 and together - alone > 4 * 2**20:
                break
            subprocess.run(["true"])
        assert with_child == processes + 1
        assert together - alone > 4 * 2**20  # an interpreter's own memory
        sampler = TreeSampler(interval=0.01)
        sampler.start()
        sampler.stop()
        assert sampler.peak_processes >= processes + 1 and sampler.peak > alone
        # the child's own peak, not this process's: it never held what we hold
        assert sampler.child_peak >= high_water(child.pid) > 4 * 2**20
        assert high_water(child.pid) < high_water(os.getpid())
    finally:
        child.communicate(b"")


@pytest.mark.slow
def test_a_tiny_bench_writes_every_part_of_the_report(tmp_path):
    report = tmp_path / "bench"
    doc = run_bench(quick=True, report_dir=report, tiny=True)
    assert set(doc["workloads"]) == {"overhead"}
    overhead = doc["workloads"]["overhead"]
    assert overhead["facts"] == {m: mode_facts(m) for m in MODES}
    assert set(overhead["clients"]) == {"requests", "aiohttp"}
    assert doc["open_files_limit"]["after"] >= doc["open_files_limit"]["before"]
    memory = doc["memory"]
    assert set(memory["modes"]) == set(memory_modes())
    for mode, summary in memory["modes"].items():
        assert summary["pages_failed"]["median"] == 0, mode
        assert summary["in_flight"]["max"] <= memory["target_in_flight"]
        assert summary["kb_per_in_flight"]["median"] >= 0
    assert doc["creation"]["per_task_ms"]["process_per_task"] > 0
    verdicts = {c["claim"]: c["verdict"] for c in doc["claims"]}
    assert MEMORY_CLAIM in verdicts and len(verdicts) == 4
    assert set(verdicts.values()) <= {"confirmed", "refuted", "not shown"}
    text = (report / "report.md").read_text()
    saved = json.loads((report / "results.json").read_text())
    assert saved["claims"] == doc["claims"]
    for claim in doc["claims"]:
        assert f"| {claim['claim']} | **{claim['verdict']}** | {claim['evidence']} |" in text
    assert "| mode | client | parse in | in flight |" in text
    assert "| async | aiohttp | in-process |" in text
    assert "| gevent | geventhttpclient | worker processes |" in text
    rec = doc["recommendations"]["overhead"]
    assert f"- **overhead**: {rec['recommended']}: {rec['why']}." in text
    if overhead["client_share"]:
        assert "Client share of the gap: " in text
    assert "## creation: a pool vs one per task" in text and "Open files limit" in text
    for chart in ("throughput", "latency", "breakdown"):
        assert (report / f"overhead-{chart}.png").read_bytes()[:4] == b"\x89PNG"
