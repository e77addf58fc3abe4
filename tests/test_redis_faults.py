"""Redis going away under a shared crawl, Redis URLs with secrets, TLS and ACL users, leases."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from crawlkit.crawler import _lease_for
from crawlkit.errors import UsageError
from crawlkit.frontiers.redis_conn import redact, scrub
from crawlkit.lab.demo import SiteSpec, reachable_urls
from crawlkit.lab.servers import wait_for_port
from crawlkit.urls import canonicalize
from test_cli import assert_usage_error, run_cli
from test_state import _records, _start, _wait_for_lines

SECRET = "s3cret-Pa55"


class RedisServer:
    """A redis-server of the test's own, on a fixed loopback port, that can go away."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.extra = extra
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port_flag: str = "--port") -> None:
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", *self.extra]
        args += ["--port", "0", "--tls-port", str(self.port)] if port_flag == "--tls-port" \
            else ["--port", str(self.port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: Redis shuts down as on a restart (the AOF is fsynced); SIGKILL: a crash."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


@pytest.fixture
def slow_site(tmp_path, site_factory):
    # 2 workers x 4 requests in flight on a 200 ms site: about 3 s of work
    spec = SiteSpec(pages=100, links=5, latency=0.2)
    site = site_factory(**vars(spec))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "/\n")
    return seeds, reachable_urls(spec, site.url)


@pytest.mark.slow
def test_workers_ride_out_a_redis_restart(tmp_path, redis_server, slow_site):
    seeds, clean = slow_site
    outs = [tmp_path / f"w{i}.jsonl" for i in range(2)]
    workers = [_start("crawl", str(seeds), "--follow", "--mode", mode, "--frontier",
                      redis_server.url, "--job", "blip", "--out", str(out),
                      "--concurrency", "4")
               for mode, out in zip(["async", "threaded"], outs, strict=True)]
    assert _wait_for_lines(outs[0], 10, workers[0])
    redis_server.stop()
    time.sleep(1.0)
    redis_server.start()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert "Traceback" not in err
    records = [r for out in outs for r in _records(out)]
    urls = [canonicalize(r["url"]) for r in records]
    # Redis was shut down cleanly (AOF fsynced): no acknowledgement was lost
    assert len(urls) == len(set(urls)), "a page was recorded twice"
    assert set(urls) == clean


@pytest.mark.slow
def test_redis_killed_with_appendfsync_always_loses_and_repeats_nothing(tmp_path, slow_site):
    seeds, clean = slow_site
    workdir = tmp_path / "always"
    workdir.mkdir()
    server = RedisServer(workdir, "--appendfsync", "always")
    server.start()
    outs = [tmp_path / f"w{i}.jsonl" for i in range(2)]
    workers = [_start("crawl", str(seeds), "--follow", "--mode", mode, "--frontier", server.url,
                      "--job", "crash", "--out", str(out), "--concurrency", "4", "--quiet",
                      "--timeout", "2", "--lease", "3")
               for mode, out in zip(["async", "multiprocess"], outs, strict=True)]
    try:
        assert _wait_for_lines(outs[0], 10, workers[0])
        server.stop(signal.SIGKILL)
        time.sleep(0.5)
        server.start()
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
    finally:
        if server.proc is not None:
            server.stop()
    records = [r for out in outs for r in _records(out)]
    urls = [canonicalize(r["url"]) for r in records]
    assert len(urls) == len(set(urls)), "a page was recorded twice"
    assert set(urls) == clean


@pytest.mark.slow
def test_a_worker_says_it_waits_for_redis(tmp_path, redis_server, slow_site):
    seeds, clean = slow_site
    out = tmp_path / "w.jsonl"
    worker = _start("crawl", str(seeds), "--follow", "--frontier", redis_server.url,
                    "--job", "say", "--out", str(out), "--concurrency", "4")
    assert _wait_for_lines(out, 5, worker)
    redis_server.stop()
    time.sleep(0.5)
    redis_server.start()
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert f"crawlkit: Redis at {redis_server.url} is unreachable" in err
    assert f"crawlkit: Redis at {redis_server.url} is back after" in err
    assert {canonicalize(r["url"]) for r in _records(out)} == clean


@pytest.mark.slow
def test_redis_gone_longer_than_redis_wait_is_one_line_and_the_leases_go_to_others(
        tmp_path, redis_server, slow_site):
    seeds, clean = slow_site
    common = ("crawl", str(seeds), "--follow", "--frontier", redis_server.url, "--job", "gone",
              "--timeout", "2", "--lease", "3", "--concurrency", "4", "--quiet")
    first_out, second_out = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first = _start(*common, "--redis-wait", "1", "--out", str(first_out))
    assert _wait_for_lines(first_out, 5, first)
    redis_server.stop()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"crawlkit: error: Redis at {redis_server.url} unreachable "
                               "for more than 1s")
    redis_server.start()
    second = run_cli(*common, "--out", str(second_out))
    assert second.returncode == 0, second.stderr
    records = _records(first_out) + _records(second_out)
    urls = {canonicalize(r["url"]) for r in records}
    assert urls == clean, "a page the first worker held was never recorded"
    assert len(records) - len(urls) <= 4  # at most what the first worker had in flight


