"""Proxies (``--proxy``, ``meta["proxy"]``, ``--proxy-env``) in every strategy, through
a real proxy server: tinyproxy on a loopback port."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import pytest
import trustme
from aiohttp import web

import crawlkit
from crawlkit import MODES, Request
from crawlkit.errors import Reason, UsageError
from crawlkit.lab.servers import LoopbackServer, wait_for_port
from crawlkit.models import Outcome
from crawlkit.proxies import ProxyPool, bypassed, parse_proxy
from crawlkit.settings import CrawlSettings
from crawlkit.tls import BUNDLE_VARIABLES
from servers import PoliteServer, Recorded, RecordingServer, closed_port

TINYPROXY = shutil.which("tinyproxy")


@dataclass
class Tinyproxy:
    """One tinyproxy process: its URL (credentials included when it asks for them),
    its name in the ``Via`` header it adds, and its log."""

    port: int
    name: str
    log: Path
    credentials: str | None

    @property
    def url(self) -> str:
        user = f"{self.credentials}@" if self.credentials else ""
        return f"http://{user}127.0.0.1:{self.port}"

    @property
    def bare(self) -> str:
        """The URL without credentials."""
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Callable[..., Tinyproxy]]:
    """Start tinyproxy processes on free loopback ports; all stop after the test.

    ``start(name, auth=False, connect_ports=())``: ``auth`` asks for Basic
    credentials ``user:pass``; ``connect_ports`` limits CONNECT to those ports (none
    given: every port).
    """
    if TINYPROXY is None:
        # CI installs it (.ci/run) and must run these tests; elsewhere say why they did not run
        if os.environ.get("CI"):
            pytest.fail("tinyproxy is not installed; .ci/run should have installed it")
        pytest.skip("tinyproxy is not installed (apt-get install tinyproxy)")
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, auth: bool = False, connect_ports: tuple[int, ...] = ()) -> Tinyproxy:
        with socket.socket() as sock:  # tinyproxy cannot take port 0: pick a free one
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        log = tmp_path / f"{name}.log"
        config = [f"Port {port}", "Listen 127.0.0.1", "Allow 127.0.0.1", "Timeout 30",
                  "MaxClients 64", f'LogFile "{log}"', "LogLevel Connect",
                  f'ViaProxyName "{name}"']
        if auth:
            config.append("BasicAuth user pass")
        config += [f"ConnectPort {p}" for p in connect_ports]
        path = tmp_path / f"{name}.conf"
        path.write_text("\n".join(config) + "\n", encoding="utf-8")
        assert TINYPROXY is not None
        proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        wait_for_port(port, timeout=10)
        return Tinyproxy(port, name, log, "user:pass" if auth else None)

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def target() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _via(record: Recorded) -> str | None:
    """The proxy name in the Via header tinyproxy added (``1.1 NAME (tinyproxy/...)``)."""
    via = record.header("Via")
    return via.split()[1] if via else None


def _ok(result: crawlkit.CrawlResult) -> list[str]:
    return sorted(r["url"] for r in result if r["error"] is None)


# --- parsing, settings, the CLI: no network -------------------------------------------


def test_a_proxy_url_is_parsed_and_shown_without_its_password() -> None:
    proxy = parse_proxy("http://us%3Aer:p%40ss@127.0.0.1:3128")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (
        "127.0.0.1", 3128, "us:er", "p@ss")
    assert proxy.label == "http://us:er@127.0.0.1:3128"
    assert proxy.authorization == "Basic dXM6ZXI6cEBzcw=="
    assert parse_proxy("http://[::1]:8080").label == "http://[::1]:8080"


@pytest.mark.parametrize("url", ["socks5://127.0.0.1:1080", "https://127.0.0.1:3128",
                                 "http://127.0.0.1", "http://:3128", "127.0.0.1:3128",
                                 "http://127.0.0.1:3128/path", "http://127.0.0.1:99999",
                                 "http://user:secret@127.0.0.1"])
def test_a_bad_proxy_url_is_a_usage_error_that_hides_the_password(url: str) -> None:
    with pytest.raises(UsageError, match="proxy URL") as info:
        CrawlSettings(proxy=(url,))
    assert "secret" not in str(info.value)
    with pytest.raises(UsageError):
        Request("http://127.0.0.1/", meta={"proxy": url})


def test_the_cli_refuses_a_bad_proxy_in_one_line_with_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "crawlkit", "crawl", "--proxy",
                           "socks5://u:secret@127.0.0.1:1080", "http://127.0.0.1:9/"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "only http:// proxies" in done.stderr
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_one_proxy_may_be_given_as_a_string(tinyproxy, target) -> None:
    # proxy="http://..." was read as a sequence of one-character proxy URLs
    proxy = tinyproxy("p1")
    assert CrawlSettings(proxy=proxy.url).proxy == (proxy.url,)
    result = crawlkit.crawl([target.url + "/a"], mode="sync", proxy=proxy.url, retries=0)
    assert _ok(result) == [target.url + "/a"]
    assert {_via(r) for r in target.records} == {"p1"}


def test_one_allow_or_deny_pattern_may_be_given_as_a_string() -> None:
    settings = CrawlSettings(allow="/product/", deny=r"\?sort=")
    assert (settings.allow, settings.deny) == (("/product/",), (r"\?sort=",))
    assert [p.pattern for p in settings.allow_re] == ["/product/"]


@pytest.mark.parametrize("value", [123, b"http://127.0.0.1:3128"])
def test_a_proxy_that_is_neither_a_string_nor_a_list_is_a_usage_error(value: object) -> None:
    with pytest.raises(UsageError, match="proxy takes a string or a list of strings, got"):
        CrawlSettings(proxy=value)  # type: ignore[arg-type]


def test_the_dispatched_proxy_is_not_identity_nor_persisted() -> None:
    request = Request("http://a.test/x", meta={"k": 1})
    sent = replace(request, proxy="http://u:p@127.0.0.1:3128")
    assert sent == request and hash(sent) == hash(request)
    assert sent.fingerprint == request.fingerprint
    assert sent.to_dict() == request.to_dict()
    assert "3128" not in repr(sent)


def _outcome(request: Request, error: str | None = None) -> Outcome:
    return Outcome(request, request.url, None if error else 200, error)


def test_proxies_rotate_over_origins_and_an_origin_keeps_its_proxy() -> None:
    a, b, c = "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"
    pool = ProxyPool(CrawlSettings(proxy=(a, b, c)))
    chosen = [pool.dispatch(Request(f"http://{host}.test/{i}")).proxy
              for i in range(2) for host in "wxyz"]
    assert chosen == [a, b, c, a] * 2
    # a failure through b moves x.test to c, once for all the requests then in flight
    in_flight = [pool.dispatch(Request(f"http://x.test/again/{i}")) for i in range(2)]
    for sent in in_flight:
        settled = pool.settle(_outcome(sent, Reason.PROXY))
        assert settled.request.proxy is None  # a retry does not carry it
    assert pool.dispatch(Request("http://x.test/3")).proxy == c
    assert pool.dispatch(Request("http://w.test/3")).proxy == a
    assert pool.counts()["http://127.0.0.1:2"] == {"requests": 2, "failures": 2}


def test_meta_proxy_wins_and_none_means_direct() -> None:
    pool = ProxyPool(CrawlSettings(proxy=("http://127.0.0.1:1",)))
    own = pool.dispatch(Request("http://a.test/", meta={"proxy": "http://127.0.0.1:2"}))
    assert own.proxy == "http://127.0.0.1:2"
    assert pool.dispatch(Request("http://a.test/", meta={"proxy": None})).proxy is None


def test_environment_proxies_only_with_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:2")
    monkeypatch.setenv("NO_PROXY", "skip.test")
    assert ProxyPool(CrawlSettings()).dispatch(Request("http://a.test/")).proxy is None
    pool = ProxyPool(CrawlSettings(proxy_env=True))
    assert pool.dispatch(Request("http://a.test/")).proxy == "http://127.0.0.1:1"
    assert pool.dispatch(Request("https://a.test/")).proxy == "http://127.0.0.1:2"
    assert pool.dispatch(Request("http://skip.test/")).proxy is None
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(UsageError, match="HTTP_PROXY"):
        ProxyPool(CrawlSettings(proxy_env=True))


def test_a_bad_environment_proxy_names_the_variable_it_came_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:2")
    monkeypatch.setenv("https_proxy", "socks5://127.0.0.1:1")  # the lower-case name wins
    with pytest.raises(UsageError, match="^https_proxy: invalid proxy URL"):
        ProxyPool(CrawlSettings(proxy_env=True))


@pytest.mark.parametrize(("host", "port", "no_proxy", "expected"), [
    ("a.test", 80, "*", True),
    ("a.test", 80, "a.test", True),
    ("www.a.test", 80, ".a.test", True),
    ("www.a.test", 80, "a.test", True),
    ("aa.test", 80, "a.test", False),
    ("a.test", 8080, "a.test:80", False),
    ("a.test", 80, "b.test, a.test:80", True),
    ("10.1.2.3", 80, "10.0.0.0/8", True),
    ("11.1.2.3", 80, "10.0.0.0/8", False),
    ("::1", 80, "::1", True),
    ("::1", 8080, "[::1]:8080", True),
    ("::1", 8081, "[::1]:8080", False),
    ("::1", 8080, "[::1]", True),
    ("::1", 8080, "b.test,[::1]:8080", True),
    ("::2", 8080, "[::1]:8080", False),
    ("::1", 8080, "[::1", False),
    ("::1", 8080, "[::1]8080", False),
    ("fd00::5", 80, "fd00::/8", True),
    ("fe80::5", 80, "fd00::/8", False),
    ("a.test", 80, ".a.test", True),
    ("www.a.test", 80, "*.a.test", True),
    ("a.test", 80, "A.TEST", True),
    ("a.test.", 80, "a.test", True),
    ("a.test", 80, "a.test:http", False),
    ("a.test", 80, "a.test:80 *", True),
    ("a.test", 80, ".", False),
])
def test_no_proxy_matching(host: str, port: int, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, port, no_proxy) is expected


@pytest.mark.parametrize(("url", "no_proxy", "expected"), [
    ("http://[::1]:8080/", "[::1]:8080", None),
    ("http://[::1]:8080/", "::1", None),
    ("http://[::1]:8080/", "[::1]", None),
    ("http://[::1]:8080/", "[::1]:8081", "http://127.0.0.1:1"),
    ("http://a.test/", "a.test:80", None),  # the scheme's default port when the URL has none
    ("https://a.test/", "a.test:443", None),
    ("https://a.test/", "a.test:80", "http://127.0.0.1:1"),
])
def test_no_proxy_is_read_for_the_target_url(monkeypatch: pytest.MonkeyPatch, url: str,
                                             no_proxy: str, expected: str | None) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert ProxyPool(CrawlSettings(proxy_env=True)).dispatch(Request(url)).proxy == expected


class _IPv6Site(LoopbackServer):
    """One page on ``[::1]``."""

    def __init__(self) -> None:
        super().__init__(host="::1")

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text="<html><title>v6</title></html>", content_type="text/html")


def test_no_proxy_with_an_ipv6_literal_and_port_fetches_directly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # a dead proxy
    with _IPv6Site() as site:
        url = f"http://[::1]:{site.port}/"
        monkeypatch.setenv("NO_PROXY", f"[::1]:{site.port}")
        direct = crawlkit.crawl([url], obey_robots=False, retries=0, proxy_env=True)
        monkeypatch.setenv("NO_PROXY", f"[::1]:{closed_port()}")
        proxied = crawlkit.crawl([url], obey_robots=False, retries=0, proxy_env=True)
    assert [(r["url"], r["error"]) for r in direct] == [(url, None)]
    assert [r["error"] for r in proxied] == ["proxy error"]


# --- through tinyproxy, in every strategy ----------------------------------------------

slow = pytest.mark.slow


@slow
@pytest.mark.parametrize("mode", MODES)
def test_every_request_goes_through_the_proxy(mode: str, tinyproxy, target) -> None:
    proxy = tinyproxy("p1")
    result = crawlkit.crawl([target.url + "/a", target.url + "/b"], mode=mode,
                            proxy=[proxy.url], retries=0)
    assert _ok(result) == [target.url + "/a", target.url + "/b"]
    assert sorted(r.target for r in target.records) == ["/a", "/b", "/robots.txt"]
    assert {_via(r) for r in target.records} == {"p1"}
    assert result.stats.proxies == {proxy.bare: {"requests": 3, "failures": 0}}
    assert f"proxies: {proxy.bare} 3 requests, 0 failed" in result.stats.summary()
    assert orjson.loads(orjson.dumps(result.stats.as_dict()))["proxies"] == {
        proxy.bare: {"requests": 3, "failures": 0}}


@slow
@pytest.mark.parametrize("mode", MODES)
def test_proxy_credentials_never_reach_the_target(mode: str, tinyproxy, target) -> None:
    proxy = tinyproxy("auth", auth=True)
    result = crawlkit.crawl([target.url + "/a"], mode=mode, proxy=[proxy.url],
                            obey_robots=False, retries=0)
    assert [(r["url"], r["error"]) for r in result] == [(target.url + "/a", None)]
    record = target.one("/a")
    assert _via(record) == "auth"
    assert record.header("Proxy-Authorization") is None
    assert record.header("Authorization") is None
    assert result.stats.proxies == {"http://user@" + proxy.bare[7:]: {"requests": 1,
                                                                      "failures": 0}}


@slow
@pytest.mark.parametrize("mode", MODES)
def test_what_a_plain_proxy_receives(mode: str, target) -> None:
    # the recording server plays the proxy: it sees what a proxy is sent, and answers
    proxy = f"http://us%C3%A9r:p%C3%A4ss@127.0.0.1:{target.port}"
    result = crawlkit.crawl(["http://site.test/a?b=2&a=1"], mode=mode, proxy=[proxy],
                            obey_robots=False, retries=0)
    assert [r["error"] for r in result] == [None]
    record = target.one("http://")
    assert record.line == "GET http://site.test/a?b=2&a=1 HTTP/1.1"  # absolute, as spelled
    assert record.header("Host") == "site.test"
    # the credentials in UTF-8 (tinyproxy's configuration cannot hold them), in every mode
    assert record.header("Proxy-Authorization") == "Basic " + base64.b64encode(
        "usér:päss".encode()).decode()
    assert record.header("Authorization") is None


@slow
@pytest.mark.parametrize("mode", MODES)
def test_a_407_is_a_proxy_error_counted_for_the_proxy(mode: str, tinyproxy, target) -> None:
    proxy = tinyproxy("auth", auth=True)
    result = crawlkit.crawl([target.url + "/a"], mode=mode, proxy=[proxy.bare],
                            obey_robots=False, retries=0)
    assert [(r["url"], r["error"]) for r in result] == [(target.url + "/a", "proxy error")]
    assert target.records == []
    assert result.stats.proxies == {proxy.bare: {"requests": 1, "failures": 1}}
    assert result.stats.errors == {"proxy error": 1}


@slow
@pytest.mark.parametrize("mode", MODES)
def test_rotation_is_sticky_per_origin_across_two_proxies(mode: str, tinyproxy) -> None:
    first, second = tinyproxy("first"), tinyproxy("second")
    with RecordingServer() as one, RecordingServer() as two:
        seeds = [f"{site.url}/{i}" for i in range(4) for site in (one, two)]
        result = crawlkit.crawl(seeds, mode=mode, proxy=[first.url, second.url], retries=0,
                                concurrency=4)
        assert len(_ok(result)) == 8
        seen = [{_via(r) for r in site.records} for site in (one, two)]
        assert len(one.records) == len(two.records) == 5  # robots.txt and four pages
    assert sorted(seen, key=str) == [{"first"}, {"second"}]
    assert result.stats.proxies == {first.bare: {"requests": 5, "failures": 0},
                                    second.bare: {"requests": 5, "failures": 0}}


@slow
@pytest.mark.parametrize("robots", [False, True], ids=["page", "robots"])
@pytest.mark.parametrize("mode", MODES)
def test_a_dead_proxy_fails_over_to_the_next_and_is_counted(mode: str, robots: bool,
                                                              tinyproxy, target) -> None:
    # credentials too: the client must still tell a dead proxy from a dead target
    dead = f"http://u:secret@127.0.0.1:{closed_port()}"
    live = tinyproxy("live")
    result = crawlkit.crawl([target.url + "/a"], mode=mode, proxy=[dead, live.url],
                            obey_robots=robots, retries=2, retry_backoff=0)
    assert _ok(result) == [target.url + "/a"]
    # the first request (robots.txt or the page) failed through the dead proxy and
    # was retried through the live one, which the origin kept
    assert sorted(r.target for r in target.records) == ["/a", "/robots.txt"][:1 + robots]
    assert {_via(r) for r in target.records} == {"live"}
    assert result.stats.retries == 1
    shown = dead.replace(":secret", "")
    assert result.stats.proxies == {shown: {"requests": 1, "failures": 1},
                                    live.bare: {"requests": 1 + robots, "failures": 0}}
    assert f"{shown} 1 requests, 1 failed" in result.stats.summary()


@slow
@pytest.mark.parametrize("mode", MODES)
def test_a_request_meta_proxy_overrides_the_crawl_proxy(mode: str, tinyproxy, target) -> None:
    crawl_proxy, own = tinyproxy("crawl"), tinyproxy("own")
    seeds = [Request(target.url + "/own", meta={"proxy": own.url}),
             Request(target.url + "/direct", meta={"proxy": None}),
             Request(target.url + "/default")]
    result = crawlkit.crawl(seeds, mode=mode, proxy=[crawl_proxy.url], obey_robots=False,
                            retries=0)
    assert len(_ok(result)) == 3
    assert _via(target.one("/own")) == "own"
    assert _via(target.one("/direct")) is None
    assert _via(target.one("/default")) == "crawl"


@slow
@pytest.mark.parametrize("mode", MODES)
def test_proxy_env_is_honoured_only_when_asked(mode: str, tinyproxy, target,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = tinyproxy("env")
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    ignored = crawlkit.crawl([target.url + "/ignored"], mode=mode, obey_robots=False,
                             retries=0)
    honoured = crawlkit.crawl([target.url + "/honoured"], mode=mode, obey_robots=False,
                              retries=0, proxy_env=True)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    bypassed = crawlkit.crawl([target.url + "/bypassed"], mode=mode, obey_robots=False,
                              retries=0, proxy_env=True)
    assert [len(_ok(r)) for r in (ignored, honoured, bypassed)] == [1, 1, 1]
    assert [_via(target.one(p)) for p in ("/ignored", "/honoured", "/bypassed")] == [
        None, "env", None]
    assert honoured.stats.proxies == {proxy.bare: {"requests": 1, "failures": 0}}


@slow
@pytest.mark.parametrize("mode", MODES)
def test_block_private_checks_the_target_not_the_proxy(mode: str, tinyproxy, target) -> None:
    proxy = tinyproxy("guard")
    result = crawlkit.crawl([target.url + "/a"], mode=mode, proxy=[proxy.url],
                            obey_robots=False, retries=0, block_private=True)
    assert [r["error"] for r in result] == ["blocked: private address"]
    assert target.records == []
    assert not [line for line in proxy.lines() if "Request (" in line]


class TLSRecorder(LoopbackServer):
    """An https site that records the headers of every request it gets."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        super().__init__(ssl_context=ssl_context)
        self.headers: list[dict[str, str]] = []  # appended on the server's loop thread

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        return web.Response(text="<title>tls</title>", content_type="text/html")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_target(ca: trustme.CA, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSRecorder]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    for name in BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    with TLSRecorder(context) as server:
        yield server


