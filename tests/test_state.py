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

from crawlkit import MODES
from crawlkit.urls import canonicalize
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
    # records keep URLs as sent; which spelling of a page came first may vary, its
    # canonical form does not
    return {(canonicalize(r["url"]), r["title"], r["status"], r["error"]) for r in records}


def _urls(records: list[dict]) -> list[str]:
    return [canonicalize(r["url"]) for r in records]


@pytest.fixture
def crawl_setup(tmp_path, site_factory):
    site = site_factory(pages=120, links=5, latency=0.01)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    clean = tmp_path / "clean.jsonl"
    proc = run_cli("crawl", str(seeds), "--follow", "--out", str(clean), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return seeds, _records(clean)


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_at_several_points_then_resume(mode, tmp_path, crawl_setup):
    seeds, clean = crawl_setup
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(seeds), "--follow", "--mode", mode, "--concurrency", "8",
            "--state", str(state), "--out", str(out), "--quiet")
    # Kill a few lines further on each time, until at least three kills have landed
    # and one of them fell between an output write and its commit (where the file
    # holds records the journal does not); that window is narrow in the slow modes,
    # so a run may need several kills to hit it.
    kills, uncommitted_at_a_kill, lines = 0, False, 0
    for attempt in range(15):
        proc = _start(*args)
        killed = _wait_for_lines(out, lines + (3 if attempt == 0 else 8), proc)
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        if not killed:
            break  # the crawl finished before the kill point
        kills += 1
        with sqlite3.connect(state) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'out_offset'").fetchone()
        committed = int(row[0]) if row else 0
        uncommitted_at_a_kill |= out.stat().st_size > committed
        lines = out.read_bytes()[:committed].count(b"\n")
        if kills >= 3 and uncommitted_at_a_kill:
            break
    assert kills >= 3, f"the crawl finished after {kills} kills"
    final = run_cli(*args)
    assert final.returncode == 0, final.stderr
    records = _records(out)  # every line is whole JSON
    urls = _urls(records)
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
    assert len(records) == len(set(_urls(records)))
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
    # the first schema (no origin), and the one that kept URLs only (no whole requests)
    for n, origin in enumerate(("", "origin TEXT NOT NULL, ")):
        old = tmp_path / f"old{n}.db"
        with sqlite3.connect(old) as db:
            db.execute("CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                       f"url TEXT NOT NULL UNIQUE, {origin}depth INTEGER NOT NULL, "
                       "hops TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)")
        assert_usage_error(run_cli("crawl", str(seeds), "--state", str(old), "--out", str(out)),
                           "older crawlkit")


# --- the library: crawlkit.crawl(..., state=, out=) -------------------------------------

_SCRIPT = """
import sys
import crawlkit

crawlkit.crawl(sys.argv[1], "async", state=sys.argv[2], out=sys.argv[3], follow=True,
               concurrency=8)
"""


def test_library_crawl_killed_and_run_again_writes_each_record_once(tmp_path, crawl_setup):
    seeds, clean = crawl_setup
    script = tmp_path / "crawl_script.py"
    script.write_text(_SCRIPT)
    seed = seeds.read_text().strip()
    state, out = tmp_path / "lib.db", tmp_path / "lib.jsonl"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    argv = [sys.executable, str(script), seed, str(state), str(out)]
    for kill_at in (5, 60):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if _wait_for_lines(out, kill_at, proc):  # type: ignore[arg-type]
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    final = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    records = _records(out)
    assert len(records) == len(set(_urls(records))), "a record was written twice"
    assert _key(records) == _key(clean)


# --- defects of durable output ------------------------------------------------------------


@pytest.fixture
def slow_seeds(tmp_path, site_factory):
    site = site_factory(pages=200, links=4, latency=0.05)
    seeds = tmp_path / "slow.txt"
    seeds.write_text(site.url + "/\n")
    return seeds


def test_a_state_file_in_use_is_refused_naming_its_process(tmp_path, slow_seeds):
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    first = _start("crawl", str(slow_seeds), "--follow", "--concurrency", "2",
                   "--state", str(state), "--out", str(out), "--quiet")
    try:
        assert _wait_for_lines(out, 3, first)
        second = run_cli("crawl", str(slow_seeds), "--follow", "--state", str(state),
                         "--out", str(tmp_path / "other.jsonl"), "--quiet")
        assert_usage_error(second, f"in use by process {first.pid}")
        assert not (tmp_path / "other.jsonl").exists()
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130


