"""Run every script in examples/ small (--pages 12) and check what it prints.

The tutorial examples print one table (their pattern against a sequential
baseline) and then facts about the run; the checks below read both. Timings are
printed, never asserted on.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAGES = 12
SMALL = ("--pages", str(PAGES), "--latency", "0.02", "--workers", "4")

# tutorial example -> lines its output must contain (each checked as a whole line)
TUTORIAL: dict[str, list[str]] = {
    "threads_queue_workers.py": [
        "threads alive after join (target): 0",
        "threads alive after join (subclass): 0",
    ],
    "threads_lock_race.py": [f"with the lock: pages counted: {PAGES} of {PAGES}"],
    "threads_rlock.py": [f"new pages among them: {PAGES}"],
    "threads_condition_frontier.py": [],
    "threads_semaphore.py": [],
    "threads_event_stop.py": ["found by the threads: Demo page 9 \u2014 crawlkit"],
    "threadpool_callbacks.py": [
        f"callbacks with a result: {PAGES}",
        "callbacks with an exception: HTTPError",
    ],
    "threadpool_map_vs_as_completed.py": [
        "map order (first 10): [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        "map order is page order: True",
    ],
    "threadpool_wait.py": ["wait(ALL_COMPLETED) left not done: 0"],
    "process_function_subclass.py": [
        "exit codes (target): [0]",
        "exit codes (subclass): [0]",
        "hung process: alive, then exitcode after terminate(): True, -15",
    ],
    "process_manager_seen.py": [],
    "process_pipe_parse.py": [f"pages sent through the Pipe: {PAGES}", "parse worker exitcode: 0"],
    "process_shared_state.py": [
        f"Value with its lock: pages counted: {PAGES} of {PAGES}",
        "Event set when the pages ran out: True",
    ],
    "process_pool_apply.py": [
        f"callback results: {PAGES}",
        "error_callback: ['HTTPError: 404 Client Error: Not Found']",
        "AsyncResult.successful() False: 1",
    ],
    "process_pool_map.py": [
        f"{how} order (first 10): [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
        for how in ("map", "map_async", "imap")
    ],
    "process_pool_vs_per_task.py": [],
    "process_pool_parse.py": [f"parsed in processes, reported by callback: {PAGES}"],
    "asyncio_aiohttp.py": ["gather kept page order: True"],
    "gevent_pool.py": ["socket patched by gevent: True"],
    "crawlkit_strategies.py": [],
}

# the spider examples -> lines their output must contain
SPIDERS: dict[str, list[str]] = {
    "docs_headings_spider.py": [f"pages: {PAGES}"],
    "paginated_listing_spider.py": [f"pages: {PAGES}", "listing pages in order: True"],
}

HELPERS = {"_tutorial.py", "run_all.py"}  # shared by the examples, not examples


def run_example(name: str, *extra: str) -> str:
    path = EXAMPLES / name
    proc = subprocess.run(
        [sys.executable, str(path), *extra],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stderr}"
    return proc.stdout


@dataclass(frozen=True)
class Row:
    label: str
    pages: int


ROW = re.compile(r"^(?P<label>.+?) +(?P<pages>\d+) +[\d.]+ +[\d.]+ +[\d.]+x +[\d.]+ +[\d.]+$")


def table_rows(out: str) -> list[Row]:
    """The rows of the table an example printed (the first is the baseline)."""
    lines = out.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("pattern "))
    rows = []
    for line in lines[header + 1:]:
        match = ROW.match(line)
        if match is None:
            break
        rows.append(Row(match["label"], int(match["pages"])))
    return rows


def counted(out: str, name: str) -> tuple[int, int]:
    """``X of Y`` printed after ``name: ``."""
    match = re.search(rf"^{re.escape(name)}: (\d+) of (\d+)$", out, re.M)
    assert match is not None, out
    return int(match[1]), int(match[2])


def test_every_example_is_covered() -> None:
    # the shop examples run in every mode in test_shop_examples.py
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("shop_")}
    assert sorted(scripts - HELPERS) == sorted({*TUTORIAL, *SPIDERS})


def test_run_all_lists_every_tutorial_example() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from run_all import SECTIONS
    finally:
        sys.path.remove(str(EXAMPLES))
    listed = [name for _, names in SECTIONS for name in names]
    assert sorted(listed) == sorted(TUTORIAL)


@pytest.mark.parametrize("name", sorted(TUTORIAL))
def test_tutorial_example(name: str) -> None:
    out = run_example(name, *SMALL)
    lines = out.splitlines()
    rows = table_rows(out)
    assert len(rows) >= 2, out  # the baseline and at least one pattern
    if name != "threads_event_stop.py":  # that one stops early: see its own test
        assert [row.pages for row in rows] == [PAGES] * len(rows), out
    same = [line for line in lines if line.startswith("same pages as baseline [")]
    assert len(same) == len(rows) - 1, out
    assert all(line.endswith("]: True") for line in same), out
    for expected in TUTORIAL[name]:
        assert expected in lines, f"{name}: no line {expected!r} in output:\n{out}"


def test_race_never_counts_more_than_happened() -> None:
    out = run_example("threads_lock_race.py", *SMALL)
    locked_bytes, true_bytes = counted(out, "with the lock: bytes counted")
    assert locked_bytes == true_bytes > 0
    unlocked_pages, pages = counted(out, "without the lock: pages counted")
    unlocked_bytes, true_unlocked = counted(out, "without the lock: bytes counted")
    assert pages == PAGES
    assert unlocked_pages <= pages  # lost updates make it less, never more
    assert unlocked_bytes <= true_unlocked


def test_condition_frontier_stays_bounded() -> None:
    out = run_example("threads_condition_frontier.py", *SMALL, "--capacity", "3")
    match = re.search(r"^frontier peak: (\d+) \(capacity 3\)$", out, re.M)
    assert match is not None, out
    assert 1 <= int(match[1]) <= 3


def test_semaphore_bounds_requests_in_flight() -> None:
    out = run_example("threads_semaphore.py", *SMALL)
    match = re.search(r"^most requests in flight, Semaphore\(4\): (\d+)$", out, re.M)
    assert match is not None, out
    assert 1 <= int(match[1]) <= 4


def test_event_stops_the_threads_early() -> None:
    out = run_example("threads_event_stop.py", *SMALL, "--find", "5")
    baseline, threads = table_rows(out)
    assert baseline.pages == 6  # pages 0..5, then the loop breaks
    assert threads.pages >= 6  # and a few more: those in flight when it was found
    assert "found by the threads: Demo page 5 \u2014 crawlkit" in out.splitlines()


def test_shared_semaphore_bounds_fetches_across_processes() -> None:
    out = run_example("process_shared_state.py", *SMALL, "--in-flight", "2")
    match = re.search(r"^most fetches in flight: (\d+) \(Semaphore of 2\)$", out, re.M)
    assert match is not None, out
    assert 1 <= int(match[1]) <= 2
    unlocked, pages = counted(out, "Value without its lock: pages counted")
    assert unlocked <= pages == PAGES


def test_asyncio_semaphore_bounds_requests_in_flight() -> None:
    out = run_example("asyncio_aiohttp.py", *SMALL)
    match = re.search(r"^most requests in flight: (\d+) \(Semaphore of 4\)$", out, re.M)
    assert match is not None, out
    assert 1 <= int(match[1]) <= 4


def test_manager_dict_is_asked_and_costs_more_than_a_set() -> None:
    out = run_example("process_manager_seen.py", *SMALL)
    trips = re.search(r"^round trips to the Manager dict during the crawl: (\d+)$", out, re.M)
    assert trips is not None, out
    assert int(trips[1]) >= PAGES - 1  # every page but the first was claimed in the dict


def test_crawlkit_runs_every_strategy() -> None:
    import crawlkit

    out = run_example("crawlkit_strategies.py", *SMALL)
    labels = [row.label for row in table_rows(out)]
    assert [label.split()[1].rstrip(",") for label in labels] == ["sync"] + [
        mode for mode in crawlkit.MODES if mode != "sync"
    ]


@pytest.mark.parametrize("name", sorted(SPIDERS))
def test_spider_example_runs(name: str) -> None:
    lines = run_example(name, "--pages", str(PAGES)).splitlines()
    for expected in SPIDERS[name]:
        assert expected in lines, f"{name}: no line {expected!r} in output:\n" + "\n".join(lines)


def test_headings_spider_counts_headings() -> None:
    out = run_example("docs_headings_spider.py", "--pages", str(PAGES), "--mode", "threadpool")
    match = re.search(r"^headings: (\d+)$", out, re.M)
    assert match is not None, out
    assert int(match.group(1)) >= PAGES  # every demo page has at least one <h2>
    assert f"crawlkit [threadpool]: {PAGES} ok, 0 failed, {PAGES} items" in out


def test_listing_spider_in_sync_mode() -> None:
    out = run_example("paginated_listing_spider.py", "--pages", str(PAGES), "--mode", "sync")
    assert f"pages: {PAGES}" in out.splitlines()
    assert f"crawlkit [sync]: {PAGES} ok, 0 failed" in out
