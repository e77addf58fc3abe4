"""Blocking HTTP with requests: shared by the sync, threaded and threadpool strategies.

One function, :func:`fetch`, turns a :class:`Request` into a :class:`FetchResult`
under the crawl's limits; it never raises for a failed page.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3 import HTTPHeaderDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import Reason
from ..models import FetchResult, Request
from ..proxies import parse_proxy
from ..settings import CrawlSettings
from ..tls import ca_bundle
from . import outgoing
from .errors import (
    FIRST,
    LAST,
    BodyTooLarge,
    Deadline,
    ExceptionTable,
    ProxyFailed,
    UnsendableURL,
    check_encodings,
    failed_fetch,
    reason_for,
)
from .netguard import check_host, resolve_public

CHUNK = 64 * 1024

EXCEPTIONS: ExceptionTable = (
    *FIRST,
    ((requests.Timeout, urllib3.exceptions.ReadTimeoutError), Reason.TIMEOUT),
    ((requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError),
     Reason.BAD_ENCODING),
    # urllib3's IncompleteRead and InvalidChunkLength are http.client.IncompleteRead
    ((requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead), Reason.TRUNCATED),
    ((requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
      requests.exceptions.MissingSchema, urllib3.exceptions.LocationValueError),
     Reason.INVALID_URL),
    (requests.TooManyRedirects, Reason.TOO_MANY_REDIRECTS),
    ((requests.exceptions.SSLError, urllib3.exceptions.SSLError), Reason.TLS),
    (urllib3.exceptions.NameResolutionError, Reason.DNS),
    # a ConnectionResetError, but the server closed cleanly before answering
    (http.client.RemoteDisconnected, Reason.DISCONNECTED),
    *LAST,
    ((requests.ConnectionError, urllib3.exceptions.HTTPError), Reason.CONNECTION),
)
"""requests' and urllib3's exceptions, most specific first (see :mod:`.errors`)."""


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        infos = resolve_public(self._dns_host, self.port)
        self._dns_host = str(infos[0][4][0])  # connect to the address that was checked
        return super()._new_conn()


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        infos = resolve_public(self._dns_host, self.port)
        self._dns_host = str(infos[0][4][0])
        return super()._new_conn()


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _ExactAdapter(HTTPAdapter):
    """An adapter that sends the request target as spelled in the URL.

    requests rebuilds the target from ``urlsplit``, which drops a bare ``?``;
    urllib3 then only percent-encodes what may not appear (none of it in a safe
    URL) and upper-cases the hex digits of escapes.
    """

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        url = request.url or ""
        if proxies and url.startswith("http://"):  # a plain HTTP proxy takes the whole URL
            return outgoing.absolute_target(url)
        return outgoing.target(url)

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        # the credentials encoded as by the other clients (UTF-8), not as requests does
        auth = parse_proxy(proxy).authorization
        return {"Proxy-Authorization": auth} if auth is not None else {}


class _GuardedAdapter(_ExactAdapter):
    """An adapter whose connections refuse non-public addresses (``--block-private``)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool, "https": _GuardedHTTPSPool,
        }


