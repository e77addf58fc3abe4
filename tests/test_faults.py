"""A full disk or a failing device under the output or the state file: one line, then resume."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import crawlkit
from test_cli import run_cli
from test_state import _key, _records

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount tmpfs file systems of a given size under ``tmp_path`` (root only).

    ``make("256k")`` returns the mount point; ``grow(path)`` frees space by
    raising its size to 16 MiB. Everything is unmounted after the test.
    """
    mounted: list[Path] = []

    def make(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); needs root")
        mounted.append(where)
        return where

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _grow(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=16m", str(where)], check=True)


@pytest.fixture
def crawl_site(tmp_path, site_factory):
    site = site_factory(pages=150, links=5)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    clean = tmp_path / "clean.jsonl"
    proc = run_cli("crawl", str(seeds), "--follow", "--out", str(clean), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return seeds, _records(clean)


def _assert_one_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("crawlkit: error: cannot write")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _committed(state: Path, out: Path) -> tuple[int, int]:
    """Records in the committed part of ``out``, and pages the journal marks done."""
    with sqlite3.connect(state) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'out_offset'").fetchone()
        done = db.execute("SELECT COUNT(*) FROM requests WHERE done = 1").fetchone()[0]
    offset = int(row[0]) if row else 0
    return out.read_bytes()[:offset].count(b"\n"), int(done)


def _assert_exactly_once(out: Path, clean: list[dict]) -> None:
    records = _records(out)
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a record was written twice"
    assert _key(records) == _key(clean)


@pytest.mark.parametrize("mode", ["async", "threaded"])
def test_a_full_disk_under_the_output_stops_with_one_line_and_resumes(
        mode, tmp_path, small_disk, crawl_site):
    seeds, clean = crawl_site
    disk = small_disk("16k")
    out, state = disk / "out.jsonl", tmp_path / "crawl.db"
    args = ("crawl", str(seeds), "--follow", "--mode", mode, "--state", str(state),
            "--out", str(out), "--quiet")
    full = run_cli(*args)
    _assert_one_line(full, repr(str(out)), "[Errno 28] No space left on device")
    lines, done = _committed(state, out)
    assert lines == done, "the journal and the committed output disagree"
    assert done < len(clean)
    _grow(disk)
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    _assert_exactly_once(out, clean)


@pytest.mark.parametrize("mode", ["async", "threaded"])
def test_a_full_disk_under_the_state_file_stops_with_one_line_and_resumes(
        mode, tmp_path, small_disk, crawl_site):
    seeds, clean = crawl_site
    disk = small_disk("192k")
    out, state = tmp_path / "out.jsonl", disk / "crawl.db"
    args = ("crawl", str(seeds), "--follow", "--mode", mode, "--state", str(state),
            "--out", str(out), "--quiet")
    full = run_cli(*args)
    _assert_one_line(full, repr(str(state)), "No space left on device")
    assert "no transaction is active" not in full.stderr
    _grow(disk)  # room for SQLite to read its WAL back
    lines, done = _committed(state, out)
    assert lines == done, "the journal and the committed output disagree"
    assert done < len(clean)
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    _assert_exactly_once(out, clean)


def test_an_output_that_cannot_be_written_is_one_line(tmp_path, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    proc = run_cli("crawl", str(seeds), "--follow", "--out", "/dev/full", "--quiet")
    _assert_one_line(proc, "'/dev/full'", "[Errno 28] No space left on device")


def test_the_library_raises_a_storage_error(demo_site):
    with pytest.raises(crawlkit.StorageError,
                       match=r"cannot write --out '/dev/full': \[Errno 28\] No space") as caught:
        crawlkit.crawl(demo_site.url + "/", follow=True, out="/dev/full")
    assert isinstance(caught.value, OSError)
