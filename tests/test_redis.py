"""Many workers, one Redis frontier: shared queue, seen set, limits; a dead worker loses nothing."""

from __future__ import annotations

import json
import signal
import time

import pytest

from crawlkit import MODES
from crawlkit.lab.demo import SiteSpec, reachable_urls
from crawlkit.urls import canonicalize
from test_cli import assert_usage_error, run_cli
from test_state import _records, _start, _wait_for_lines

pytestmark = pytest.mark.slow


@pytest.fixture
def site_and_clean(tmp_path, site_factory):
    site = site_factory(pages=100, links=5, latency=0.01)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    clean = tmp_path / "clean.jsonl"
    assert run_cli("crawl", str(seeds), "--follow", "--out", str(clean), "--quiet").returncode == 0
    return site, seeds, {canonicalize(r["url"]) for r in _records(clean)}


def _status(redis_url, job):
    proc = run_cli("job", job, "--frontier", redis_url, "--status")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_worker_of_each_mode_shares_one_crawl(redis_url, tmp_path, site_factory):
    # each worker keeps 4 requests in flight on a 100 ms site: one alone would need
    # about 5 s, so every worker has started while work is left
    spec = SiteSpec(pages=100, links=5, latency=0.1)
    site = site_factory(**vars(spec))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    clean = reachable_urls(spec, site.url)
    job = "share"
    modes = MODES  # every strategy can be a worker of a shared crawl
    outs = [tmp_path / f"w{i}.jsonl" for i in range(len(modes))]
    procs = [_start("crawl", str(seeds), "--follow", "--mode", mode, "--frontier", redis_url,
                    "--job", job, "--out", str(out), "--quiet", "--concurrency", "4",
                    "--per-host", "64")
             for mode, out in zip(modes, outs, strict=True)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = [r for out in outs for r in _records(out)]
    urls = [canonicalize(r["url"]) for r in records]
    assert len(urls) == len(set(urls)), "two workers fetched the same page"
    assert set(urls) == clean
    assert sum(1 for out in outs if _records(out)) >= 2, "the work was not shared"
    status = _status(redis_url, job)
    assert status["queued"] == 0 and status["leased"] == 0
    assert status["seen"] == len(clean)
    assert status["stats"]["ok"] + status["stats"]["failed"] == len(clean)
    # the job stays until it is deleted
    assert run_cli("job", job, "--frontier", redis_url, "--delete").returncode == 0
    assert_usage_error(run_cli("job", job, "--frontier", redis_url, "--status"), "no job")


def test_workers_share_a_per_host_limit_fairly(redis_url, tmp_path, site_factory):
    # one origin, 4 slots across both workers, each able to use them all: without a
    # fair share the worker that acknowledges and asks again first takes everything
    spec = SiteSpec(pages=160, links=5, latency=0.1)
    site = site_factory(**vars(spec))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    outs = [tmp_path / f"w{i}.jsonl" for i in range(2)]
    procs = [_start("crawl", str(seeds), "--follow", "--mode", "async", "--frontier", redis_url,
                    "--job", "fair", "--out", str(out), "--quiet", "--concurrency", "16",
                    "--per-host", "4")
             for out in outs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    per_worker = [[canonicalize(r["url"]) for r in _records(out)] for out in outs]
    urls = [url for worker in per_worker for url in worker]
    clean = reachable_urls(spec, site.url)
    assert len(urls) == len(set(urls)) and set(urls) == clean  # no lease expired
    # 4 slots of 100 ms: about 5 s of work; the second worker starts well before the end
    counts = [len(worker) for worker in per_worker]
    assert min(counts) >= len(clean) // 4, counts


def test_a_killed_worker_loses_nothing(redis_url, tmp_path, site_and_clean):
    site, seeds, clean = site_and_clean
    job = "kill"
    common = ("crawl", str(seeds), "--follow", "--frontier", redis_url, "--job", job,
              "--lease", "2", "--timeout", "1", "--quiet", "--concurrency", "8")
    victim_out, survivor_out = tmp_path / "victim.jsonl", tmp_path / "survivor.jsonl"
    victim = _start(*common, "--mode", "threaded", "--out", str(victim_out))
    assert _wait_for_lines(victim_out, 15, victim)
    survivor = _start(*common, "--mode", "async", "--out", str(survivor_out))
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    records = _records(victim_out) + _records(survivor_out)
    urls = {canonicalize(r["url"]) for r in records}
    assert urls == clean, "a page accepted by the job was never recorded"
    duplicates = len(records) - len(urls)
    assert duplicates <= 8  # at most what the dead worker had in flight
    status = _status(redis_url, job)
    assert status["queued"] == 0 and status["leased"] == 0
    assert status["stats"].get("reclaimed", 0) >= 1


def test_shared_max_pages(redis_url, tmp_path, site_and_clean):
    site, seeds, _ = site_and_clean
    outs = [tmp_path / f"m{i}.jsonl" for i in range(2)]
    procs = [_start("crawl", str(seeds), "--follow", "--frontier", redis_url, "--job", "limit",
                    "--max-pages", "30", "--out", str(out), "--quiet") for out in outs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sum(len(_records(out)) for out in outs) == 30


def test_frontier_usage_errors(redis_url, tmp_path, site_and_clean):
    _, seeds, _ = site_and_clean
    out = str(tmp_path / "o.jsonl")
    assert_usage_error(run_cli("crawl", str(seeds), "--frontier", redis_url, "--out", out),
                       "needs --job")
    assert_usage_error(run_cli("crawl", str(seeds), "--job", "x", "--out", out), "needs --frontier")
    assert_usage_error(run_cli("crawl", str(seeds), "--frontier", "redis://127.0.0.1:9/0",
                               "--job", "x"), "cannot reach Redis")