@slow
@pytest.mark.parametrize("mode", MODES)
def test_https_goes_through_a_connect_tunnel(mode: str, tinyproxy, tls_target) -> None:
    proxy = tinyproxy("tunnel", auth=True, connect_ports=(tls_target.port,))
    result = crawlkit.crawl([tls_target.url + "/a"], mode=mode, proxy=[proxy.url],
                            obey_robots=False, retries=0)
    assert _ok(result) == [tls_target.url + "/a"]
    assert any(f"CONNECT 127.0.0.1:{tls_target.port}" in line for line in proxy.lines())
    assert len(tls_target.headers) == 1
    assert "proxy-authorization" not in tls_target.headers[0]
    assert "authorization" not in tls_target.headers[0]


@slow
@pytest.mark.parametrize("mode", MODES)
def test_a_refused_connect_is_a_proxy_error(mode: str, tinyproxy, tls_target) -> None:
    proxy = tinyproxy("strict", connect_ports=(tls_target.port + 1,))
    result = crawlkit.crawl([tls_target.url + "/a"], mode=mode, proxy=[proxy.url],
                            obey_robots=False, retries=0)
    assert [r["error"] for r in result] == ["proxy error"]
    assert tls_target.headers == []
    assert result.stats.proxies == {proxy.bare: {"requests": 1, "failures": 1}}


