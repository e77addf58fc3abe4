"""URL canonicalisation and link resolution. Pure functions, no I/O.

Two forms of a URL:

* the *safe* form (:func:`safe_url`) is what is sent: the URL as given, with only
  what must change changed (scheme and host lower-cased, the host IDNA-encoded,
  characters that may not appear in a URL percent-encoded, the fragment dropped).
  Query order, ``?flag`` without ``=``, and escapes such as ``%2F`` are kept, so
  servers that sign URLs or read arguments in order get what the page said.
* the *canonical* form (:func:`canonicalize`) is only the de-duplication key.

The canonical form decides what "the same URL" means for de-duplication:

* scheme and host lower-cased, a unicode host in its IDNA (``xn--``) form,
  default port dropped, empty path becomes ``/``;
* fragment dropped;
* query parameters sorted by name (stable, so repeated names keep their order),
  so ``?b=2&a=1`` and ``?a=1&b=2`` are one URL;
* unsafe characters percent-encoded (UTF-8), existing escapes kept, so the
  result is ASCII;
* a host that ends in a number is an IPv4 address, written as browsers read it
  (the WHATWG URL standard): ``127.1``, ``2130706433`` and ``0x7f.1`` are all
  ``127.0.0.1``, and one that is not a valid address is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from .errors import InvalidURL

MAX_URL_LENGTH = 2083
"""Longer URLs are dropped when found as links (the limit browsers historically kept)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_USERINFO_SAFE = "%:!$&'()*+,;=-._~"
_HOST_FORBIDDEN = frozenset(" <>\"{}|\\^`\x7f" + "".join(map(chr, range(0x20))))
_CONTROL = {c: None for c in range(0x20)} | {0x7F: None}
_SKIP_PREFIXES = ("javascript:", "mailto:", "tel:", "data:", "file:", "ftp:", "#")
_QUERY_SAFE = _PATH_SAFE + "?"
_SAFE_ALREADY = re.compile(
    r"https?://([a-z0-9.-]+)(:[0-9]{1,5})?/[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _checked(url: str) -> tuple[SplitResult, str, str, int | None]:
    """Split an absolute http(s) URL and check it: its parts, scheme, host and port.

    The host comes back lower-case, IDNA-encoded, and with a numeric IPv4 form
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``) written as browsers write it.

    The result is ASCII: a unicode host becomes its IDNA (punycode) form, and the
    userinfo, path and query are percent-encoded as UTF-8.

    Raises:
        InvalidURL: the URL is not absolute, not http(s), or has a bad host or port.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    if not host:
        raise InvalidURL(f"URL has no host: {url!r}")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidURL(f"URL has an invalid host: {url!r}") from exc
    if any(ch in _HOST_FORBIDDEN for ch in host):
        raise InvalidURL(f"URL has an invalid host: {url!r}")
    if ":" not in host and _ends_in_number(host):
        dotted = _dotted(host)
        if dotted is None:
            raise InvalidURL(f"URL has an invalid IPv4 host: {url!r}")
        host = dotted
    return parts, scheme, host, port


@lru_cache(maxsize=1 << 16)
def safe_url(url: str) -> str:
    """The URL as it will be sent: ``url`` with only what must change changed.

    Scheme and host are lower-cased and the host IDNA-encoded; an empty path becomes
    ``/``; characters not allowed in a URL are percent-encoded as UTF-8 (a ``%`` not
    starting an escape becomes ``%25``); the fragment is dropped. Nothing else is
    touched: query arguments keep their order and spelling, escapes stay as written.

    Raises:
        InvalidURL: the URL is not absolute, not http(s), or has a bad host or port.
    """
    url = url.strip()
    fast = _SAFE_ALREADY.fullmatch(url)
    if fast and "#" not in url and not _BAD_ESCAPE.search(url) and _plain_host_and_port(fast):
        return url
    parts, scheme, host, port = _checked(url)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    try:
        userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        if userinfo:
            netloc = f"{quote(userinfo, safe=_USERINFO_SAFE)}@{netloc}"
        path = _BAD_ESCAPE.sub("%25", quote(parts.path, safe=_PATH_SAFE)) or "/"
        query = _BAD_ESCAPE.sub("%25", quote(parts.query, safe=_QUERY_SAFE))
    except UnicodeError as exc:  # a lone surrogate
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    return urlunsplit((scheme, netloc, path, query, "")) + ("?" if _empty_query(url) else "")


def _plain_host_and_port(match: re.Match[str]) -> bool:
    """The host of a fast-path match is a name or a dotted quad as browsers write it,
    and its port is in range and written without leading zeros: nothing for the full
    parse to change or refuse."""
    host, port = match.group(1), match.group(2)
    if port and (int(port[1:]) > 65535 or (port[1] == "0" and len(port) > 2)):
        return False
    return not _ends_in_number(host) or _dotted(host) == host


def _empty_query(url: str) -> bool:
    """A URL ending in a bare ``?`` (which urlunsplit would drop)."""
    head = url.split("#", 1)[0]
    return head.endswith("?") and head.count("?") == 1


@lru_cache(maxsize=1 << 16)
def canonicalize(url: str) -> str:
    """Return the canonical form of an absolute http(s) URL.

    Raises:
        InvalidURL: the URL is not absolute, not http(s), or has a bad host or port.
    """
    url = url.strip()
    fast = _SAFE_ALREADY.fullmatch(url)
    if fast and "#" not in url and not _BAD_ESCAPE.search(url) and _plain_host_and_port(fast):
        # a URL in its safe form (every link and request is): nothing to encode or
        # check, only the default port to drop and the query to sort
        return _canonical_of_safe(url, fast)
    return _canonical_slow(url)


def _canonical_of_safe(url: str, match: re.Match[str]) -> str:
    """:func:`canonicalize` of a URL :data:`_SAFE_ALREADY` matched (and that
    :func:`safe_url` returns as it is)."""
    scheme = url[:url.index(":")]
    netloc, port = match.group(1), match.group(2)
    if port and int(port[1:]) != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{int(port[1:])}"
    path, _, query = url[match.end(2) if port else match.end(1):].partition("?")
    if query:
        query = _canonical_query(query)
    return f"{scheme}://{netloc}{path}?{query}" if query else f"{scheme}://{netloc}{path}"


def _canonical_slow(url: str) -> str:
    """:func:`canonicalize` by splitting, checking and encoding every part."""
    parts, scheme, host, port = _checked(url)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    try:
        if parts.username is not None:
            userinfo = quote(parts.username, safe=_USERINFO_SAFE)
            if parts.password is not None:
                userinfo = f"{userinfo}:{quote(parts.password, safe=_USERINFO_SAFE)}"
            netloc = f"{userinfo}@{netloc}"
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
        query = parts.query
        if query:
            query = _canonical_query(query)
    except UnicodeError as exc:  # a lone surrogate
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    return urlunsplit((scheme, netloc, path, query, ""))


_HEX = re.compile(r"0[xX][0-9A-Fa-f]*")


def _ends_in_number(host: str) -> bool:
    """WHATWG "ends in a number": the last label is decimal digits or ``0x`` hex."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return (last.isascii() and last.isdigit()) or bool(_HEX.fullmatch(last))


@lru_cache(maxsize=256)
def _dotted(host: str) -> str | None:
    """:func:`_ipv4` of ``host`` (a crawl meets few hosts), ``None`` when invalid."""
    try:
        return _ipv4(host, host)
    except InvalidURL:
        return None


def _ipv4(host: str, url: str) -> str:
    """The dotted-quad form of a host that ends in a number (WHATWG IPv4 parser)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers: list[int] = []
    for part in parts:
        try:
            if _HEX.fullmatch(part):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            elif part.isascii() and part.isdigit():
                numbers.append(int(part))
            else:
                raise ValueError(part)
        except ValueError:
            raise InvalidURL(f"URL has an invalid IPv4 host: {url!r}") from None
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) \
            or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL(f"URL has an invalid IPv4 host: {url!r}")
    address = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        address += n * 256 ** (3 - i)
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


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


def resolve_link_keyed(
    base: str, href: str, base_origin: str | None = None
) -> tuple[str, str] | None:
    """Resolve ``href`` found on a page at ``base``: the absolute URL to send (its
    :func:`safe_url` form: query order, ``?flag`` and escapes as the page wrote them)
    and its canonical form, the key it is de-duplicated by.

    Returns ``None`` for links a crawler must not follow: non-http schemes
    (javascript:, mailto:, tel:, data:, file:), bare fragments, malformed URLs and
    URLs longer than :data:`MAX_URL_LENGTH`. Control characters are removed first,
    so they never reach the wire. ``base_origin`` is accepted for compatibility
    and not needed: each distinct ``(base, href)`` is resolved once (a bounded
    cache), its fragment left out first where that changes nothing (see
    :func:`without_fragment`), since pages link to many anchors of one target.
    """
    return _resolved(base, without_fragment(href, MAX_URL_LENGTH - len(base)))


def resolve_links_keyed(base: str, hrefs: Iterable[str]) -> list[tuple[str, str]]:
    """:func:`resolve_link_keyed` over a page's ``hrefs``: the links to follow, as
    sent and keyed, once each by canonical form (the first spelling kept), in order.

    Each distinct href (its fragment left out) is resolved once per page, and a
    relative one once per directory of the site, or once per origin for an
    absolute path (bounded caches): pages link to many anchors of one target, and
    a site's pages repeat their navigation links.
    """
    directory = _directory(base)
    root = None if directory is None else origin_of(directory) + "/"
    room = MAX_URL_LENGTH - len(base)
    links: list[tuple[str, str]] = []
    keys: set[str] = set()
    # the distinct hrefs, fragments cut where that changes nothing, in order
    distinct = dict.fromkeys([without_fragment(h, room) if "#" in h else h
                              for h in dict.fromkeys(hrefs)])
    for href in distinct:
        against: str | None = base
        if directory is not None and href[:1] not in ("", " ") and href.isprintable():
            if href[0] == "/":
                if href[1:2] != "/":
                    against = root  # a path from the root: the origin is all that counts
            elif _path_relative(href):
                against = directory
        keyed = _resolved(against or base, href)
        if keyed is not None and keyed[1] not in keys:
            keys.add(keyed[1])
            links.append(keyed)
    return links


def without_fragment(href: str, room: int = MAX_URL_LENGTH) -> str:
    """``href`` without its fragment, when that resolves to the same link: always
    but where whitespace or a control character stands before the ``#`` (the
    fragment then keeps it from being stripped), or where ``href`` is longer than
    ``room`` (the resolved URL, fragment included, might be too long a link)."""
    cut = href.find("#")
    if cut < 0 or len(href) >= room:
        return href
    if cut == 0:
        return ""
    last = href[cut - 1]
    return href[:cut] if last > " " and last != "\x7f" and not last.isspace() else href


@lru_cache(maxsize=1 << 16)
def _resolved(base: str, href: str) -> tuple[str, str] | None:
    """:func:`resolve_link_keyed` once :func:`without_fragment` has cut ``href``."""
    if not href.isprintable():
        href = href.translate(_CONTROL)
    href = href.strip()
    if not href:
        return None
    if href[0] == "/" and href[1:2] != "/" and "/." not in href and "\\" not in href:
        absolute = origin_of(base) + href  # absolute path, no dot segments
    elif href[:8].lower().startswith(("http://", "https://")):
        # an absolute URL, whatever the base: urljoin would take "HTTP:///x" as a path
        absolute = href
    elif href.lower().startswith(_SKIP_PREFIXES):
        return None
    else:
        directory = _directory(base) if _path_relative(href) else None
        try:
            absolute = urljoin(base, href) if directory is None else _joined(directory, href)
        except ValueError:
            return None
    if len(absolute) > MAX_URL_LENGTH:
        return None
    return _sendable(absolute)


def _directory(base: str) -> str | None:
    """``base`` up to the last ``/`` of its path: what a relative path resolves
    against (``None`` when it has no path)."""
    head = base.partition("?")[0].partition("#")[0]
    cut = head.rfind("/")
    return head[:cut + 1] if cut >= head.find("//") + 2 else None


def _path_relative(href: str) -> bool:
    """``href`` starts with a relative path segment (no scheme, host, query, params
    or fragment first), so what it resolves to depends on its base's directory alone."""
    return href[0] not in "/?#;" and ":" not in href.partition("/")[0]