@pytest.mark.slow
def test_sigterm_while_redis_is_away_stops_without_waiting_it_out(
        tmp_path, redis_server, slow_site):
    seeds, _ = slow_site
    out = tmp_path / "w.jsonl"
    worker = _start("crawl", str(seeds), "--follow", "--frontier", redis_server.url,
                    "--job", "term", "--out", str(out), "--concurrency", "4",
                    "--redis-wait", "3600")
    assert _wait_for_lines(out, 5, worker)
    redis_server.stop()
    time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)  # not 3600 s
    assert worker.returncode == 1, err
    assert "Traceback" not in err
    assert f"crawlkit: error: stopped while Redis at {redis_server.url} was unreachable" in err


@pytest.mark.slow
def test_a_job_lost_by_a_redis_without_persistence_is_one_line_not_a_finished_crawl(
        tmp_path, slow_site):
    seeds, _ = slow_site
    workdir = tmp_path / "volatile"
    workdir.mkdir()
    server = RedisServer(workdir, "--appendonly", "no")
    server.start()
    out = tmp_path / "w.jsonl"
    worker = _start("crawl", str(seeds), "--follow", "--frontier", server.url, "--job", "lost",
                    "--out", str(out), "--concurrency", "4", "--quiet")
    try:
        assert _wait_for_lines(out, 5, worker)
        server.stop()
        time.sleep(0.5)
        server.start()
        _, err = worker.communicate(timeout=120)
    finally:
        if server.proc is not None:
            server.stop()
    assert worker.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "job 'lost' is gone from Redis" in lines[0]


# secrets in Redis URLs


def test_redact_hides_every_password():
    assert redact("redis://:s3cret@host:6379/99") == "redis://:***@host:6379/99"
    assert redact("redis://alice:pw@host/0") == "redis://alice:***@host/0"
    assert redact("rediss://alice:p/w@d?x@host/0") == "rediss://alice:***@host/0"
    assert redact("redis://s3cret@host/0") == "redis://***@host/0"
    assert redact("redis://host/0?password=s3cret&db=1") == "redis://host/0?password=***&db=1"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"
    message = "Error connecting to s3cret.example: s3cret"
    assert "s3cret" not in scrub(message, "redis://u:s3cret@h/0")


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[RedisServer]:
    workdir = tmp_path / "secured"
    workdir.mkdir()
    server = RedisServer(workdir, "--requirepass", SECRET,
                         "--user", "alice", "on", ">alice-" + SECRET, "~*", "&*", "+@all")
    server.start()
    yield server
    server.stop()