@slow
def test_the_cli_summary_counts_per_proxy_without_the_password(tinyproxy, target,
                                                               tmp_path: Path) -> None:
    proxy = tinyproxy("cli", auth=True)
    dead = f"http://user:secret@127.0.0.1:{closed_port()}"
    seeds = tmp_path / "urls.txt"
    seeds.write_text(target.url + "/a\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "crawlkit", "crawl", "--mode", "sync",
                           "--ignore-robots", "--retry-backoff", "0", "--proxy", dead,
                           "--proxy", proxy.url, str(seeds)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [orjson.loads(line)["error"] for line in done.stdout.splitlines()] == [None]
    assert (f"proxies: {dead.replace(':secret', '')} 1 requests, 1 failed, "
            f"http://user@127.0.0.1:{proxy.port} 1 requests, 0 failed") in done.stderr
    assert "secret" not in done.stderr and ":pass@" not in done.stderr


@slow
def test_the_dispatched_proxy_never_reaches_the_state_journal(tmp_path: Path, tinyproxy,
                                                                target) -> None:
    dead_port = closed_port()
    live = tinyproxy("journal", auth=True)
    # the redirect hops (/redirect answers 302 to /landed) are journaled whole
    seeds = [Request(target.url + f"/redirect/{i}", meta={"i": i}) for i in range(3)]
    result = crawlkit.crawl(seeds, mode="async", proxy=[f"http://u:secret@127.0.0.1:{dead_port}",
                                                        live.url],
                            retries=2, retry_backoff=0, state=tmp_path / "crawl.db",
                            out=tmp_path / "out.jsonl")
    assert result.stats.pages_ok == 4 and result.stats.retries >= 1
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("crawl.db*"))
    assert b"meta" in stored or b'"i"' in stored  # the journal holds whole requests
    for secret in (b"secret", b"user:pass"):
        assert secret not in stored
    # the per-proxy counts are committed (by label, no password); the requests are not
    # tied to a proxy
    with sqlite3.connect(tmp_path / "crawl.db") as db:
        rows = repr(db.execute("SELECT * FROM requests").fetchall())
        counters = json.loads(db.execute("SELECT value FROM meta WHERE key = 'counters'")
                              .fetchone()[0])
    assert "/landed" in rows
    for address in (f"127.0.0.1:{dead_port}", f"127.0.0.1:{live.port}"):
        assert address not in rows
    assert counters["proxies"] == result.stats.proxies