@lru_cache(maxsize=1 << 14)
def _joined(directory: str, href: str) -> str:
    """``urljoin`` of a :func:`_path_relative` ``href``: the pages of one directory
    share it (documentation sites repeat their navigation links)."""
    return urljoin(directory, href)


def resolve_link(base: str, href: str, base_origin: str | None = None) -> str | None:
    """Resolve ``href`` found on a page at ``base`` to the absolute URL to send;
    ``None`` for a link a crawler must not follow (see :func:`resolve_link_keyed`)."""
    keyed = resolve_link_keyed(base, href, base_origin)
    return None if keyed is None else keyed[0]


@lru_cache(maxsize=1 << 16)
def _sendable(absolute: str) -> tuple[str, str] | None:
    """``absolute`` as sent and its canonical form, or ``None`` when either is refused
    or it grows past :data:`MAX_URL_LENGTH` once percent-encoded (one cached step, as
    every page repeats its navigation links)."""
    try:
        url = safe_url(absolute)
        key = canonicalize(url)  # what the crawl will key it by must exist too
    except InvalidURL:
        return None
    return (url, key) if len(url) <= MAX_URL_LENGTH else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a canonical or safe URL (whose path always starts
    with ``/``)."""
    return url[: url.index("/", url.index("//") + 2)]


def host_of(url: str) -> str:
    """The lower-case host (with port, when not the default) of a canonical URL."""
    start = url.index("//") + 2
    end = url.find("/", start)
    return url[start:end if end >= 0 else None].rpartition("@")[2]
