"""Run every script in examples/ small (--pages 12) and check what it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAGES = 12

# example file -> lines its output must contain (each checked as a whole line)
EXPECTED: dict[str, list[str]] = {
    "threadpool_callbacks.py": [f"pages: {PAGES}", "titles ok: True", "errors: 0"],
    "threadpool_map_vs_as_completed.py": [
        f"pages: {PAGES}",
        "map order is submission order: True",
        "same pages in both: True",
        "orders differ: True",
    ],
    "threadpool_wait.py": [f"pages: {PAGES}", "titles ok: True"],
    "thread_subclass_lock.py": [
        f"pages: {PAGES}",
        "counter matches: True",
        "fetch errors: 0, bad titles: 0",
    ],
    "process_pool_parse.py": [
        f"fetched: {PAGES}",
        f"ProcessPoolExecutor parsed: {PAGES}",
        f"Pool.apply_async parsed: {PAGES}",
        "results equal: True",
    ],
    "asyncio_aiohttp.py": [f"pages: {PAGES}", "titles ok: True"],
    "gevent_pool.py": [f"pages: {PAGES}", "titles ok: True"],
    "docs_headings_spider.py": [f"pages: {PAGES}"],
    "paginated_listing_spider.py": [f"pages: {PAGES}", "listing pages in order: True"],
}


def run_example(name: str, *extra: str) -> str:
    path = EXAMPLES / name
    proc = subprocess.run(
        [sys.executable, str(path), "--pages", str(PAGES), *extra],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stderr}"
    return proc.stdout


def test_every_example_is_covered() -> None:
    # the shop examples run in every mode in test_shop_examples.py
    scripts = [p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("shop_")]
    assert sorted(scripts) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    lines = run_example(name).splitlines()
    for expected in EXPECTED[name]:
        assert expected in lines, f"{name}: no line {expected!r} in output:\n" + "\n".join(lines)


def test_map_and_as_completed_orders_printed() -> None:
    out = run_example("threadpool_map_vs_as_completed.py")
    map_line = re.search(r"^map order \(first 10\): +(\[.*\])$", out, re.M)
    done_line = re.search(r"^as_completed order \(first 10\): +(\[.*\])$", out, re.M)
    assert map_line is not None and done_line is not None, out
    assert map_line.group(1) == str(list(range(10)))


def test_headings_spider_counts_headings() -> None:
    out = run_example("docs_headings_spider.py", "--mode", "threadpool")
    match = re.search(r"^headings: (\d+)$", out, re.M)
    assert match is not None, out
    assert int(match.group(1)) >= PAGES  # every demo page has at least one <h2>
    assert f"crawlkit [threadpool]: {PAGES} ok, 0 failed, {PAGES} items" in out


def test_listing_spider_in_sync_mode() -> None:
    out = run_example("paginated_listing_spider.py", "--mode", "sync")
    assert f"pages: {PAGES}" in out.splitlines()
    assert f"crawlkit [sync]: {PAGES} ok, 0 failed" in out