def test_a_resumed_crawl_adds_to_the_per_proxy_counts(tmp_path: Path, target) -> None:
    dead = f"http://user:secret@127.0.0.1:{closed_port()}"  # every request: a proxy failure
    label = parse_proxy(dead).label
    seeds = [target.url + f"/{i}" for i in range(5)]
    options = {"mode": "sync", "proxy": [dead], "obey_robots": False, "retries": 0}
    whole = crawlkit.crawl(seeds, **options, state=tmp_path / "whole.db",
                           out=tmp_path / "whole.jsonl")
    assert whole.stats.proxies == {label: {"requests": 5, "failures": 5}}
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    first = crawlkit.crawl(seeds, **options, state=state, out=out, max_pages=2)
    assert first.stats.proxies == {label: {"requests": 2, "failures": 2}}
    resumed = crawlkit.crawl(seeds, **options, state=state, out=out)
    assert resumed.stats.pages_failed == 5
    assert resumed.stats.proxies == whole.stats.proxies
    assert resumed.stats.summary().endswith(f"proxies: {label} 5 requests, 5 failed")


def test_restored_counts_add_to_the_pools_own() -> None:
    pool = ProxyPool(CrawlSettings(proxy=("http://127.0.0.1:1", "http://127.0.0.1:2")))
    pool.restore({"http://127.0.0.1:3": {"requests": 4, "failures": 1},
                  "http://127.0.0.1:2": {"requests": 2, "failures": 0}})
    settled = pool.settle(Outcome(pool.dispatch(Request("http://a.test/")), "http://a.test/",
                                  200, None))
    assert settled.request.proxy is None
    assert pool.counts() == {"http://127.0.0.1:1": {"requests": 1, "failures": 0},
                             "http://127.0.0.1:2": {"requests": 2, "failures": 0},
                             "http://127.0.0.1:3": {"requests": 4, "failures": 1}}