def new_session(settings: CrawlSettings, pool_size: int | None = None) -> requests.Session:
    """A Session with the crawl's default headers, no automatic retries or redirects,
    and a connection pool sized for ``pool_size`` concurrent requests."""
    session = requests.Session()
    # no cookie is kept: a stateless crawl behaves the same in every strategy (threaded
    # workers each have a session) and carries nothing from one origin to another
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # Environment settings are read once here, not on every request: requests would
    # otherwise scan os.environ for proxies and stat ~/.netrc per request, a large
    # share of its CPU on small pages. Like aiohttp's default, proxies
    # from the environment are not used, and no netrc credentials are ever sent.
    session.trust_env = False
    session.verify = ca_bundle() or True
    session.headers.clear()
    session.headers.update(outgoing.default_headers(settings))
    session.max_redirects = settings.max_redirects
    size = pool_size or settings.effective_concurrency
    adapter_cls = _GuardedAdapter if settings.block_private else _ExactAdapter
    adapter = adapter_cls(pool_connections=max(10, size), pool_maxsize=size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _send(
    session: requests.Session, request: Request, settings: CrawlSettings
) -> requests.Response:
    """Send ``request`` as built (see :mod:`.outgoing`), streaming, without following
    a redirect.

    The PreparedRequest goes straight to the session's adapter: ``Session.request``
    would merge environment settings, cookies, hooks and auth into every request
    and prepare the next hop of a redirect it will not follow (a tenth of the CPU
    in a loop over small pages), and re-quote the URL, and drop a bare ``?``.
    """
    url = outgoing.sendable(request.url)
    prepared = requests.PreparedRequest()
    prepared.method = request.method
    prepared.url = url
    lines = HTTPHeaderDict()  # keeps a name the request repeats on lines of its own
    for name, value in outgoing.headers(request, outgoing.default_headers(settings),
                                         latin1_wire=True):
        lines.add(name, value)
    prepared.headers = lines  # type: ignore[assignment]
    prepared.body = request.body or None
    prepared.hooks = {"response": []}
    adapter = session.get_adapter(url)
    proxies = _proxies(request, url, settings)
    try:
        return adapter.send(prepared, stream=True, timeout=(settings.timeout, settings.timeout),
                            verify=True if session.verify is None else session.verify,
                            cert=None, proxies=proxies)
    except ValueError as exc:
        if isinstance(exc, requests.RequestException):
            raise
        # urlsplit refused it before requests could (prepare_url is skipped here)
        raise UnsendableURL(url) from exc
    except requests.ConnectionError as exc:
        # the proxy could not be reached (ProxyError wraps the OS error of the
        # connection to it), or it refused the CONNECT; a timeout stays a timeout, as
        # aiohttp and geventhttpclient cannot tell a silent proxy from a slow target
        if proxies and ((isinstance(exc, requests.exceptions.ProxyError)
                         and reason_for(exc, _TIMEOUTS) is not Reason.TIMEOUT)
                        or _TUNNEL_REFUSED in str(exc)):
            raise ProxyFailed(parse_proxy(proxies["http"]).label) from exc
        raise


_TIMEOUTS: ExceptionTable = ((TimeoutError, Reason.TIMEOUT),)
"""The socket timeout under urllib3's ConnectTimeoutError (not the class itself: a
refused connection's NewConnectionError derives from it)."""


_TUNNEL_REFUSED = "Tunnel connection failed"
"""What http.client raises when a proxy answers CONNECT with anything but 2xx."""


def _proxies(request: Request, url: str, settings: CrawlSettings) -> dict[str, str]:
    """The ``proxies=`` for requests: the request's proxy for both schemes, or none.

    requests sends the proxy's credentials as ``Proxy-Authorization`` to the proxy
    only (on the CONNECT of an https target). The connection to the proxy is not
    guarded (the proxy is the user's choice); with ``--block-private`` the target
    is checked here, since the proxy connects to it.
    """
    if request.proxy is None:
        return {}
    proxy = parse_proxy(request.proxy)
    if settings.block_private:
        parts = urlsplit(url)
        check_host(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    return {"http": proxy.url, "https": proxy.url}


def read_leniently(request: Request, settings: CrawlSettings) -> FetchResult:
    """:func:`fetch` on a session of its own: how the strategies whose HTTP library has
    a stricter parser read a response head that parser refused, so that every
    strategy gives the page the same record."""
    with new_session(settings, pool_size=1) as session:
        return fetch(session, request, settings)


def fetch(session: requests.Session, request: Request, settings: CrawlSettings) -> FetchResult:
    """Send ``request`` once (its method, headers, body and URL as built), without
    following redirects.

    The whole fetch (connect, headers, body) must end within ``settings.timeout``
    and the body must stay under ``settings.max_bytes`` after decompression. The
    body is read with ``read1`` (one receive at a time) so that a server dripping
    bytes cannot hold a read open past the deadline.
    """
    started = time.perf_counter()
    deadline = started + settings.timeout
    first_byte = started
    status: int | None = None
    headers: dict[str, str] = {}
    try:
        response = _send(session, request, settings)
        try:
            first_byte = time.perf_counter()
            status = response.status_code
            headers = {k.lower(): v for k, v in response.headers.items()}
            set_cookies = tuple(response.raw.headers.getlist("Set-Cookie")) \
                if "set-cookie" in headers else ()
            if status == 407 and request.proxy is not None:
                raise ProxyFailed("407")
            check_encodings(headers.get("content-encoding"))
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > settings.max_bytes:
                raise BodyTooLarge(declared)
            raw = response.raw
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            chunks: list[bytes] = []
            size = 0
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise Deadline()
                if sock is not None:
                    sock.settimeout(remaining)  # a stalled body ends at the deadline
                chunk = raw.read1(CHUNK, decode_content=True)  # returns what one recv got
                if not chunk:
                    break
                size += len(chunk)
                if size > settings.max_bytes:
                    raise BodyTooLarge(size)
                chunks.append(chunk)
            body = b"".join(chunks)
        finally:
            response.close()
    except Exception as exc:
        return failed_fetch(request, status, headers, exc, started, first_byte, EXCEPTIONS)
    return FetchResult(request, status, headers, body, None, started, first_byte,
                       time.perf_counter(), set_cookies)
