"""Asynchronous HTTP with aiohttp: shared by the async and multiprocess strategies.

aiohttp's parser refuses some response heads that browsers and requests read
(a header line without a colon, a repeated Content-Length). Such a page is
fetched once more with :mod:`.sync`, in a thread, so every strategy reads it
the same way.
"""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import aiohttp.http_exceptions
import yarl

from ..errors import Reason
from ..models import FetchResult, Request
from ..proxies import parse_proxy
from ..settings import CrawlSettings
from ..tls import client_context
from . import outgoing
from .errors import (
    FIRST,
    LAST,
    BodyTooLarge,
    ExceptionTable,
    ProxyFailed,
    UnsendableURL,
    check_encodings,
    failed_fetch,
)
from .netguard import check_host, check_ip, is_ip_literal
from .sync import read_leniently

CHUNK = 64 * 1024

EXCEPTIONS: ExceptionTable = (
    *FIRST,
    (aiohttp.http_exceptions.DecompressSizeError, Reason.TOO_LARGE),
    (aiohttp.http_exceptions.ContentEncodingError, Reason.BAD_ENCODING),
    # wraps ContentLengthError or TransferEncodingError: the body ended early
    ((aiohttp.ClientPayloadError, aiohttp.http_exceptions.ContentLengthError,
      aiohttp.http_exceptions.TransferEncodingError), Reason.TRUNCATED),
    ((aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError), Reason.INVALID_URL),
    (aiohttp.TooManyRedirects, Reason.TOO_MANY_REDIRECTS),
    (aiohttp.ServerDisconnectedError, Reason.DISCONNECTED),
    (aiohttp.ClientConnectorDNSError, Reason.DNS),
    ((aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch), Reason.TLS),
    *LAST,
    ((aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError), Reason.CONNECTION),
)
"""aiohttp's exceptions, most specific first (see :mod:`.errors`)."""


class _PublicResolver(aiohttp.abc.AbstractResolver):
    """Resolves like aiohttp's default resolver, refusing non-public answers."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()
        # proxy hosts the crawl was given: the user's choice, not checked (one event
        # loop's tasks touch it, between awaits: no lock)
        self.trusted: set[str] = set()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if host not in self.trusted:
            for answer in answers:
                check_ip(answer["host"])
        return answers

    async def close(self) -> None:
        await self._inner.close()


_NO_AUTO_HEADERS = ("Content-Type",)
"""aiohttp would add ``Content-Type: application/octet-stream`` to a body sent
without one; a request is sent with the headers it was given."""


def _exact(url: str) -> yarl.URL:
    """``url`` for aiohttp, sent as spelled: not re-quoted, a bare ``?`` kept (yarl
    cannot hold an empty query, so it goes into the path), and without the
    credentials, which :func:`.outgoing.headers` has turned into ``Authorization``
    (aiohttp refuses both at once)."""
    try:
        parsed = yarl.URL(url, encoded=True)
        user = parsed.raw_user  # parses the host and port
    except ValueError as exc:
        raise UnsendableURL(url) from exc
    if user is not None:
        parsed = parsed.with_user(None)
    if url.endswith("?") and not parsed.raw_query_string:
        parsed = parsed.with_path(parsed.raw_path + "?", encoded=True)
    return parsed


def new_session(settings: CrawlSettings) -> aiohttp.ClientSession:
    """One ClientSession for the whole crawl: pooled connections, total timeout per
    request, the crawl's default headers. Call from inside the running event loop."""
    connector = aiohttp.TCPConnector(
        limit=settings.effective_concurrency,
        limit_per_host=0,
        ttl_dns_cache=300,
        resolver=_PublicResolver() if settings.block_private else None,
        ssl=client_context() or True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=settings.timeout),
        headers=outgoing.default_headers(settings),
        cookie_jar=aiohttp.DummyCookieJar(),  # stateless, as in every strategy
        auto_decompress=True,
    )


