"""What reaches the server for a Request, in every strategy: method, headers, body
and the URL exactly as given, read off the wire by a recording server.

The fetchers are driven directly (``submit``/``completed``), so these tests see
the HTTP clients and the way each strategy carries a Request to them, and do not
depend on the frontier; one test drives whole crawls with a spider that yields
Requests.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator

import pytest

import crawlkit
from crawlkit import MODES, CrawlSettings, DefaultSpider, Outcome, Request
from crawlkit.fetchers import get_fetcher, modes_where
from crawlkit.http import outgoing
from crawlkit.process import Processor
from servers import Recorded, RecordingServer

# modes whose fetcher starts processes
_SLOW = set(modes_where("spider_in_process", False))  # they start processes
MODE_PARAMS = [pytest.param(m, marks=pytest.mark.slow) if m in _SLOW else m for m in MODES]

USER_AGENT = "crawlkit-test/1.0"

# name: a Request for the server at the base URL given
CASES: dict[str, Callable[[str], Request]] = {
    "plain": lambda base: Request(base + "/plain"),
    "form": lambda base: Request(base + "/form", data={"q": "desk lamp", "page": "2"},
                                 meta={"case": "form"}),
    "json": lambda base: Request(base + "/json", json={"q": "lamp", "tags": ["a", "é"]},
                                 callback="parse"),
    "put": lambda base: Request(base + "/put", method="PUT", body=b"\x00raw\xff",
                                headers={"Content-Type": "application/octet-stream"}),
    "delete": lambda base: Request(base + "/delete", method="delete"),
    "head": lambda base: Request(base + "/head", method="HEAD"),
    "empty post": lambda base: Request(base + "/empty-post", method="POST"),
    "headers": lambda base: Request(base + "/headers", headers=[
        ("X-Custom", "yes"), ("user-agent", "spider/2"), ("X-Twice", "1"), ("x-twice", "2"),
        ("X-Text", "café"), ("Content-Length", "999"), ("Cookie", "a=1; b=2"),
    ]),
    "order": lambda base: Request(base + "/order?b=2&a=1"),
    "flag": lambda base: Request(base + "/flag?flag"),
    "escape": lambda base: Request(base + "/a%2Fb?x=%2F"),
    "bare ?": lambda base: Request(base + "/bare?"),
    "unicode": lambda base: Request(base + "/café?q=é"),
    # a URL no Request made safe (the crawl's own requests are not): the client does
    "unicode unsafe": lambda base: Request(base + "/résumé", purpose="robots"),
    "credentials": lambda base: Request(base.replace("//", "//us%40er:p%3Ass@") + "/private"),
    "own auth": lambda base: Request(base.replace("//", "//user:pw@") + "/own-auth",
                                     headers={"Authorization": "Bearer token"}),
    "redirect": lambda base: Request(base + "/redirect-once"),
    # Request refuses such a header when built; the clients still refuse it if one slips by
    "bad header": lambda base: _unchecked_headers(Request(base + "/bad-header"),
                                                  (("X-Bad", "a\r\nInjected: 1"),)),
}

Sent = tuple[list[Recorded], dict[str, Outcome]]


def _unchecked_headers(request: Request, headers: tuple[tuple[str, str], ...]) -> Request:
    object.__setattr__(request, "headers", headers)
    return request


def _send_all(mode: str) -> Sent:
    """Every case through a fresh fetcher of ``mode``: what the server read, and each
    case's outcome."""
    settings = CrawlSettings(mode=mode, timeout=10, concurrency=4, user_agent=USER_AGENT,
                             retries=0)
    with RecordingServer() as server:
        requests = {name: make(server.url) for name, make in CASES.items()}
        fetcher = get_fetcher(mode)
        fetcher.start(settings, Processor(DefaultSpider(), settings))
        outcomes: list[Outcome] = []
        try:
            for request in requests.values():
                fetcher.submit(request)
            deadline = time.monotonic() + 60
            while len(outcomes) < len(requests) and time.monotonic() < deadline:
                outcomes.extend(fetcher.completed(timeout=1.0))
        finally:
            fetcher.close()
        records = list(server.records)
    by_name: dict[str, Outcome] = {}
    for outcome in outcomes:
        # the outcome's request is compared whole: it travelled to the client and back
        name = next(n for n, r in requests.items() if r == outcome.request)
        by_name[name] = outcome
    assert set(by_name) == set(CASES)
    return records, by_name