def _assert_hidden(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert_usage_error(proc, fragment)
    assert SECRET not in proc.stderr


@pytest.mark.slow
def test_a_password_never_appears_in_a_message(tmp_path, secured_redis, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    crawl = ("crawl", str(seeds), "--job", "x", "--out", str(tmp_path / "o.jsonl"))
    port = secured_redis.port
    _assert_hidden(run_cli(*crawl, "--frontier", f"redis://:{SECRET}@127.0.0.1:9/99"),
                   "cannot reach Redis at redis://:***@127.0.0.1:9/99")
    _assert_hidden(run_cli(*crawl, "--frontier", f"redis://:{SECRET}x@127.0.0.1:{port}/0"),
                   "refused the credentials")
    _assert_hidden(run_cli(*crawl, "--frontier", f"redis://alice:{SECRET}@127.0.0.1:{port}/0"),
                   "refused the credentials")
    _assert_hidden(run_cli(*crawl, "--frontier", f"redis://127.0.0.1:{port}/0"),
                   "needs a password")
    _assert_hidden(run_cli("job", "x", "--frontier", f"redis://:{SECRET}@127.0.0.1:{port}/0",
                           "--status"), f"no job 'x' on redis://:***@127.0.0.1:{port}/0")
    _assert_hidden(run_cli(*crawl, "--frontier", f"redis://:{SECRET}@127.0.0.1:{port}/x/y"
                           "?db=nope"), "invalid --frontier")


@pytest.mark.slow
def test_acl_users_and_passwords_work(tmp_path, secured_redis, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    port = secured_redis.port
    for job, url in (("default", f"redis://:{SECRET}@127.0.0.1:{port}/0"),
                     ("acl", f"redis://alice:alice-{SECRET}@127.0.0.1:{port}/1")):
        out = tmp_path / f"{job}.jsonl"
        proc = run_cli("crawl", str(seeds), "--frontier", url, "--job", job, "--max-pages", "20",
                       "--follow", "--out", str(out), "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert len(_records(out)) == 20
        status = run_cli("job", job, "--frontier", url, "--status")
        assert status.returncode == 0, status.stderr


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, trustme.CA]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    workdir = tmp_path / "tls"
    workdir.mkdir()
    cert.cert_chain_pems[0].write_to_path(str(workdir / "cert.pem"))
    cert.private_key_pem.write_to_path(str(workdir / "key.pem"))
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    server = RedisServer(workdir, "--tls-cert-file", str(workdir / "cert.pem"),
                         "--tls-key-file", str(workdir / "key.pem"),
                         "--tls-ca-cert-file", str(workdir / "ca.pem"), "--tls-auth-clients", "no")
    try:
        server.start("--tls-port")
    except TimeoutError:
        pytest.skip("this redis-server does not serve TLS")
    yield server, ca
    server.stop()


@pytest.mark.slow
def test_rediss_is_tls_verified_against_the_named_bundle(tmp_path, tls_redis, demo_site,
                                                        monkeypatch):
    server, ca = tls_redis
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    url = f"rediss://127.0.0.1:{server.port}/0"
    crawl = ("crawl", str(seeds), "--frontier", url, "--job", "tls", "--max-pages", "10",
             "--follow", "--quiet")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    assert_usage_error(run_cli(*crawl, "--out", str(tmp_path / "untrusted.jsonl")),
                       "cannot reach Redis at rediss://")
    trusted = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(trusted))
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    out = tmp_path / "tls.jsonl"
    proc = run_cli(*crawl, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert len(_records(out)) == 10


# leases


def test_a_lease_must_outlast_a_fetch():
    with pytest.raises(UsageError, match="a lease must outlast a fetch"):
        _lease_for(30.0, 10.0)
    with pytest.raises(UsageError, match="a lease must outlast a fetch"):
        _lease_for(30.0, 30.0)
    assert _lease_for(30.0, 31.0) == 31.0
    assert _lease_for(30.0, None) == 60.0
    assert _lease_for(90.0, None) == 180.0


@pytest.mark.slow
def test_a_lease_shorter_than_the_timeout_is_refused(tmp_path, redis_url, demo_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/\n")
    proc = run_cli("crawl", str(seeds), "--frontier", redis_url, "--job", "short-lease",
                   "--lease", "5", "--timeout", "10", "--out", str(tmp_path / "o.jsonl"))
    assert_usage_error(proc, "--lease 5 must be longer than --timeout 10: "
                             "a lease must outlast a fetch")
