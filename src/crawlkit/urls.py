"""URL canonicalisation and link resolution. Pure functions, no I/O.

The canonical form decides what "the same URL" means for de-duplication:

* scheme and host lower-cased, a unicode host in its IDNA (``xn--``) form,
  default port dropped, empty path becomes ``/``;
* fragment dropped;
* query parameters sorted by name (stable, so repeated names keep their order),
  so ``?b=2&a=1`` and ``?a=1&b=2`` are one URL;
* unsafe characters percent-encoded (UTF-8), existing escapes kept, so the
  result is ASCII.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .errors import InvalidURL

MAX_URL_LENGTH = 2083
"""Longer URLs are dropped when found as links (the limit browsers historically kept)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_USERINFO_SAFE = "%:!$&'()*+,;=-._~"
_HOST_FORBIDDEN = frozenset(" <>\"{}|\\^`\x7f" + "".join(map(chr, range(0x20))))
_CONTROL = {c: None for c in range(0x20)} | {0x7F: None}
_SKIP_PREFIXES = ("javascript:", "mailto:", "tel:", "data:", "file:", "ftp:", "#")


@lru_cache(maxsize=1 << 16)
def canonicalize(url: str) -> str:
    """Return the canonical form of an absolute http(s) URL.

    The result is ASCII: a unicode host becomes its IDNA (punycode) form, and the
    userinfo, path and query are percent-encoded as UTF-8.

    Raises:
        InvalidURL: the URL is not absolute, not http(s), or has a bad host or port.
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    if not host:
        raise InvalidURL(f"URL has no host: {url!r}")
    try:
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
        if any(ch in _HOST_FORBIDDEN for ch in host):
            raise InvalidURL(f"URL has an invalid host: {url!r}")
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{port}"
        if parts.username is not None:
            userinfo = quote(parts.username, safe=_USERINFO_SAFE)
            if parts.password is not None:
                userinfo = f"{userinfo}:{quote(parts.password, safe=_USERINFO_SAFE)}"
            netloc = f"{userinfo}@{netloc}"
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
        query = parts.query
        if query:
            query = _canonical_query(query)
    except UnicodeError as exc:  # a host IDNA refuses, a lone surrogate
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    return urlunsplit((scheme, netloc, path, query, ""))


_PLAIN_PAIR = re.compile(r"[A-Za-z0-9._~!$'()*,;:@/-]*(=[A-Za-z0-9._~!$'()*,;:@/-]*)?")


def _canonical_query(query: str) -> str:
    """Parameters sorted by name (stable), each ``name=value`` percent-encoded."""
    parts = query.split("&")
    if all(_PLAIN_PAIR.fullmatch(part) for part in parts):
        # nothing to decode or encode: only sort (what the general path gives too)
        pairs = [part if "=" in part else part + "=" for part in parts if part]
        pairs.sort(key=lambda pair: pair.partition("=")[0])
        return "&".join(pairs)
    decoded = parse_qsl(query, keep_blank_values=True)
    decoded.sort(key=lambda kv: kv[0])
    return urlencode(decoded, quote_via=quote, safe="/:@!$'()*,;")


def is_http_url(url: str) -> bool:
    """True when ``url`` canonicalises as an absolute http(s) URL."""
    try:
        canonicalize(url)
    except InvalidURL:
        return False
    return True


def resolve_link(base: str, href: str, base_origin: str | None = None) -> str | None:
    """Resolve ``href`` found on a page at ``base`` to a canonical URL.

    Returns ``None`` for links a crawler must not follow: non-http schemes
    (javascript:, mailto:, tel:, data:, file:), bare fragments, malformed URLs and
    URLs longer than :data:`MAX_URL_LENGTH`. Control characters are removed first,
    so they never reach the wire. Pass ``base_origin`` (``origin_of(base)``) to save
    recomputing it for every link of a page.
    """
    if not href.isprintable():
        href = href.translate(_CONTROL)
    href = href.strip()
    if not href:
        return None
    if href[0] == "/" and href[1:2] != "/" and "/." not in href and "\\" not in href:
        absolute = (base_origin or origin_of(base)) + href  # absolute path, no dot segments
    elif href[:8].lower().startswith(("http://", "https://")):
        # an absolute URL, whatever the base: urljoin would take "HTTP:///x" as a path
        absolute = href
    elif href.lower().startswith(_SKIP_PREFIXES):
        return None
    else:
        try:
            absolute = urljoin(base, href)
        except ValueError:
            return None
    if len(absolute) > MAX_URL_LENGTH:
        return None
    try:
        url = canonicalize(absolute)
    except InvalidURL:
        return None
    return url if len(url) <= MAX_URL_LENGTH else None  # percent-encoding lengthens it


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a canonical URL (whose path always starts with ``/``)."""
    return url[: url.index("/", url.index("//") + 2)]


def host_of(url: str) -> str:
    """The lower-case host (with port, when not the default) of a canonical URL."""
    start = url.index("//") + 2
    end = url.find("/", start)
    return url[start:end if end >= 0 else None].rpartition("@")[2]