@pytest.fixture(scope="module")
def sent() -> Iterator[Callable[[str], Sent]]:
    cache: dict[str, Sent] = {}

    def get(mode: str) -> Sent:
        if mode not in cache:
            cache[mode] = _send_all(mode)
        return cache[mode]

    yield get


def _one(records: list[Recorded], path: str) -> Recorded:
    found = [r for r in records if r.target.split("?")[0] == path]
    assert len(found) == 1, [r.line for r in records]
    return found[0]


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_a_form_and_a_json_body_arrive_with_their_type_and_bytes(mode, sent):
    records, outcomes = sent(mode)
    form = _one(records, "/form")
    assert form.line == "POST /form HTTP/1.1"
    assert form.body == b"q=desk+lamp&page=2"
    assert form.header("Content-Type") == "application/x-www-form-urlencoded"
    assert form.header("Content-Length") == str(len(form.body))
    data = _one(records, "/json")
    assert data.line == "POST /json HTTP/1.1"
    assert data.body == '{"q":"lamp","tags":["a","é"]}'.encode()
    assert data.header("Content-Type") == "application/json"
    assert data.header("Content-Length") == str(len(data.body))
    assert outcomes["form"].error is None and outcomes["json"].error is None


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_methods_arrive_with_the_body_framing_they_need(mode, sent):
    records, outcomes = sent(mode)
    put = _one(records, "/put")
    assert (put.method, put.body) == ("PUT", b"\x00raw\xff")
    assert put.header("Content-Length") == "5"
    assert put.header("Content-Type") == "application/octet-stream"
    for path, method in (("/delete", "DELETE"), ("/empty-post", "POST")):
        record = _one(records, path)
        assert (record.method, record.body) == (method, b"")
        assert record.header("Content-Length") == "0"
        assert record.header("Content-Type") is None
    head = _one(records, "/head")
    assert head.line == "HEAD /head HTTP/1.1"
    assert head.header("Content-Length") is None
    assert (outcomes["head"].status, outcomes["head"].error) == (200, None)
    for path in ("/plain", "/head"):  # no body, no type, no framing unless given
        record = _one(records, path)
        assert record.body == b""
        assert record.header("Content-Type") is None
        assert record.header("Content-Length") is None
        assert record.header("Transfer-Encoding") is None


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_headers_are_the_requests_over_the_crawls_defaults(mode, sent):
    records, _ = sent(mode)
    plain = _one(records, "/plain")
    assert plain.line == "GET /plain HTTP/1.1"
    assert plain.header("User-Agent") == USER_AGENT
    assert plain.header("Accept") == "*/*"
    assert plain.header("Accept-Encoding") == outgoing.ACCEPT_ENCODING
    assert plain.header("Host") == records[0].header("Host")
    own = _one(records, "/headers")
    assert own.header("X-Custom") == "yes"
    assert own.header("User-Agent") == "spider/2"  # the spider's wins
    assert own.values("X-Twice") == ["1", "2"]  # a repeated name: one line each
    # a value outside ASCII is sent as UTF-8
    assert own.header("X-Text") == "café".encode().decode("latin-1")
    assert own.header("Content-Length") is None  # framing is the client's, not given
    assert own.header("Cookie") == "a=1; b=2"


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_the_request_line_keeps_the_url_as_given(mode, sent):
    records, _ = sent(mode)
    targets = {r.target for r in records}
    assert "/order?b=2&a=1" in targets  # not re-ordered
    assert "/flag?flag" in targets  # not turned into ?flag=
    assert "/a%2Fb?x=%2F" in targets  # not unquoted
    assert "/bare?" in targets  # not dropped
    assert "/caf%C3%A9?q=%C3%A9" in targets  # UTF-8, percent-encoded
    assert "/r%C3%A9sum%C3%A9" in targets


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_credentials_in_the_url_become_basic_auth(mode, sent):
    records, _ = sent(mode)
    private = _one(records, "/private")
    assert private.line == "GET /private HTTP/1.1"
    assert private.header("Authorization") == "Basic " + base64.b64encode(
        b"us@er:p:ss").decode()
    assert "us" not in (private.header("Host") or "")
    assert _one(records, "/own-auth").header("Authorization") == "Bearer token"  # the spider's


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_redirects_are_not_followed_by_the_client(mode, sent):
    records, outcomes = sent(mode)
    assert len([r for r in records if r.target == "/redirect-once"]) == 1
    assert not [r for r in records if r.target == "/landed"]
    assert outcomes["redirect"].status == 302
    assert outcomes["redirect"].redirect is not None
    assert outcomes["redirect"].redirect.endswith("/landed")


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_a_header_that_cannot_be_sent_is_a_record_not_a_request(mode, sent):
    records, outcomes = sent(mode)
    assert not [r for r in records if r.target == "/bad-header"]
    assert outcomes["bad header"].error == "invalid url"
    assert not outcomes["bad header"].retry


