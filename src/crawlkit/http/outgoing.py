"""What every client puts on the wire for a :class:`~crawlkit.models.Request`.

One rule for the three libraries, so a request leaves the same way in every
strategy:

* the request target is the URL's path and query exactly as in ``request.url``
  (:func:`target`): no re-quoting, no re-ordering, a bare ``?`` kept;
* the headers (:func:`headers`) are the crawl's defaults (:func:`default_headers`)
  with the request's own over them (a name the request sets replaces the default
  of that name; a name it repeats is sent on as many lines), credentials in the
  URL as Basic ``Authorization`` unless the request sets one, the engine's jar
  cookies (``request.jar_cookie``) joined to the request's own ``Cookie`` line
  (one line, as RFC 6265 section 5.4 asks), and the framing
  computed from the body: ``Content-Length`` for a body, ``0`` for a method other
  than GET, HEAD, OPTIONS and TRACE without one (as aiohttp always does), nothing
  otherwise (a request's own ``Content-Length`` and ``Transfer-Encoding`` are
  replaced). No ``Content-Type`` is added. A name the request repeats in other
  cases is spelled as it first was (aiohttp would keep only the last line);
* a header value outside ASCII is sent as UTF-8.

A request these rules cannot put on the wire (a method or header name that is
not a token, a header value with a line break) raises :class:`UnsendableRequest`.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ..errors import InvalidURL
from ..models import Request
from ..settings import CrawlSettings
from ..urls import safe_url
from .codings import ACCEPT_ENCODING
from .errors import UnsendableRequest, UnsendableURL

Headers = list[tuple[str, str]]
"""Header lines in the order to send, names as spelled."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def default_headers(settings: CrawlSettings) -> tuple[tuple[str, str], ...]:
    """The headers every request carries unless it sets its own of the same name."""
    return _defaults(settings.user_agent)


@lru_cache(maxsize=16)
def _defaults(user_agent: str) -> tuple[tuple[str, str], ...]:
    return (("User-Agent", user_agent), ("Accept", "*/*"), ("Accept-Encoding", ACCEPT_ENCODING))


def sendable(url: str) -> str:
    """``url`` as the clients take it: an ASCII URL as it is (every URL a
    :class:`Request` made safe), another made safe first (:func:`~crawlkit.urls.safe_url`).

    Raises:
        UnsendableURL: a URL that cannot be made safe.
    """
    if url.isascii():
        return url
    try:
        return safe_url(url)
    except InvalidURL as exc:
        raise UnsendableURL(url) from exc


def target(url: str) -> str:
    """The origin-form request target of an absolute URL, spelled as in ``url``:
    everything from the end of the host (and port) up to a fragment; ``/`` when
    the path is empty."""
    rest = url.partition("://")[2].partition("#")[0]
    cut = len(rest)
    for mark in "/?":
        found = rest.find(mark)
        if found != -1:
            cut = min(cut, found)
    path = rest[cut:]
    return path if path.startswith("/") else "/" + path


def absolute_target(url: str) -> str:
    """The absolute-form request target a plain HTTP proxy is sent: ``url`` without
    credentials or fragment, the path and query spelled as in :func:`target`."""
    scheme, _, rest = url.partition("://")
    netloc = rest.partition("#")[0]
    for mark in "/?":
        netloc = netloc.partition(mark)[0]
    return f"{scheme}://{netloc.rpartition('@')[2]}{target(url)}"


@lru_cache(maxsize=1024)
def basic_auth(url: str) -> str | None:
    """The ``Authorization`` value for the credentials in ``url`` (``user:password``
    percent-decoded, encoded as latin-1, as requests and aiohttp do), or None."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return None
    user, _, password = netloc.rpartition("@")[0].partition(":")
    userinfo = f"{unquote(user)}:{unquote(password)}"
    return "Basic " + base64.b64encode(userinfo.encode("latin-1", "replace")).decode("ascii")


def headers(
    request: Request, defaults: tuple[tuple[str, str], ...], *, latin1_wire: bool
) -> Headers:
    """The header lines to send for ``request`` (see the module docstring).

    Args:
        request: the request.
        defaults: the crawl's :func:`default_headers` (or the client's, when it adds
            some, such as a ``Host`` for a pinned address).
        latin1_wire: the library encodes header text as latin-1 (requests,
            geventhttpclient): a value outside ASCII is then given as the latin-1
            spelling of its UTF-8 bytes, so that UTF-8 is what is sent, as aiohttp
            (which encodes as UTF-8) sends it.

    Raises:
        UnsendableRequest: a method or header name that is not a token, or a header
            value holding a line break or NUL.
    """
    if not _TOKEN.fullmatch(request.method):
        raise UnsendableRequest(f"invalid method {request.method!r}")
    own = request.headers
    if not own:
        out = list(defaults)
        names: set[str] = set()
    else:
        spelling: dict[str, str] = {}
        for name, _ in own:
            spelling.setdefault(name.lower(), name)
        names = set(spelling)
        out = [(name, value) for name, value in defaults if name.lower() not in names]
        for name, value in own:
            if not _TOKEN.fullmatch(name):
                raise UnsendableRequest(f"invalid header name {name!r}")
            if _BAD_VALUE.search(value):
                raise UnsendableRequest(f"invalid value for header {name}: {value!r}")
            lower = name.lower()
            if lower in _FRAMING:
                continue
            name = spelling[lower]
            if latin1_wire and not value.isascii():
                value = value.encode("utf-8").decode("latin-1")
            out.append((name, value))
    if request.jar_cookie:
        jar = request.jar_cookie
        if not latin1_wire and not jar.isascii():  # each cookie apart: one may not be UTF-8
            jar = "; ".join(_as_text(cookie) for cookie in jar.split("; "))
        _add_jar_cookie(out, jar)
    if "authorization" not in names and "@" in request.url:
        auth = basic_auth(request.url)
        if auth is not None:
            out.append(("Authorization", auth))
    if request.body or request.method not in _BODYLESS_METHODS:
        out.append(("Content-Length", str(len(request.body))))
    return out


def _as_text(latin1: str) -> str:
    """A value the jar keeps as every client reads response headers (each byte as a
    latin-1 character) made text again for a library that encodes it as UTF-8, so
    that the bytes received are the bytes sent back (left as is when they are not
    UTF-8)."""
    try:
        return latin1.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return latin1


def _add_jar_cookie(out: Headers, jar: str) -> None:
    """Join the jar's cookies to the request's own ``Cookie`` line, or add one."""
    for i, (name, value) in enumerate(out):
        if name.lower() == "cookie":
            out[i] = (name, f"{value}; {jar}" if value else jar)
            return
    out.append(("Cookie", jar))