async def fetch(
    session: aiohttp.ClientSession, request: Request, settings: CrawlSettings
) -> FetchResult:
    """Send ``request`` once (its method, headers, body and URL as built), without
    following redirects, under the crawl's limits, on a ``session`` from
    :func:`new_session` with the same settings (it carries the default headers)."""
    started = time.perf_counter()
    first_byte = started
    status: int | None = None
    headers: dict[str, str] = {}
    set_cookies: list[str] = []  # every Set-Cookie line, unmerged
    try:
        url = outgoing.sendable(request.url)
        if settings.block_private:
            host = urlsplit(url).hostname or ""
            if is_ip_literal(host):  # aiohttp connects to literals without resolving
                check_ip(host)
        defaults = outgoing.default_headers(settings)
        lines = outgoing.headers(request, defaults, latin1_wire=False)
        proxy = proxy_headers = None
        if request.proxy is not None:
            proxy, proxy_headers = await _proxy(session, request.proxy, url, lines, settings)
        # only the session's own headers: nothing for aiohttp to merge
        sent_lines = None if lines == list(defaults) else lines
        try:
            sent = await session.request(
                request.method, _exact(url), headers=sent_lines, data=request.body or None,
                allow_redirects=False, skip_auto_headers=_NO_AUTO_HEADERS,
                proxy=proxy, proxy_headers=proxy_headers,
            )
        except (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError,
                aiohttp.ClientConnectorDNSError) as exc:
            if proxy is None:
                raise
            # the proxy could not be reached (through a proxy, the only name aiohttp
            # resolves is the proxy's), or it refused the CONNECT (407...)
            raise ProxyFailed(parse_proxy(proxy).label) from exc
        async with sent as response:
            first_byte = time.perf_counter()
            status = response.status
            if status == 407 and proxy is not None:
                raise ProxyFailed("407")
            for key, value in response.headers.items():
                key = key.lower()
                if not value.isascii():  # bytes as latin-1, as http.client and llhttp read them
                    value = value.encode("utf-8", "surrogateescape").decode("latin-1")
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
                if key == "set-cookie":
                    set_cookies.append(value)
            check_encodings(response.headers.get("Content-Encoding"))
            declared = response.content_length
            if declared is not None and declared > settings.max_bytes:
                raise BodyTooLarge(declared)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > settings.max_bytes:
                    raise BodyTooLarge(size)
                chunks.append(chunk)
            body = b"".join(chunks)
    except Exception as exc:
        if status is None and isinstance(exc, aiohttp.ClientResponseError):
            return await asyncio.to_thread(read_leniently, request, settings)
        return failed_fetch(request, status, headers, exc, started, first_byte, EXCEPTIONS)
    return FetchResult(request, status, headers, body, None, started, first_byte,
                       time.perf_counter(), tuple(set_cookies))


async def _proxy(
    session: aiohttp.ClientSession, proxy_url: str, url: str, lines: outgoing.Headers,
    settings: CrawlSettings,
) -> tuple[str, dict[str, str] | None]:
    """aiohttp's ``proxy=`` (without credentials) and ``proxy_headers=`` for a request
    to ``url`` through ``proxy_url``.

    The credentials go as ``Proxy-Authorization``: on the request itself (``lines``)
    for a plain HTTP proxy, in ``proxy_headers`` for an https target, which aiohttp
    puts on the CONNECT only (never inside the tunnel). The proxy's host is not
    guarded (the user chose it); with ``--block-private`` the target is checked
    here, since the proxy connects to it.
    """
    proxy = parse_proxy(proxy_url)
    if settings.block_private:
        resolver = getattr(session.connector, "_resolver", None)
        if isinstance(resolver, _PublicResolver):
            resolver.trusted.add(proxy.host)
        parts = urlsplit(url)
        await asyncio.to_thread(check_host, parts.hostname or "",
                                parts.port or (443 if parts.scheme == "https" else 80))
    auth = proxy.authorization
    if auth is None:
        return proxy.address, None
    if url.startswith("https:"):
        return proxy.address, {"Proxy-Authorization": auth}
    lines.append(("Proxy-Authorization", auth))
    return proxy.address, None
