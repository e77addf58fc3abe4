"""Local servers for the tests: all on 127.0.0.1, port 0, run in background threads."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import brotli
from aiohttp import web

from crawlkit.lab.servers import LoopbackServer


class FaultServer:
    """A raw-socket HTTP server whose paths misbehave on purpose.

    ``/ok``         200 with a small HTML page
    ``/hang``       reads the request and never answers
    ``/stall``      sends headers and part of the body, then stalls
    ``/truncated``  declares 1000 bytes, sends 100, closes
    ``/huge``       declares a body larger than any test limit
    ``/drip``       sends one byte every 0.2 s, forever
    ``/latin1``     an ISO-8859-1 page declared in the header

    and the paths of :data:`HOSTILE` and :data:`BROKEN`.
    """

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if path == "/ok":
                body = b"<html><head><title>fine</title></head><body>ok</body></html>"
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif path == "/latin1":
                body = "<html><title>caf\xe9</title></html>".encode("latin-1")
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                             b"Content-Type: text/html; charset=iso-8859-1\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif path == "/hang":
                await asyncio.sleep(3600)
            elif path == "/stall":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 100\r\n\r\n<html>")
                await writer.drain()
                await asyncio.sleep(3600)
            elif path == "/truncated":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 1000\r\n\r\n" + b"x" * 100)
            elif path == "/huge":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 999999999999\r\n\r\n<html>")
            elif path == "/drip":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 100000\r\n\r\n")
                while True:
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.2)
            elif path in HOSTILE:
                await HOSTILE[path](self, writer)
            elif path in BROKEN:
                await BROKEN[path](self, writer)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
                             b"Content-Length: 0\r\n\r\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> str:
        for coding in ("gzip", "deflate", "br"):
            _bomb(coding)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self.url

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def _response(status: str, headers: dict[str, str], body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if "Transfer-Encoding" not in headers and "Content-Length" not in headers:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


_BOMB_SIZE = 20 * 1024 * 1024  # 20 MiB of zeros: compresses to a few KB


@functools.cache
def _bomb(coding: str) -> bytes:
    """Compressed once per session, not per request (compressing 20 MiB takes a while)."""
    zeros = b"\0" * _BOMB_SIZE
    if coding == "gzip":
        return gzip.compress(zeros, compresslevel=6)
    if coding == "deflate":
        return zlib.compress(zeros, 6)
    return bytes(brotli.compress(zeros, quality=4))


async def _gzip_bomb(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = _bomb("gzip")
    writer.write(_response("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "gzip"}, body))


async def _deflate_bomb(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = _bomb("deflate")
    writer.write(_response("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "deflate"}, body))


async def _brotli_bomb(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = _bomb("br")
    writer.write(_response("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "br"}, body))


async def _stacked(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = b"<title>stacked</title>"
    for _ in range(4):
        body = gzip.compress(body)
    writer.write(_response("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "gzip, gzip, gzip, gzip"}, body))


async def _gzip_ok(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = gzip.compress(b"<title>zipped</title>")
    writer.write(_response("200 OK", {"Content-Type": "text/html",
                                      "Content-Encoding": "gzip"}, body))


async def _reset_mid_body(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n"
                 + b"x" * 500)
    await writer.drain()
    await asyncio.sleep(0.05)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST


async def _chunked_forever(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"10\r\n" + b"y" * 16 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


async def _image(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    writer.write(_response("200 OK", {"Content-Type": "image/png"}, png))


async def _empty(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(_response("200 OK", {"Content-Type": "text/html"}, b""))


async def _no_type(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(_response("200 OK", {}, b"%PDF-1.4 not html"))


async def _bad_charset(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = b"<title>bad \xff\xfe bytes</title>"
    writer.write(_response("200 OK", {"Content-Type": "text/html; charset=utf-8"}, body))


async def _meta_charset(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = '<meta charset="windows-1251"><title>\u043f\u0440\u0438\u0432\u0435\u0442</title>'
    writer.write(_response("200 OK", {"Content-Type": "text/html"}, body.encode("cp1251")))


async def _nested(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = b"<title>deep</title>" + b"<div>" * 100_000 + b"<a href='/ok'>x</a>"
    writer.write(_response("200 OK", {"Content-Type": "text/html"}, body))


async def _malformed(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    body = b"<html><title>broken</title><body><div><a href='/ok'>x<p></span></td><a href=/empty>y"
    writer.write(_response("200 OK", {"Content-Type": "text/html"}, body))


async def _redirect_file(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(_response("302 Found", {"Location": "file:///etc/passwd"}, b""))


async def _redirect_self(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(_response("302 Found", {"Location": "/redirect-self"}, b""))


def _reset_now(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST at once, nothing sent


async def _reset(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    _reset_now(writer)


async def _close(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    pass  # the connection closes cleanly, no response


async def _bad_gzip(server: FaultServer, writer: asyncio.StreamWriter) -> None:
    writer.write(_response("200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip"},
                           b"this is not gzip at all" * 10))


HOSTILE = {
    "/gzip-bomb": _gzip_bomb,
    "/deflate-bomb": _deflate_bomb,
    "/br-bomb": _brotli_bomb,
    "/stacked": _stacked,
    "/gzip-ok": _gzip_ok,
    "/reset-mid-body": _reset_mid_body,
    "/chunked-forever": _chunked_forever,
    "/image": _image,
    "/empty": _empty,
    "/no-type": _no_type,
    "/bad-charset": _bad_charset,
    "/meta-charset": _meta_charset,
    "/nested": _nested,
    "/malformed": _malformed,
    "/redirect-file": _redirect_file,
    "/redirect-self": _redirect_self,
    "/reset": _reset,
    "/close": _close,
    "/bad-gzip": _bad_gzip,
}


def _page(title: str) -> bytes:
    return f"<html><head><title>{title}</title></head><body>ok</body></html>".encode()


def _raw(head: bytes, body: bytes) -> Callable[[FaultServer, asyncio.StreamWriter],
                                               Awaitable[None]]:
    async def handler(server: FaultServer, writer: asyncio.StreamWriter) -> None:
        writer.write(head.replace(b"{n}", str(len(body)).encode()) + body)

    return handler


BROKEN = {
    # a header line without a colon, among good ones
    "/no-colon": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                      b"This line has no colon\r\nContent-Length: {n}\r\n\r\n",
                      _page("no colon")),
    # an obs-fold continuation line (RFC 9112 section 5.2)
    "/obs-fold": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                      b"X-Folded: one\r\n two\r\nContent-Length: {n}\r\n\r\n",
                      _page("obs fold")),
    # LF alone ends every line
    "/bare-lf": _raw(b"HTTP/1.1 200 OK\nConnection: close\nContent-Type: text/html\n"
                     b"Content-Length: {n}\n\n", _page("bare lf")),
    # a status line without a reason phrase
    "/no-reason": _raw(b"HTTP/1.1 200\r\nConnection: close\r\nContent-Type: text/html\r\n"
                       b"Content-Length: {n}\r\n\r\n", _page("no reason")),
    # HTTP/1.0, no Content-Length: the body ends when the server closes
    "/http10-eof": _raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n",
                        _page("http 1.0")),
    # the same Content-Length twice
    "/dup-length": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                        b"Content-Length: {n}\r\nContent-Length: {n}\r\n\r\n",
                        _page("dup length")),
    # bytes outside ASCII in header values: latin-1, then UTF-8
    "/non-ascii": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                       b"X-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n"
                       b"Content-Length: {n}\r\n\r\n", _page("non ascii")),
    # a charset nobody knows
    "/bogus-charset": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                           b"Content-Type: text/html; charset=no-such-charset\r\n"
                           b"Content-Length: {n}\r\n\r\n", _page("bogus charset")),
    # not HTTP at all: no client reads it
    "/garbage": _raw(b"HELLO THERE\r\nthis is not http\r\n\r\n", _page("garbage")),
}
"""Responses that break the letter of HTTP/1.1 but that browsers and requests read
(all but ``/garbage``, which nobody reads)."""


def closed_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PoliteServer(LoopbackServer):
    """An aiohttp site that watches how it is crawled.

    ``/robots.txt``       ``robots`` text (status ``robots_status``)
    ``/p/{i}``            page i of ``pages``, linking to i+1 and to ``/private/{i}``
    ``/private/{i}``      a page robots.txt may forbid
    ``/retry/{key}``      503 (``Retry-After: after``) for the first ``fails`` requests
    ``/retry-date/{key}`` like ``/retry`` with an HTTP-date Retry-After
    It records every request start (time, path) and the most requests in flight.
    """

    def __init__(self, pages: int = 10, latency: float = 0.0, robots: str = "",
                 robots_status: int = 200, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(ssl_context=ssl_context)
        self.pages = pages
        self.latency = latency
        self.robots = robots
        self.robots_status = robots_status
        self.starts: list[tuple[float, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.counts: dict[str, int] = {}

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        self.starts.append((time.perf_counter(), path))
        self.counts[path] = self.counts.get(path, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if path == "/robots.txt":
                return web.Response(status=self.robots_status, text=self.robots)
            if path.startswith(("/retry/", "/retry-date/")):
                fails = int(request.query.get("fails", "1"))
                after = request.query.get("after", "0")
                if self.counts[path] <= fails:
                    if path.startswith("/retry-date/"):
                        when = datetime.now(timezone.utc) + timedelta(seconds=int(after))
                        after = format_datetime(when, usegmt=True)
                    return web.Response(status=503, headers={"Retry-After": after})
                return web.Response(text="<title>recovered</title>", content_type="text/html")
            if path == "/set-cookie":
                target = request.query.get("to", "/echo")
                return web.Response(status=302, headers={"Set-Cookie": "session=secret; Path=/",
                                                         "Location": target})
            if path == "/echo":
                cookie = request.headers.get("Cookie", "none")
                auth = request.headers.get("Authorization", "none")
                return web.Response(text=f"<title>cookie={cookie} auth={auth}</title>",
                                    content_type="text/html")
            if path.startswith(("/p/", "/private/")):
                i = int(path.rsplit("/", 1)[1])
                links = ""
                if path.startswith("/p/") and i + 1 < self.pages:
                    links = f'<a href="/p/{i + 1}">next</a><a href="/private/{i}">private</a>'
                return web.Response(text=f"<title>{path}</title>{links}", content_type="text/html")
            return web.Response(status=404)
        finally:
            self.in_flight -= 1

    def gaps(self, prefix: str) -> list[float]:
        """Seconds between successive request starts on paths under ``prefix``."""
        times = [t for t, p in self.starts if p.startswith(prefix)]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived on the wire."""

    line: str
    """The request line, e.g. ``GET /a?b=2&a=1 HTTP/1.1``."""
    headers: tuple[tuple[str, str], ...]
    """Header lines in the order sent, names as spelled by the client."""
    body: bytes

    @property
    def method(self) -> str:
        return self.line.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.line.split(" ")[1]

    def header(self, name: str) -> str | None:
        """The value of the one line named ``name`` (any case); None when absent."""
        values = self.values(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        """Every value sent under ``name`` (any case), in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class RecordingServer:
    """A raw-socket HTTP/1.1 server that records every request it reads.

    Reads requests (keep-alive, bodies by Content-Length or chunked) and answers
    each with a small HTML page, or with ``302 Location: /landed`` for a target
    starting with ``/redirect``. :attr:`records` holds them in arrival order.
    """

    def __init__(self) -> None:
        self.port = 0
        # appended on the server's loop thread only; tests read it once the fetch is done
        self.records: list[Recorded] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def recorded(self, target_prefix: str) -> list[Recorded]:
        """The requests whose target starts with ``target_prefix``."""
        return [r for r in self.records if r.target.startswith(target_prefix)]

    def one(self, target_prefix: str) -> Recorded:
        """The only request whose target starts with ``target_prefix``."""
        found = self.recorded(target_prefix)
        assert len(found) == 1, [r.line for r in self.records]
        return found[0]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed its keep-alive connection
                line, *lines = head[:-4].decode("latin-1").split("\r\n")
                headers = tuple((k, v.strip()) for k, _, v in (h.partition(":") for h in lines))
                names = {k.lower(): v for k, v in headers}
                if names.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        chunk = await reader.readexactly(size + 2)
                        if not size:
                            break
                        body += chunk[:-2]
                else:
                    body = await reader.readexactly(int(names.get("content-length", "0")))
                record = Recorded(line, headers, body)
                self.records.append(record)
                if record.target.startswith("/redirect"):
                    status, extra, page = "302 Found", "Location: /landed\r\n", b""
                else:
                    status, extra = "200 OK", "Content-Type: text/html\r\n"
                    page = b"<html><head><title>recorded</title></head><body>ok</body></html>"
                writer.write(f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(page)}\r\n\r\n"
                             .encode("latin-1") + (b"" if record.method == "HEAD" else page))
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self.url

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
