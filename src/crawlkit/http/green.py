"""HTTP for the gevent strategy: geventhttpclient on gevent's own sockets.

requests under monkey-patching spends more CPU per page than the rest of the
gevent child put together (building a PreparedRequest, parsing headers with the
email package, the urllib3 pool); geventhttpclient parses responses with llhttp
in C and keeps one small connection pool per origin. This module keeps the
contract of :mod:`crawlkit.http.sync`: one request sent as built (see
:mod:`.outgoing`), no redirects followed, no cookies, no proxies from the
environment (only the request's own, through geventhttpclient's proxy support:
the absolute URL to a plain HTTP proxy, a CONNECT tunnel for https), the whole
fetch inside
``settings.timeout``, the body bounded by ``settings.max_bytes`` after
decompression, and the SSRF guard checking the address it connects to.

llhttp refuses some response heads that browsers and requests read (a header
line without a colon, obs-fold, bare LF line ends, a repeated Content-Length);
such a page is fetched once more with :mod:`.sync` (requests, on the patched
sockets), so every strategy reads it the same way.

Import it only in a process gevent has monkey-patched.
"""

from __future__ import annotations

import socket
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.header import Headers
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

from ..errors import Reason
from ..models import FetchResult, Request
from ..proxies import parse_proxy
from ..settings import CrawlSettings
from ..tls import ca_bundle
from . import outgoing
from .codings import BoundedDecoder
from .errors import (
    FIRST,
    LAST,
    BodyTooLarge,
    Deadline,
    ExceptionTable,
    ProxyFailed,
    TruncatedBody,
    UnsendableURL,
    failed_fetch,
)
from .netguard import check_host, check_ip, is_ip_literal, resolve_public

CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

EXCEPTIONS: ExceptionTable = (
    *FIRST,  # gevent.Timeout raises Deadline; early EOFs in a body become TruncatedBody
    *LAST,  # gevent's sockets raise the builtin OS errors
    # closed before a response began; raised over the ConnectionResetError of a
    # reset too, which the row above has already matched
    (HTTPConnectionClosed, Reason.DISCONNECTED),
    (HTTPParseError, Reason.CONNECTION),
)
"""geventhttpclient's exceptions, most specific first (see :mod:`.errors`)."""


