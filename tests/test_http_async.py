"""Unit tests of the aiohttp fetch function alone, with aioresponses as the server."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aioresponses import aioresponses

from crawlkit import CrawlSettings, Request
from crawlkit.http import aio as http_async

URL = "http://unit.test/page"


@pytest.fixture
def settings():
    return CrawlSettings(mode="async", timeout=5, max_bytes=100)


async def _fetch(settings):
    async with http_async.new_session(settings) as session:
        return await http_async.fetch(session, Request(URL), settings)


@pytest.mark.asyncio
async def test_success_keeps_status_headers_and_body(settings):
    with aioresponses() as mocked:
        mocked.get(URL, status=200, body=b"<title>x</title>",
                   headers={"Content-Type": "text/html", "X-Thing": "1"})
        result = await _fetch(settings)
    assert result.error is None
    assert result.status == 200
    assert result.body == b"<title>x</title>"
    assert result.headers["x-thing"] == "1"
    assert result.finished >= result.first_byte >= result.started


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (asyncio.TimeoutError(), "timeout"),
        (aiohttp.ServerTimeoutError("slow"), "timeout"),
        (aiohttp.ClientConnectorError(None, ConnectionRefusedError(111, "refused")),
         "connection refused"),
        (aiohttp.ServerDisconnectedError(), "server disconnected"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), "truncated body"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "connection reset"),
    ],
)
async def test_client_errors_become_reasons(settings, exc, reason):
    with aioresponses() as mocked:
        mocked.get(URL, exception=exc)
        result = await _fetch(settings)
    assert result.error == reason
    assert result.body == b""


@pytest.mark.asyncio
async def test_body_over_max_bytes(settings):
    with aioresponses() as mocked:
        mocked.get(URL, status=200, body=b"x" * 500)
        result = await _fetch(settings)
    assert result.error == "too large"


@pytest.mark.asyncio
async def test_redirects_are_not_followed(settings):
    with aioresponses() as mocked:
        mocked.get(URL, status=302, headers={"Location": "/elsewhere"})
        result = await _fetch(settings)
    assert result.status == 302
    assert result.headers["location"] == "/elsewhere"


@pytest.mark.asyncio
async def test_a_head_aiohttp_refuses_is_read_by_the_lenient_client(fault_server):
    settings = CrawlSettings(mode="async", timeout=5)
    async with http_async.new_session(settings) as session:
        # llhttp refuses a header line without a colon and a repeated Content-Length
        for path in ("/no-colon", "/dup-length"):
            result = await http_async.fetch(session, Request(fault_server.url + path), settings)
            assert (result.status, result.error) == (200, None), path
            assert b"<title>" in result.body
        garbage = await http_async.fetch(session, Request(fault_server.url + "/garbage"),
                                         settings)
    assert (garbage.status, garbage.error) == (None, "connection error")