@pytest.fixture
def committed(tmp_path, slow_seeds):
    """A crawl stopped part-way: its state file and its output."""
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(slow_seeds), "--follow", "--state", str(state), "--out", str(out))
    proc = run_cli(*args, "--max-pages", "6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(_records(out)) == 6
    return args, state, out


def _refused(args: tuple[str, ...], fragment: str, *untouched: Path) -> None:
    before = {p: p.read_bytes() for p in untouched}
    assert_usage_error(run_cli(*args), fragment)
    assert {p: p.read_bytes() for p in untouched} == before


def test_resume_refuses_an_output_that_is_not_the_crawls(tmp_path, committed):
    args, state, out = committed
    base = args[:-2]
    other = tmp_path / "other.jsonl"
    other.write_bytes(out.read_bytes() + b'{"url": "mine"}\n')
    _refused((*base, "--out", str(other)), "not this crawl's output", other, out, state)
    _refused((*base, "--out", str(state)), "is the state file", state)
    original = out.read_bytes()
    out.rename(tmp_path / "moved.jsonl")  # another file at the same path
    out.write_bytes(original + b'{"url": "mine"}\n')
    _refused(args, "replaced", out, state)
    out.unlink()
    (tmp_path / "moved.jsonl").rename(out)
    with open(out, "r+b") as fh:  # the same file, changed before the committed offset
        fh.write(b"[")
    _refused(args, "changed since", out, state)
    with open(out, "r+b") as fh:
        fh.write(original[:1])
        fh.truncate(len(original) // 2)
    _refused(args, "shorter", out, state)


def test_a_read_only_state_file_is_refused_before_anything_changes(committed):
    args, state, out = committed
    state.chmod(0o444)
    _refused(args, "read-only", state, out)


def test_a_database_of_another_program_is_refused_not_adopted(tmp_path, slow_seeds):
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('ada')")
    db.close()
    _refused(("crawl", str(slow_seeds), "--state", str(foreign), "--out",
              str(tmp_path / "x.jsonl")), "another program", foreign)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_fresh_state_with_an_unwritable_out_leaves_no_state_file(tmp_path, slow_seeds):
    fresh = tmp_path / "fresh.db"
    _refused(("crawl", str(slow_seeds), "--state", str(fresh), "--out",
              str(tmp_path / "no" / "such" / "out.jsonl")), "cannot write --out")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("fresh")) == []


def test_sigterm_stops_like_the_first_ctrl_c(tmp_path, slow_seeds):
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(slow_seeds), "--follow", "--concurrency", "4", "--state", str(state),
            "--out", str(out))
    proc = _start(*args)
    assert _wait_for_lines(out, 10, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "stopping after the pages in flight" in err
    assert "run the same command to resume" in err
    assert "crawlkit [async]" in err and "Traceback" not in err
    assert _records(out)  # every line whole
    with sqlite3.connect(state) as db:
        committed = int(db.execute("SELECT value FROM meta WHERE key = 'out_offset'")
                        .fetchone()[0])
    db.close()
    assert committed == out.stat().st_size  # everything written was committed


def test_resume_reports_this_runs_rate_and_a_finished_crawl_says_so(tmp_path, slow_seeds):
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    args = ("crawl", str(slow_seeds), "--follow", "--concurrency", "4", "--state", str(state),
            "--out", str(out))
    proc = _start(*args)
    assert _wait_for_lines(out, 10, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    done = len(_records(out))
    with sqlite3.connect(state) as db:
        queued = db.execute("SELECT COUNT(*) FROM requests WHERE done = 0").fetchone()[0]
    db.close()
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"crawlkit: resuming: {done} done, {queued} queued" in resumed.stderr
    total = len(_records(out))
    summary = resumed.stderr.strip().splitlines()[-1]
    assert f"this run {total - done} pages in " in summary
    assert "crawl total " in summary and f"failed, {total} items" in summary
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stderr
    assert len(_records(out)) == total