@pytest.mark.parametrize("mode", [m for m in MODE_PARAMS if m != "sync"])
def test_every_mode_puts_the_same_requests_on_the_wire(mode, sent):
    def wire(records: list[Recorded]) -> list[tuple[str, list[tuple[str, str]], bytes]]:
        return sorted((r.line, sorted((k.lower(), v) for k, v in r.headers
                                      if k.lower() != "host"), r.body)
                      for r in records)

    assert wire(sent(mode)[0]) == wire(sent("sync")[0])


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://h/", "/"),
        ("http://h", "/"),
        ("http://h?x", "/?x"),
        ("http://h:8080/a/../b?c=%2f&&d", "/a/../b?c=%2f&&d"),
        ("https://u:p@h/x?#frag", "/x?"),
        ("http://[::1]:9/p?q", "/p?q"),
    ],
)
def test_target_is_the_path_and_query_as_spelled(url, target):
    assert outgoing.target(url) == target


def test_outgoing_headers_reject_what_no_client_can_send():
    defaults = outgoing.default_headers(CrawlSettings())
    bad = [("headers", (("Bad Name", "x"),)), ("headers", (("X", "a\nb"),)),
           ("method", "GET /x")]
    for field, value in bad:
        with pytest.raises(ValueError):  # Request itself refuses these when built
            Request("http://h/", **{field: value})
        request = Request("http://h/")
        object.__setattr__(request, field, value)  # as if one slipped by
        with pytest.raises(ValueError):
            outgoing.headers(request, defaults, latin1_wire=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_crawl_sends_what_the_spider_yields(mode):
    from sample_spiders import RequestsSpider

    with RecordingServer() as server:
        result = crawlkit.crawl(server.url + "/start", mode=mode, spider=RequestsSpider(),
                                user_agent=USER_AGENT, concurrency=4, timeout=10)
        records = list(server.records)
    assert result.stats.pages_failed == 0, result.stats.errors
    lines = {r.line for r in records}
    for line in RequestsSpider.LINES:
        assert line in lines, (line, sorted(lines))
    form = _one(records, "/search")
    assert (form.method, form.body) == ("POST", b"q=lamp")
    assert form.header("Content-Type") == "application/x-www-form-urlencoded"
    api = _one(records, "/api")
    assert api.body == b'{"page":2}' and api.header("Content-Type") == "application/json"
    assert _one(records, "/custom").header("X-Custom") == "yes"
    assert sorted(item["case"] for item in result) == sorted(RequestsSpider.CASES)
