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

from ..errors import Reason
from ..models import FetchResult, Request
from ..settings import CrawlSettings
from .errors import FIRST, LAST, BodyTooLarge, ExceptionTable, check_encodings, failed_fetch
from .netguard import check_ip, is_ip_literal
from .sync import read_leniently
from .tls import client_context

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

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            check_ip(answer["host"])
        return answers

    async def close(self) -> None:
        await self._inner.close()


def new_session(settings: CrawlSettings) -> aiohttp.ClientSession:
    """One ClientSession for the whole crawl: pooled connections, total timeout per
    request, the crawl's User-Agent. Call from inside the running event loop."""
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
        headers={"User-Agent": settings.user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),  # stateless, as in every strategy
        auto_decompress=True,
    )


async def fetch(
    session: aiohttp.ClientSession, request: Request, settings: CrawlSettings
) -> FetchResult:
    """GET ``request.url`` once, without following redirects, under the crawl's limits."""
    started = time.perf_counter()
    first_byte = started
    status: int | None = None
    headers: dict[str, str] = {}
    try:
        if settings.block_private:
            host = urlsplit(request.url).hostname or ""
            if is_ip_literal(host):  # aiohttp connects to literals without resolving
                check_ip(host)
        async with session.get(request.url, allow_redirects=False) as response:
            first_byte = time.perf_counter()
            status = response.status
            for key, value in response.headers.items():
                key = key.lower()
                if not value.isascii():  # bytes as latin-1, as http.client and llhttp read them
                    value = value.encode("utf-8", "surrogateescape").decode("latin-1")
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
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
                       time.perf_counter())