def _committed_pages(state: Path) -> int:
    """The pages a running crawl's ``--state`` journal has committed (0 before any)."""
    if not state.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'counters'").fetchone()
    except sqlite3.OperationalError:  # the tables are not made yet
        return 0
    if row is None:
        return 0
    counters = json.loads(row[0])
    return int(counters["ok"]) + int(counters["failed"])


@slow
@pytest.mark.parametrize("mode", ["threaded", "processes"])
@pytest.mark.parametrize("stop", ["max-pages", "kill"])
def test_the_summary_after_a_stop_and_resume_counts_the_whole_crawl(
        mode: str, stop: str, tinyproxy, tmp_path: Path) -> None:
    proxy = tinyproxy("resume", auth=True)
    with PoliteServer(pages=12, latency=0.1) as site:
        seeds = tmp_path / "urls.txt"
        seeds.write_text(site.url + "/p/0\n", encoding="utf-8")

        def command(name: str, *extra: str) -> list[str]:
            return [sys.executable, "-m", "crawlkit", "crawl", "--mode", mode,
                    "--ignore-robots", "--follow", "--deny", "/private/", "--proxy", proxy.url,
                    "--concurrency", "1", "--state", str(tmp_path / f"{name}.db"),
                    "--out", str(tmp_path / f"{name}.jsonl"), *extra, str(seeds)]

        def per_proxy(name: str, *extra: str) -> str:
            done = subprocess.run(command(name, *extra), capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stderr
            return done.stderr.strip().splitlines()[-1].partition("; proxies: ")[2]

        whole = per_proxy("whole")
        assert whole == f"http://user@127.0.0.1:{proxy.port} 12 requests, 0 failed"
        if stop == "max-pages":
            assert per_proxy("stopped", "--max-pages", "5").startswith(
                f"http://user@127.0.0.1:{proxy.port} 5 requests")
        else:
            proc = subprocess.Popen(command("stopped"), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:  # kill once a batch of at least 3 pages is committed
                deadline = time.monotonic() + 60
                while _committed_pages(tmp_path / "stopped.db") < 3:
                    assert proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.005)
            finally:
                proc.kill()  # SIGKILL: nothing is flushed or committed on the way out
                proc.wait()
            assert _committed_pages(tmp_path / "stopped.db") < 12
        assert per_proxy("stopped") == whole


@slow
def test_the_dispatched_proxy_never_reaches_redis(redis_url: str, tmp_path: Path, tinyproxy,
                                                  target) -> None:
    import threading

    import redis

    dead_port = closed_port()
    live = tinyproxy("redis", auth=True)
    commands: list[str] = []  # appended by the monitor thread, read once it has ended
    client = redis.Redis.from_url(redis_url)
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                commands.append(command["command"])
                if "end-of-proxy-test" in command["command"]:
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert ready.wait(10)
    seeds = [Request(target.url + f"/redirect/{i}", meta={"i": i}) for i in range(3)]
    result = crawlkit.crawl(seeds, mode="threaded", frontier=redis_url, job="proxies",
                            out=str(tmp_path / "out.jsonl"), retries=2, retry_backoff=0,
                            proxy=[f"http://u:secret@127.0.0.1:{dead_port}", live.url])
    client.echo("end-of-proxy-test")
    watcher.join(10)
    client.close()
    assert result.stats.errors == {}
    assert result.stats.pages_ok == 4 and result.stats.retries >= 1
    written = "\n".join(commands)
    assert "/landed" in written  # the redirect hop went through Redis whole
    for secret in ("secret", "user:pass", f"127.0.0.1:{dead_port}", f"127.0.0.1:{live.port}"):
        assert secret not in written
