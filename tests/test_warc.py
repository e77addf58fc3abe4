"""record then replay: the replayed site gives the same records as the live crawl."""

from __future__ import annotations

import json

import pytest

import crawlkit
from crawlkit import UsageError
from crawlkit.lab.warc import ReplayServer, load_warc
from test_cli import assert_usage_error, run_cli

pytestmark = pytest.mark.slow


def _relative(records, base):
    return {
        (r["url"].replace(base, ""), r["title"], r["status"], r["error"],
         r["final_url"].replace(base, ""))
        for r in records
    }


def test_record_then_replay_gives_the_live_records(tmp_path, site_factory):
    site = site_factory(pages=40, links=5, latency=0.01)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    warc = tmp_path / "site.warc.gz"
    out = tmp_path / "live.jsonl"
    proc = run_cli("record", str(seeds), "--follow", "--mode", "threadpool",
                   "--warc", str(warc), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    live = [json.loads(line) for line in out.read_text().splitlines()]
    responses = load_warc(warc)
    answered = [r for r in live if r["status"] is not None]
    # every page with an HTTP response, plus the site's robots.txt
    assert "/robots.txt" in responses
    assert len(responses) == len(answered) + 1 > 80
    assert f"{len(answered) + 1} responses recorded" in proc.stderr
    assert all(r.latency >= 0.01 for r in responses.values())

    with ReplayServer(responses, speed=10.0) as replay:
        replayed = crawlkit.crawl(replay.url + "/", mode="async", follow=True)
        assert replay.requests == len(replayed) + 1
    assert _relative(replayed, replay.url) == _relative(live, site.url)


def test_replay_scales_latency_and_answers_404_for_unknown_paths(tmp_path, site_factory):
    site = site_factory(pages=3, links=2)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{site.url}/page/1\n")
    warc = tmp_path / "one.warc.gz"
    assert run_cli("record", str(seeds), "--warc", str(warc), "--quiet").returncode == 0
    with ReplayServer(load_warc(warc)) as replay:
        records = crawlkit.crawl([replay.url + "/page/1", replay.url + "/page/2"], mode="sync")
    by_url = {r["url"].replace(replay.url, ""): r for r in records}
    assert by_url["/page/1"]["title"] == "Demo page 1 \u2014 crawlkit"
    assert by_url["/page/2"]["error"] == "http 404"
    with pytest.raises(UsageError):
        ReplayServer(load_warc(warc), speed=0)


def test_bad_warc_input(tmp_path):
    bogus = tmp_path / "bogus.warc.gz"
    bogus.write_bytes(b"not a warc")
    with pytest.raises(UsageError):
        load_warc(bogus)
    assert_usage_error(run_cli("replay", str(tmp_path / "absent.warc.gz")), "no such WARC")
    seeds = tmp_path / "s.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    assert_usage_error(run_cli("record", str(seeds), "--warc", str(tmp_path / "x.warc.gz"),
                               "--mode", "gevent"), "record runs the spider")
