"""The command line, run as users run it: ``python -m crawlkit`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawlkit import MODES

HERE = Path(__file__).parent


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "crawlkit", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
    )


def assert_usage_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("crawlkit: error:")
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.fixture
def urls_file(tmp_path, demo_site):
    path = tmp_path / "urls.txt"
    path.write_text(
        f"# demo\n\n{demo_site.url}/page/1\nnot a url\n{demo_site.url}/page/2\n"
        f"{demo_site.url}/missing/7\n",
        encoding="utf-8",
    )
    return path


def test_crawl_prints_json_lines_and_a_summary(urls_file, demo_site):
    proc = run_cli("crawl", str(urls_file), "--mode", "sync")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["url"] for r in records} == {
        f"{demo_site.url}/page/1", f"{demo_site.url}/page/2", f"{demo_site.url}/missing/7"
    }
    for record in records:
        assert set(record) >= {"url", "final_url", "status", "title", "depth", "error"}
    missing = next(r for r in records if "missing" in r["url"])
    assert missing["error"] == "http 404" and missing["status"] == 404
    assert f"{urls_file}: line 4: not an http(s) URL, skipped: not a url" in proc.stderr
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith("crawlkit [sync]: 2 ok, 1 failed")
    assert "pages/s" in summary


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_gives_the_same_records_from_the_cli(mode, tmp_path, demo_site):
    seeds = tmp_path / "seed.txt"
    seeds.write_text(demo_site.url + "/\n")
    out = tmp_path / f"{mode}.jsonl"
    proc = run_cli("crawl", str(seeds), "--mode", mode, "--follow", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    pairs = {(r["url"], r["title"]) for r in records}
    assert len(pairs) == len(records) > 500
    baseline = tmp_path.parent / "cli-baseline.json"
    if mode == MODES[0]:
        baseline.write_text(json.dumps(sorted(map(list, pairs))))
    else:
        assert pairs == {tuple(p) for p in json.loads(baseline.read_text())}


def test_user_spider_from_the_cli(urls_file, demo_site):
    proc = run_cli("crawl", str(urls_file), "--mode", "threaded",
                   "--spider", "sample_spiders:HeadingSpider", "--max-pages", "2")
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(items) == 2
    assert all(item["h1"].startswith("Page ") for item in items)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["crawl", "/no/such/file.txt"], "no such file"),
        (["crawl", "URLS", "--mode", "fibers"], "invalid choice: 'fibers'"),
        (["crawl", "URLS", "--concurrency", "0"], "must be at least 1"),
        (["crawl", "URLS", "--concurrency", "many"], "expected a whole number"),
        (["crawl", "URLS", "--max-depth", "-1"], "must be 0 or more"),
        (["crawl", "URLS", "--allow", "("], "invalid --allow regex"),
        (["crawl", "URLS", "--spider", "nosuchmodule_xyz:Spider"], "cannot import spider"),
        (["crawl", "URLS", "--spider", "nocolon"], "module:Name"),
        (["crawl", "URLS", "--out", "/no/such/dir/out.jsonl"], "cannot write --out"),
        (["crawl"], "URLS_FILE"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, fragment, tmp_path):
    clean = tmp_path / "clean.txt"
    clean.write_text("http://127.0.0.1:9/\n")
    args = [str(clean) if a == "URLS" else a for a in args]
    assert_usage_error(run_cli(*args), fragment)


def test_file_without_valid_urls(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# nothing\nnot a url\n\n")
    proc = run_cli("crawl", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].endswith("line 2: not an http(s) URL, skipped: not a url")
    assert lines[1].startswith("crawlkit: error: no valid http(s) URL in")
    assert len(lines) == 2 and "Traceback" not in proc.stderr


def test_unreadable_and_directory_files(tmp_path):
    assert_usage_error(run_cli("crawl", str(tmp_path)), "is a directory")


def test_failed_pages_still_exit_0(tmp_path):
    from servers import closed_port

    path = tmp_path / "dead.txt"
    path.write_text(f"http://127.0.0.1:{closed_port()}/\n")
    proc = run_cli("crawl", str(path), "--mode", "async", "--retries", "0")
    assert proc.returncode == 0
    # RFC 9309: an unreachable robots.txt means nothing may be fetched, and the record says why
    assert json.loads(proc.stdout)["error"] == (
        "blocked by robots.txt (unreachable: connection refused)")
    assert "0 ok, 1 failed" in proc.stderr
    proc = run_cli("crawl", str(path), "--mode", "async", "--retries", "1", "--ignore-robots")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["error"] == "connection refused"
    assert "1 retries" in proc.stderr


def test_demo_command_crawls_the_built_in_site():
    proc = run_cli("demo", "--pages", "40", "--mode", "threadpool")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    titles = {r["title"] for r in records if r["title"]}
    assert "crawlkit demo site" in titles
    assert {f"Demo page {i} \u2014 crawlkit" for i in range(40)} <= titles


def _serve_and_get(args: list[str], path: str) -> tuple[int, str]:
    """Start a serving command on a free port, GET ``path`` once, stop it."""
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "crawlkit", *args, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                    return resp.status, resp.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("site", [[], ["--shop"], ["--overload", "2"]])
def test_serve_demo_on_port_0_names_the_port_it_got(site):
    import re
    import urllib.request

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "crawlkit", "serve-demo", *site, "--port",
                             "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"on (http://127\.0\.0\.1:(\d+))/ ", line)
        assert found is not None and found.group(2) != "0", line
        with urllib.request.urlopen(found.group(1) + "/robots.txt", timeout=10) as resp:
            assert resp.status in (200, 404)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_demo_on_a_busy_port_is_one_line_and_exit_2():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("serve-demo", "--port", str(port))
    assert_usage_error(proc, f"cannot serve on port {port}")


def test_serve_demo_serves_one_site():
    assert_usage_error(run_cli("serve-demo", "--shop", "--overload", "2"), "--overload")


def test_an_empty_out_is_one_line_naming_it(tmp_path):
    # it said "pass sink= or out=, not both", which no command-line user passed
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    assert_usage_error(run_cli("crawl", str(seeds), "--out", ""), "--out needs a file name")


def test_serve_demo_serves_the_site():
    status, body = _serve_and_get(["serve-demo", "--pages", "5", "--links", "3"], "/page/4")
    assert status == 200
    assert "<title>Demo page 4 \u2014 crawlkit</title>" in body


def test_serve_demo_serves_the_shop():
    import json

    status, body = _serve_and_get(["serve-demo", "--shop"], "/api/products?page=2")
    assert status == 200
    data = json.loads(body)
    assert data["page"] == 2 and data["products"][0]["sku"] == "SKU-00010"


def test_replay_command_serves_a_recording(tmp_path, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/page/7\n")
    warc = tmp_path / "one.warc.gz"
    assert run_cli("record", str(seeds), "--warc", str(warc), "--quiet").returncode == 0
    status, body = _serve_and_get(["replay", str(warc), "--speed", "10"], "/page/7")
    assert status == 200 and "Demo page 7" in body
