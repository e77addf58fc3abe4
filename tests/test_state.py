"""Durable crawls: kill -9 or Ctrl-C at any moment, run again, get the clean output once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import HERE, assert_usage_error, run_cli

pytestmark = pytest.mark.slow


def _start(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-m", "crawlkit", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError(f"{path} never reached {count} lines")


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _key(records: list[dict]) -> set[tuple]:
    return {(r["url"], r["title"], r["status"], r["error"]) for r in records}


@pytest.fixture
def crawl_setup(tmp_path, site_factory):
    site = site_factory(pages=120, links=5, latency=0.01)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    clean = tmp_path / "clean.jsonl"
    proc = run_cli("crawl", str(seeds), "--follow", "--out", str(clean), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return seeds, _records(clean)


@pytest.mark.parametrize("mode", ["async", "threaded", "multiprocess", "gevent"])
def test_kill_9_at_several_points_then_resume(mode, tmp_path, crawl_setup):
    seeds, clean = crawl_setup
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(seeds), "--follow", "--mode", mode, "--concurrency", "8",
            "--state", str(state), "--out", str(out), "--quiet")
    uncommitted_at_a_kill = False
    for kill_at in (3, 70, 180):
        proc = _start(*args)
        if _wait_for_lines(out, kill_at, proc):
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        with sqlite3.connect(state) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'out_offset'").fetchone()
        committed = int(row[0]) if row else 0
        uncommitted_at_a_kill |= out.stat().st_size > committed
    final = run_cli(*args)
    assert final.returncode == 0, final.stderr
    records = _records(out)  # every line is whole JSON
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a record was written twice"
    assert _key(records) == _key(clean)
    assert uncommitted_at_a_kill, "no kill landed between an output write and its commit"
    # running the finished crawl again fetches nothing and writes nothing more
    again = run_cli(*args)
    assert again.returncode == 0 and _records(out) == records


def test_first_ctrl_c_finishes_in_flight_and_resumes(tmp_path, crawl_setup):
    seeds, clean = crawl_setup
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(seeds), "--follow", "--mode", "async", "--state", str(state),
            "--out", str(out))
    proc = _start(*args)
    assert _wait_for_lines(out, 20, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopping after the pages in flight" in err
    assert "run the same command to resume" in err
    partial = _records(out)
    assert 20 <= len(partial) < len(clean)
    proc = _start(*args)  # second run: two Ctrl-C quit at once, still resumable
    assert _wait_for_lines(out, len(partial) + 5, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    final = run_cli(*args)
    assert final.returncode == 0, final.stderr
    records = _records(out)
    assert len(records) == len({r["url"] for r in records})
    assert _key(records) == _key(clean)


def test_state_usage_errors(tmp_path, crawl_setup):
    seeds, _ = crawl_setup
    state = tmp_path / "s.db"
    assert_usage_error(run_cli("crawl", str(seeds), "--state", str(state)), "needs --out")
    out = tmp_path / "o.jsonl"
    assert run_cli("crawl", str(seeds), "--state", str(state), "--out", str(out),
                   "--max-pages", "3", "--quiet").returncode == 0
    assert_usage_error(run_cli("crawl", str(seeds), "--follow", "--state", str(state),
                               "--out", str(out)), "belongs to another crawl")
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # the first schema: no origin column
        db.execute("CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                   "url TEXT NOT NULL UNIQUE, depth INTEGER NOT NULL, hops TEXT NOT NULL, "
                   "done INTEGER NOT NULL DEFAULT 0)")
    assert_usage_error(run_cli("crawl", str(seeds), "--state", str(old), "--out", str(out)),
                       "older crawlkit")