class Clients:
    """One :class:`HTTPClient` per origin, the least recently used closed past ``keep``.

    Each client pools up to ``per_host`` connections, which the crawl's
    politeness already never exceeds for one origin.
    """

    def __init__(self, settings: CrawlSettings, keep: int | None = None) -> None:
        self._settings = settings
        self._keep = keep or max(10, settings.effective_concurrency)
        self._per_host = max(1, min(settings.per_host or settings.effective_concurrency,
                                    settings.effective_concurrency))
        self._headers = dict(outgoing.default_headers(settings))
        bundle = ca_bundle()
        self._ssl_options = {"ca_certs": bundle} if bundle else {}
        # only greenlets of one thread touch this: no lock (gevent switches only on I/O)
        self._clients: OrderedDict[tuple[str, str, int, str | None], HTTPClient] = OrderedDict()

    def for_url(self, url: str, proxy: str | None = None) -> tuple[HTTPClient, str]:
        """The client for ``url``'s origin (through ``proxy``, a proxy URL, when given)
        and the request target to send it, as spelled in ``url`` (geventhttpclient
        puts it on the request line as given, made absolute for a plain HTTP proxy)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsendableURL(str(exc)) from exc
        scheme, host = parts.scheme, parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            raise UnsendableURL(url)
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise UnsendableURL(url) from exc
        port = port or _DEFAULT_PORTS[scheme]
        target = outgoing.target(url)
        key = (scheme, host, port, proxy)
        client = self._clients.get(key)
        if client is None:
            client = self._new(scheme, host, port, proxy)
            self._clients[key] = client
            while len(self._clients) > self._keep:
                self._clients.popitem(last=False)[1].close()
        else:
            self._clients.move_to_end(key)
        return client, target

    def _new(self, scheme: str, host: str, port: int, proxy_url: str | None) -> HTTPClient:
        headers = dict(self._headers)
        connect_to = host
        proxy = parse_proxy(proxy_url) if proxy_url is not None else None
        if proxy is not None:
            # the proxy connects to the target: check the target here, not the proxy
            # (the user chose it); geventhttpclient sends the credentials to the proxy
            # only (Proxy-Authorization on a plain request, on the CONNECT for https)
            if self._settings.block_private:
                check_host(host, port)
        elif self._settings.block_private:
            # resolve and check once, then always connect to the checked address
            if is_ip_literal(host):
                check_ip(host.strip("[]"))
            else:
                connect_to = str(resolve_public(host, port)[0][4][0])
                literal = f"[{host}]" if ":" in host else host
                headers["Host"] = literal if port == _DEFAULT_PORTS[scheme] else f"{literal}:{port}"
        https = scheme == "https"
        ssl_options = dict(self._ssl_options)
        if https:
            ssl_options["server_hostname"] = host
        return HTTPClient(
            # through a plain proxy the client sends an absolute URL, with the port it
            # was given: none for the scheme's default, as the URL spells it
            connect_to, None if proxy is not None and port == _DEFAULT_PORTS[scheme] else port,
            headers=headers,
            concurrency=self._per_host,
            connection_timeout=self._settings.timeout,
            network_timeout=self._settings.timeout,
            block_size=CHUNK,
            ssl=https,
            ssl_options=ssl_options if https else None,
            proxy_host=proxy.host if proxy is not None else None,
            proxy_port=proxy.port if proxy is not None else None,
            proxy_user=proxy.username if proxy is not None else None,
            proxy_password=proxy.password if proxy is not None else None,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        while self._clients:
            self._clients.popitem()[1].close()


def fetch(clients: Clients, request: Request, settings: CrawlSettings) -> FetchResult:
    """Send ``request`` once (its method, headers, body and URL as built), under the
    crawl's limits; never raises for a failed page."""
    started = time.perf_counter()
    first_byte = started
    status: int | None = None
    headers: dict[str, str] = {}
    set_cookies: list[str] = []  # every Set-Cookie line, unmerged
    try:
        with gevent.Timeout(settings.timeout, Deadline):
            client, target = clients.for_url(outgoing.sendable(request.url), request.proxy)
            # the client's own defaults (the crawl's, and Host for a pinned address)
            # are under these: a name given here replaces them
            lines = Headers()
            for name, value in outgoing.headers(request, (), latin1_wire=True):
                lines.add(name, value)
            try:
                response = client.request(request.method, target, body=request.body,
                                          headers=lines)
            except (OSError, RuntimeError) as exc:
                if request.proxy is not None and _proxy_failed(exc):
                    raise ProxyFailed(parse_proxy(request.proxy).label) from exc
                raise
            try:
                first_byte = time.perf_counter()
                status = response.status_code
                if status == 407 and request.proxy is not None:
                    raise ProxyFailed("407")
                for key, value in response.items():
                    key = key.lower()
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
                    if key == "set-cookie":
                        set_cookies.append(value)
                decoder = BoundedDecoder(headers.get("content-encoding"), settings.max_bytes)
                declared = headers.get("content-length", "")
                if declared.isdigit() and int(declared) > settings.max_bytes:
                    raise BodyTooLarge(declared)
                chunks: list[bytes] = []
                while True:
                    try:
                        data = response.read(CHUNK)
                    except HTTPParseError as exc:  # "Incomplete response." at an early EOF
                        raise TruncatedBody(request.url) from exc
                    if not data:
                        break
                    chunks.append(decoder.feed(data))
                if not response.message_complete:
                    raise TruncatedBody(request.url)
                chunks.append(decoder.flush())
                body = b"".join(chunks)
            finally:
                response.release()
    except Exception as exc:
        if status is None and _unreadable_head(exc):
            from .sync import read_leniently  # requests: loaded only when needed

            return read_leniently(request, settings)
        return failed_fetch(request, status, headers, exc, started, first_byte, EXCEPTIONS)
    return FetchResult(request, status, headers, body, None, started, first_byte,
                       time.perf_counter(), tuple(set_cookies))


def _proxy_failed(exc: BaseException) -> bool:
    """True when a request sent through a proxy failed at the proxy: the connection
    to it refused or its name unknown (the target is the proxy's to reach), or the
    CONNECT refused (geventhttpclient raises a RuntimeError naming the proxy)."""
    if isinstance(exc, RuntimeError):
        return str(exc).startswith("Proxy ")
    return isinstance(exc, (ConnectionRefusedError, socket.gaierror))


def _unreadable_head(exc: BaseException) -> bool:
    """True when llhttp refused the response head (not when the connection closed)."""
    return isinstance(exc, HTTPParseError) and not isinstance(exc, HTTPConnectionClosed)
