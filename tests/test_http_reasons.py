"""Each HTTP client's exception table, driven by real loopback servers: every
mapped failure gives the same reason with requests, aiohttp and geventhttpclient."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import ssl
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest
import requests
import trustme

from crawlkit import CrawlSettings, Request
from crawlkit.errors import Reason
from crawlkit.http import aio as http_async
from crawlkit.http import errors as http_errors
from crawlkit.http import sync as http_sync
from crawlkit.process import FINAL_ERRORS
from crawlkit.tls import BUNDLE_VARIABLES
from servers import PoliteServer, closed_port

# name: (URL template, settings, reason); {fault}, {tls} and {closed} are filled in
CASES: dict[str, tuple[str, dict[str, object], Reason]] = {
    "refused": ("http://127.0.0.1:{closed}/", {}, Reason.REFUSED),
    "reset": ("{fault}/reset", {}, Reason.RESET),
    "disconnected": ("{fault}/close", {}, Reason.DISCONNECTED),
    "timeout (headers)": ("{fault}/hang", {"timeout": 0.5}, Reason.TIMEOUT),
    "timeout (body)": ("{fault}/stall", {"timeout": 0.5}, Reason.TIMEOUT),
    "dns": ("http://nonexistent.invalid/", {}, Reason.DNS),
    "tls": ("{tls}/p/0", {}, Reason.TLS),
    "too large (declared)": ("{fault}/huge", {"max_bytes": 1000}, Reason.TOO_LARGE),
    "too large (decoded)": ("{fault}/gzip-bomb", {"max_bytes": 100_000}, Reason.TOO_LARGE),
    "truncated": ("{fault}/truncated", {}, Reason.TRUNCATED),
    "bad encoding": ("{fault}/bad-gzip", {}, Reason.BAD_ENCODING),
    "too many encodings": ("{fault}/stacked", {}, Reason.TOO_MANY_ENCODINGS),
    "invalid url (port)": ("http://127.0.0.1:99999/", {}, Reason.INVALID_URL),
    "invalid url (host)": ("http://[::1/", {}, Reason.INVALID_URL),
    "blocked": ("{fault}/ok", {"block_private": True}, Reason.BLOCKED_PRIVATE),
}


def raw_request(url: str) -> Request:
    """A Request whose URL skipped the model's own check, as if a URL the model
    accepts were refused by a client library: the client must still cope."""
    request = Request("http://127.0.0.1/")
    object.__setattr__(request, "url", url)
    return request


@pytest.fixture(scope="module")
def tls_url() -> Iterator[str]:
    """An HTTPS server whose CA nobody trusts (trustme's, named by no variable)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    with PoliteServer(pages=1, ssl_context=context) as server:
        yield server.url


@pytest.fixture()
def cases(fault_server, tls_url, monkeypatch) -> list[tuple[str, str, dict[str, object], str]]:
    for name in BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    closed = closed_port()
    return [
        (name, template.format(fault=fault_server.url, tls=tls_url, closed=closed),
         {"timeout": 5.0, **options}, reason.value)
        for name, (template, options, reason) in CASES.items()
    ]


def test_requests_failures_map_to_their_reasons(cases):
    got = {}
    for name, url, options, _ in cases:
        settings = CrawlSettings(**options)  # type: ignore[arg-type]
        session = http_sync.new_session(settings)
        with session:
            result = http_sync.fetch(session, raw_request(url), settings)
        got[name] = result.error
    assert got == {name: reason for name, _, _, reason in cases}


def test_aiohttp_failures_map_to_their_reasons(cases):
    async def run() -> dict[str, str | None]:
        got = {}
        for name, url, options, _ in cases:
            settings = CrawlSettings(mode="async", **options)  # type: ignore[arg-type]
            async with http_async.new_session(settings) as session:
                result = await http_async.fetch(session, raw_request(url), settings)
            got[name] = result.error
        return got

    assert asyncio.run(run()) == {name: reason for name, _, _, reason in cases}


_GREEN_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import json, sys
from crawlkit.http import green as http_green
from crawlkit.models import Request
from crawlkit.settings import CrawlSettings

def _raw(url):
    # a Request whose URL skipped the model's own check: the client must still cope
    request = Request("http://127.0.0.1/")
    object.__setattr__(request, "url", url)
    return request


got = {}
for name, url, options in json.loads(sys.argv[1]):
    settings = CrawlSettings(**options)
    clients = http_green.Clients(settings)
    result = http_green.fetch(clients, _raw(url), settings)
    clients.close()
    got[name] = [result.error, type(result.error).__name__]
print(json.dumps(got))
"""


@pytest.mark.slow
def test_geventhttpclient_failures_map_to_their_reasons(cases):
    env = {k: v for k, v in os.environ.items() if k not in BUNDLE_VARIABLES}
    args = json.dumps([[name, url, options] for name, url, options, _ in cases])
    proc = subprocess.run([sys.executable, "-c", _GREEN_SCRIPT, args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert {name: error for name, (error, _) in got.items()} == {
        name: reason for name, _, _, reason in cases
    }
    assert {kind for _, kind in got.values()} == {"str"}


def test_records_carry_the_plain_string():
    settings = CrawlSettings(timeout=5.0)
    with http_sync.new_session(settings) as session:
        result = http_sync.fetch(session, Request(f"http://127.0.0.1:{closed_port()}/"), settings)
    assert type(result.error) is str and result.error == "connection refused"


# the tables themselves


def _tables() -> dict[str, http_errors.ExceptionTable]:
    return {"requests": http_sync.EXCEPTIONS, "aiohttp": http_async.EXCEPTIONS}


@pytest.mark.parametrize("client", ["requests", "aiohttp"])
def test_every_row_maps_exception_classes_to_a_reason(client):
    table = _tables()[client]
    assert table[: len(http_errors.FIRST)] == http_errors.FIRST
    last = len(http_errors.FIRST) + table[len(http_errors.FIRST):].index(http_errors.LAST[0])
    assert table[last: last + len(http_errors.LAST)] == http_errors.LAST
    for kinds, reason in table:
        assert type(reason) is Reason
        for kind in kinds if isinstance(kinds, tuple) else (kinds,):
            assert isinstance(kind, type) and issubclass(kind, BaseException), kind
    # the catch-alls come last: nothing after LAST maps to anything but CONNECTION
    assert {reason for _, reason in table[last + len(http_errors.LAST):]} <= {Reason.CONNECTION}


@pytest.mark.slow
def test_geventhttpclient_table_in_a_patched_child():
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from crawlkit.http import green, errors\n"
        "from crawlkit.errors import Reason\n"
        "t = green.EXCEPTIONS\n"
        "assert t[:len(errors.FIRST)] == errors.FIRST\n"
        "assert all(type(r) is Reason for _, r in t)\n"
        "assert all(issubclass(k, BaseException) for ks, _ in t\n"
        "           for k in (ks if isinstance(ks, tuple) else (ks,)))\n"
        "print(len(t))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_renaming_a_class_cannot_change_its_reason():
    class ConnectTimeoutIsh(Exception):  # "Timeout" in the name, not a timeout
        pass

    class InvalidURLish(Exception):
        pass

    for exc in (ConnectTimeoutIsh(), InvalidURLish()):
        for table in _tables().values():
            assert http_errors.reason_for(exc, table) is Reason.CONNECTION


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (requests.exceptions.ConnectTimeout(), Reason.TIMEOUT),
        (requests.exceptions.InvalidURL("x"), Reason.INVALID_URL),
        (requests.exceptions.ContentDecodingError(), Reason.BAD_ENCODING),
        (requests.exceptions.ChunkedEncodingError(), Reason.TRUNCATED),
        (requests.exceptions.TooManyRedirects(), Reason.TOO_MANY_REDIRECTS),
    ],
)
def test_requests_rows_without_a_server(exc, reason):
    assert http_errors.reason_for(exc, http_sync.EXCEPTIONS) is reason


FINAL = {
    Reason.TOO_LARGE, Reason.TOO_MANY_ENCODINGS, Reason.BAD_ENCODING, Reason.INVALID_URL,
    Reason.BLOCKED_PRIVATE, Reason.TOO_MANY_REDIRECTS, Reason.REDIRECT_LOOP,
    Reason.BAD_REDIRECT, Reason.ROBOTS, Reason.NOT_IN_CACHE,
}
RETRIED = {
    Reason.TIMEOUT, Reason.REFUSED, Reason.RESET, Reason.DNS, Reason.TLS, Reason.TRUNCATED,
    Reason.DISCONNECTED, Reason.CONNECTION, Reason.WORKER_DIED, Reason.PROXY,
}


def test_every_reason_is_classified_final_or_retried_explicitly():
    assert set(Reason) == FINAL | RETRIED
    assert not FINAL & RETRIED
    for reason in Reason:
        assert reason.final is (reason in FINAL), reason
        assert Reason.is_final(reason.value) is reason.final
    assert {r for r in Reason if r.final} == FINAL_ERRORS
    assert not Reason.is_final("http 503") and not Reason.is_final("internal error: x")


def test_a_reason_is_its_plain_string_everywhere():
    for reason in Reason:
        assert reason == reason.value and str(reason) == reason.value
        assert f"{reason}" == reason.value and f"{reason:>1}" == reason.value
        assert orjson.dumps({"error": reason}) == orjson.dumps({"error": reason.value})
        assert json.dumps(reason) == json.dumps(reason.value)
        assert pickle.loads(pickle.dumps(reason)) is reason
    assert len({r.value for r in Reason}) == len(Reason)


@pytest.mark.parametrize("reason", list(Reason))
def test_the_retry_policy_reads_final_from_the_reason(reason):
    from crawlkit import FetchResult, Spider
    from crawlkit.process import Processor

    processor = Processor(Spider(), CrawlSettings(retries=2))
    outcome = processor(FetchResult(Request("http://example.com/"), None, {}, b"", reason.value))
    assert outcome.retry is not reason.final
    assert outcome.error == reason.value
