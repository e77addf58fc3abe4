"""Property-based tests (hypothesis) for the pure parts: URLs, decoding, robots.txt.

The ``ci`` profile (the default, registered in ``conftest.py``) runs a bounded
number of examples per property so the whole file stays quick. A longer search
is one command::

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py

Every bug these properties found is kept as an explicit ``@example``, so it is
checked on every run whatever the profile draws.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import re
import zlib
from encodings.aliases import aliases
from urllib.parse import urljoin, urlsplit

import brotli
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from crawlkit.errors import UsageError
from crawlkit.http.codings import BoundedDecoder
from crawlkit.http.errors import BadContentEncoding, BodyTooLarge, TooManyEncodings
from crawlkit.parse import decode_body, detect_encoding, extract, extract_by_scan
from crawlkit.politeness import BLOCKED, MAX_CRAWL_DELAY, Politeness
from crawlkit.settings import ROBOTS_AGENT, CrawlSettings
from crawlkit.urls import (
    _CONTROL,
    _SKIP_PREFIXES,
    MAX_URL_LENGTH,
    canonicalize,
    host_of,
    origin_of,
    resolve_link,
    resolve_link_keyed,
    safe_url,
)

# --- strategies --------------------------------------------------------------------------

# any code point, lone surrogates included: a str is a str
ANY_TEXT = st.text(st.characters(exclude_categories=()))

_URL_CHARS = st.sampled_from(
    list("aZ09-._~!$&'()*+,;=:@/?#[]% \t\n\"<>\\^`{|}")
    + ["%2F", "%41", "%zz", "%", "%e9", "\u00e9", "\u00df", "\u0130", "\u4f8b", "\u3002",
       "\x00", "\x7f", "\u0085", "\u200b", "\ufeff", "\U0001f600", ".", "..", "xn--"]
)
URL_TEXT = st.lists(_URL_CHARS, max_size=12).map("".join)

_LABEL = st.one_of(
    st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True),
    st.sampled_from(["caf\u00e9", "b\u00fccher", "\u4f8b\u3048", "stra\u00dfe", "\u0130stanbul",
                     "xn--caf-dma", "XN--80AK6AA92E", "\u0442\u0435\u0441\u0442", "a" * 64]),
    URL_TEXT,
)
HOST = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["127.0.0.1", "[::1]", "[fe80::1%25eth0]", "[v1.x]", "[::ffff:1.2.3.4]",
                     "LOCALHOST", "a..b", ".", "", "[", "]", "h%41", "0x7f.1"]),
)
PORT = st.one_of(st.none(), st.integers(0, 70_000).map(str),
                 st.sampled_from(["", "80", "443", "080", "8a", "\u0661\u0662", " 1", "-1"]))
USERINFO = st.one_of(st.none(), URL_TEXT, st.tuples(URL_TEXT, URL_TEXT).map(":".join))
SCHEME = st.sampled_from(["http", "https", "HTTP", "hTTpS", "ftp", "javascript", "file", ""])
PATH = st.lists(st.one_of(URL_TEXT, st.sampled_from([".", "..", "%2e%2E", ""])),
                max_size=5).map("/".join)
QUERY = st.one_of(st.none(), st.lists(
    st.tuples(URL_TEXT, st.one_of(st.none(), URL_TEXT)).map(
        lambda kv: kv[0] if kv[1] is None else f"{kv[0]}={kv[1]}"),
    max_size=4).map("&".join))
FRAGMENT = st.one_of(st.none(), URL_TEXT)


@st.composite
def structured_urls(draw: st.DrawFn, scheme: st.SearchStrategy[str] = SCHEME) -> str:
    """URLs built part by part, so most of them get past the parser's first checks."""
    url = draw(scheme) + "://"
    userinfo = draw(USERINFO)
    if userinfo is not None:
        url += userinfo + "@"
    url += draw(HOST)
    port = draw(PORT)
    if port is not None:
        url += ":" + port
    url += "/" + draw(PATH)
    query = draw(QUERY)
    if query is not None:
        url += "?" + query
    fragment = draw(FRAGMENT)
    if fragment is not None:
        url += "#" + fragment
    return url


URLS = st.one_of(structured_urls(), ANY_TEXT, st.builds("http://{}".format, ANY_TEXT))
HTTP_URLS = structured_urls(st.sampled_from(["http", "https", "HTTP", "Https"]))


def sent_or_none(url: str) -> str | None:
    """The URL as a link to it is sent (:func:`safe_url`), or ``None`` when the library
    refuses it or its canonical form, or it is longer than ``MAX_URL_LENGTH``."""
    try:
        sent = safe_url(url)
        canonicalize(sent)
    except UsageError:
        return None
    return sent if len(sent) <= MAX_URL_LENGTH else None


def canonical_or_none(url: str) -> str | None:
    """``canonicalize(url)``, or ``None`` when it refuses it with the library's own error."""
    try:
        return canonicalize(url)
    except UsageError:  # InvalidURL, or any other refusal from the library's tree
        return None


@st.composite
def canonical_urls(draw: st.DrawFn) -> str:
    """Canonical URLs, as the engine hands to :func:`resolve_link` as the page's URL."""
    url = canonical_or_none(draw(HTTP_URLS))
    assume(url is not None)
    assert url is not None
    return url


def check_canonical(url: str) -> None:
    """What every canonical URL is: ASCII, absolute http(s), no fragment, wire-safe."""
    assert url.isascii(), url
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https"), url
    assert url.startswith(parts.scheme + "://"), url
    assert parts.hostname, url
    assert "#" not in url, url
    assert not any(ch <= " " or ch == "\x7f" for ch in url), url
    assert parts.path.startswith("/"), url
    origin = origin_of(url)
    assert url.startswith(origin + "/"), url
    assert host_of(url) and host_of(url) in origin, url


# --- URL canonicalisation ----------------------------------------------------------------


@given(URLS)
@example("http://h:0080/x?")  # a port spelled with zeros, a bare "?"
@example("http://h:80/a?b=1&a=2&")  # the default port, an empty pair
@example("http://127.1:8080/p")  # a numeric host browsers write otherwise
def test_the_safe_form_shortcut_canonicalises_as_the_full_parse(url: str) -> None:
    from crawlkit.urls import _canonical_slow

    sent = sent_or_none(url)
    for form in (url, sent) if sent is not None else (url,):
        try:
            slow: str | None = _canonical_slow(form.strip())
        except UsageError:
            slow = None
        assert canonical_or_none(form) == slow, form


@given(URLS)
@example("http://caf\u00e9.example/")  # an IDNA host stayed unicode
@example("http://user name@h/")  # userinfo was not escaped
@example("http://a\x01b/")  # a control character in the host
@example("http://h/\ud800")  # a lone surrogate raised UnicodeEncodeError
def test_canonicalize_is_idempotent_and_canonical(url: str) -> None:
    canonical = canonical_or_none(url)
    if canonical is None:
        return
    check_canonical(canonical)
    assert canonicalize(canonical) == canonical


# --- link resolution ---------------------------------------------------------------------

HREFS = st.one_of(
    ANY_TEXT,
    structured_urls(),
    st.builds("{}{}".format, st.sampled_from(["/", "//", "./", "../", "?", "#", "\\", " /",
                                              "/./", "/../", "http:", "HTTP://"]), URL_TEXT),
    st.builds("{}{}".format, st.sampled_from(_SKIP_PREFIXES), URL_TEXT),
)


def reference_resolve(base: str, href: str) -> str | None:
    """What :func:`resolve_link` must return, by urljoin each time but for absolute URLs
    (urljoin takes ``http:///x`` for a path when the base is http too)."""
    href = href.translate(_CONTROL).strip()
    if not href or href.lower().startswith(_SKIP_PREFIXES):
        return None
    if href.lower().startswith(("http://", "https://")):
        absolute = href
    else:
        try:
            absolute = urljoin(base, href)
        except ValueError:
            return None
    if len(absolute) > MAX_URL_LENGTH:
        return None
    return sent_or_none(absolute)


RELATIVE_HREFS = st.one_of(HREFS, st.builds("{}{}".format, st.sampled_from(
    ["", "./", "../", "../../", "a/", ".", "..", "a//", "/", "//"]), URL_TEXT))


@given(st.one_of(canonical_urls(), HTTP_URLS), st.lists(RELATIVE_HREFS, max_size=6))
@example("http://h/d/a", ["//", "/x", "\xa0?q", "x\x7f", " y", "/./z", "a#f", "a"])
def test_a_page_resolves_its_links_as_each_alone(base: str, hrefs: list[str]) -> None:
    from crawlkit.urls import resolve_links_keyed

    try:
        canonicalize(base)
    except UsageError:
        return
    expected: list[tuple[str, str]] = []
    for href in hrefs:
        keyed = resolve_link_keyed(base, href)
        if keyed is not None and keyed[1] not in {key for _, key in expected}:
            expected.append(keyed)
    assert resolve_links_keyed(base, hrefs) == expected


@given(st.one_of(canonical_urls(), HTTP_URLS), RELATIVE_HREFS)
@example("http://h/d/a.html?x=/y/z", "os.html")  # a slash in the query is no directory
@example("http://h/a", "g:h")
@example("http://h/a", "//")  # an empty path resolves against the whole base
@example("http://h/a", "http:")
def test_a_relative_path_resolves_against_the_directory_alone(base: str, href: str) -> None:
    from urllib.parse import urljoin

    from crawlkit.urls import _directory, _joined, _path_relative

    directory = _directory(base)
    href = href.strip()
    if directory is None or not href or not href.isprintable() or not _path_relative(href):
        return  # resolved against the whole base
    try:
        expected: str | None = urljoin(base, href)
    except ValueError:
        expected = None
    try:
        got: str | None = _joined(directory, href)
    except ValueError:
        got = None
    assert got == expected


@given(canonical_urls(), HREFS)
@example("http://h/", "/\ud800")  # a lone surrogate raised UnicodeEncodeError
@example("http://h/", "//caf\u00e9.example/")  # an IDNA host stayed unicode
@example("http://h/", "/" + "\u00e9" * 400)  # 401 characters, 2401 once percent-encoded
@example("http://h/", "/;")  # urljoin gives http://h/ (an empty ";params" dropped)
@example("http://h/", "/ ?")  # urljoin gives "http://h/ ", stripped to http://h/
@example("https://127.0.0.1/", "/ #")  # sent as /%20, as browsers send it
def test_resolve_link_returns_urls_as_sent_or_none(base: str, href: str) -> None:
    resolved = resolve_link(base, href)
    assert resolved == resolve_link(base, href, origin_of(base))
    if resolved is not None:
        check_canonical(resolved)  # the shape holds for the sent form too
        check_canonical(canonicalize(resolved))
        assert len(resolved) <= MAX_URL_LENGTH
        assert safe_url(resolved) == resolved
    # the shortcuts (absolute paths, absolute URLs) agree with urljoin, but where urljoin
    # drops an empty ";" or "?" ("/x;" -> "/x", "/ ?" -> "/ ") and the shortcut keeps it
    # ... and where a space ends the path before a fragment ("/ #"): browsers keep it
    # (the input's ends are stripped, not the path's), urljoin + strip lose it
    head = href.translate(_CONTROL).strip().partition("#")[0]
    if not _EMPTY_PART.search(head) and head == head.rstrip():
        assert resolved == reference_resolve(base, href)


_EMPTY_PART = re.compile(r";(?=$|\?)|\?$")


@given(canonical_urls(), canonical_urls(), HTTP_URLS)
@example("http://h/", "http://other/", "HTTP:///")  # was the base's origin, and None for http
@example("http://h/", "http://other/", "http://")
def test_an_absolute_link_ignores_the_base(base: str, other: str, href: str) -> None:
    resolved = resolve_link(base, href)
    assert resolved == resolve_link(other, href)
    stripped = href.translate(_CONTROL).strip()
    sent = sent_or_none(stripped)
    if len(stripped) <= MAX_URL_LENGTH and sent is not None:
        assert resolved == sent
    else:
        assert resolved is None


HTML = st.lists(st.one_of(
    st.text(max_size=20),
    st.builds('<a href="{}">'.format, HREFS),
    st.builds("<a href={}>".format, URL_TEXT),
    st.builds('<area href="{}">'.format, URL_TEXT),
    st.builds('<base href="{}">'.format, HREFS),
    st.builds("<title>{}</title>".format, st.text(max_size=10)),
    st.sampled_from(["<div>", "</div>", "<title>", "</a>", "<", "&amp;", "&#0;", "<!--", "-->"]),
), max_size=20).map("".join)


@given(HTML, canonical_urls())
def test_extract_reads_utf8_bytes_as_their_text(text: str, base: str) -> None:
    try:
        utf8 = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no bytes decode to it
        return
    assert extract(text, base, utf8) == extract(text, base)


@given(HTML, canonical_urls())
def test_extract_gives_unique_canonical_links(text: str, base: str) -> None:
    for title, links in (extract(text, base), extract_by_scan(text, base)):
        assert title is None or isinstance(title, str)
        assert len(set(links)) == len(links)
        for link in links:
            check_canonical(link)


# --- charset detection and decoding ------------------------------------------------------

CHARSETS = st.one_of(
    st.sampled_from(sorted(set(aliases) | set(aliases.values()))),
    st.sampled_from(["rot13", "base64", "hex", "zlib", "bz2", "uu", "quopri", "idna",
                     "punycode", "undefined", "utf-7", "unicode_escape", "x-user-defined",
                     "aliases", "__init__", "mbcs", "charmap", "utf-8-sig", "", "..", "bogus"]),
    st.text(max_size=12),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda cs, rest: b"<meta charset='" + cs.encode("utf-8", "replace") + b"'>" + rest,
              CHARSETS, st.binary(max_size=100)),
    st.builds(lambda bom, rest: bom + rest,
              st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                               codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]),
              st.binary(max_size=100)),
)
HEADERS = st.one_of(
    st.just({}),
    st.builds(lambda cs: {"content-type": f"text/html; charset={cs}"}, CHARSETS),
    st.builds(lambda ct: {"content-type": ct}, st.text(max_size=40)),
)


@given(BODIES, HEADERS)
@example(b"ab\xff", {"content-type": "text/html; charset=rot13"})  # not a text encoding
@example(b"ab\xff", {"content-type": "text/html; charset=base64"})
@example(b"ab\xff", {"content-type": "text/html; charset=idna"})  # refuses errors="replace"
@example(b"ab\xff", {"content-type": "text/html; charset=undefined"})  # always raises
@example(b"-\x80", {"content-type": "text/html; charset=punycode"})  # raises on non-ASCII
@example(b"<meta charset=hex>\xff", {})
@example(b"<meta charset=unicode_escape>\\ ", {})  # DeprecationWarning: invalid escape
def test_decode_body_never_raises(body: bytes, headers: dict[str, str]) -> None:
    text = decode_body(body, headers)
    assert isinstance(text, str)
    encoding, skip = detect_encoding(body, headers)
    assert isinstance(encoding, str) and 0 <= skip <= 4
    assert body[skip:].decode(encoding, errors="replace") == text


@given(BODIES, HEADERS)
def test_decode_html_hands_the_parser_bytes_only_when_they_say_the_same(
    body: bytes, headers: dict[str, str]
) -> None:
    from crawlkit.parse import decode_html

    text, utf8 = decode_html(body, headers)
    assert text == decode_body(body, headers)
    if utf8 is not None:
        assert utf8.decode("utf-8") == text


@given(st.text(max_size=200))
def test_utf8_without_a_charset_round_trips(text: str) -> None:
    body = text.encode("utf-8")
    assume(not body.startswith(codecs.BOM_UTF8) and b"charset" not in body.lower())
    assert decode_body(body, {"content-type": "text/html"}) == text


# --- the bounded Content-Encoding decoder -----------------------------------------------

_CODINGS = ["gzip", "x-gzip", "deflate", "br", "identity", "compress", "GZip", " br ", ""]
ENCODING_HEADERS = st.one_of(
    st.none(),
    st.lists(st.sampled_from(_CODINGS), max_size=4).map(", ".join),
    st.text(max_size=20),
)
PIECES = st.lists(st.integers(1, 64), min_size=1, max_size=8)
ERRORS = (BodyTooLarge, BadContentEncoding, TooManyEncodings)


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


# how each coding is applied; "deflate-raw" is deflate without the zlib wrapper
ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": lambda data: gzip.compress(data, 1),
    "deflate": zlib.compress,
    "deflate-raw": _raw_deflate,
    "br": brotli.compress,
}


def _split(data: bytes, pieces: list[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes, the last size repeated as needed."""
    out, i, k = [], 0, 0
    while i < len(data):
        size = pieces[min(k, len(pieces) - 1)]
        out.append(data[i:i + size])
        i, k = i + size, k + 1
    return out


def _decode(header: str | None, body: bytes, limit: int, pieces: list[int]) -> bytes:
    decoder = BoundedDecoder(header, limit)
    out = b""
    for piece in _split(body, pieces):
        out += decoder.feed(piece)
        assert len(out) <= limit
    out += decoder.flush()
    assert len(out) <= limit
    return out


@st.composite
def encoded_bodies(draw: st.DrawFn) -> tuple[str, bytes, bytes, int]:
    """A Content-Encoding header, a body encoded that way, the plain bytes and the size
    of the largest layer the decoder produces (every layer is held to the limit)."""
    plain = draw(st.one_of(st.binary(max_size=600), st.text(max_size=300).map(str.encode),
                           st.integers(0, 5000).map(lambda n: b"a" * n)))
    names = draw(st.lists(st.sampled_from(sorted(ENCODERS)), min_size=1, max_size=2))
    body, largest = plain, len(plain)
    for i, name in enumerate(names):
        body = ENCODERS[name](body)
        if i < len(names) - 1:
            largest = max(largest, len(body))
    header = ", ".join("deflate" if name == "deflate-raw" else name for name in names)
    return header, body, plain, largest


@given(st.one_of(st.binary(max_size=400),
                 encoded_bodies().map(lambda e: e[1]),
                 st.tuples(encoded_bodies(), st.integers(0, 400), st.binary(max_size=4)).map(
                     lambda t: t[0][1][:t[1]] + t[2] + t[0][1][t[1] + len(t[2]):])),
       ENCODING_HEADERS, st.one_of(st.integers(0, 2000), st.integers(1 << 62, 1 << 70)),
       PIECES)
@example(gzip.compress(b"x"), "gzip", 1 << 63, [64])  # OverflowError: "too large for ssize_t"
@example(brotli.compress(b"x"), "br", 1 << 63, [64])
def test_the_decoder_never_passes_its_budget(
    body: bytes, header: str | None, limit: int, pieces: list[int]
) -> None:
    with contextlib.suppress(*ERRORS):  # the decoder's own refusals; anything else fails
        _decode(header, body, limit, pieces)


@given(encoded_bodies(), PIECES, st.integers(0, 100))
@example(("deflate", _raw_deflate(b"x"), b"x", 1), [1], 0)  # raw deflate, one byte first
def test_the_decoder_round_trips_within_its_budget(
    encoded: tuple[str, bytes, bytes, int], pieces: list[int], spare: int
) -> None:
    header, body, plain, largest = encoded
    try:
        out = _decode(header, body, largest + spare, pieces)
    except BodyTooLarge:
        pytest.fail("refused a body within its budget")
    assert out == plain
    if largest > 0:
        with pytest.raises(BodyTooLarge):
            _decode(header, body, largest - 1, pieces)


# --- robots.txt through the politeness layer ---------------------------------------------

ROBOTS_LINES = st.one_of(
    st.text(max_size=30),
    st.builds("{}: {}".format,
              st.sampled_from(["User-agent", "Disallow", "Allow", "Crawl-delay", "crawl delay",
                               "Request-rate", "Visit-time", "Sitemap", "Host", "user-AGENT"]),
              st.one_of(st.sampled_from(["*", "crawlkit", "/", "/*", "$", "/a*b$", "-1", "nan",
                                         "inf", "1e308", "1e-9", "0", "3.5", "1/0", "1/5s",
                                         "0100-0200", "25-", "%", "%zz", "[", "\\", "?"]),
                        URL_TEXT)),
)
ROBOTS = st.lists(ROBOTS_LINES, max_size=12).map("\n".join)
ORIGIN = "http://h"


@given(ROBOTS, st.lists(canonical_urls(), max_size=4))
@example("User-agent: *\nCrawl-delay: 1e308", [])  # stalled the origin, overflowed sleep()
@example("User-agent: *\nCrawl-delay: -1", [])
def test_any_robots_txt_parses_and_answers(text: str, urls: list[str]) -> None:
    politeness = Politeness(CrawlSettings())
    politeness.set_robots(ORIGIN, 200, text)
    for url in urls:
        assert politeness.refusal(ORIGIN, url) in (None, BLOCKED)
    robots = politeness._origins[ORIGIN].robots
    assert robots is not None
    for url in urls:
        assert isinstance(robots.can_fetch(url, ROBOTS_AGENT), bool)
    delay = robots.crawl_delay(ROBOTS_AGENT)
    assert delay is None or (isinstance(delay, float) and delay >= 0)
    # the delay the layer applies: non-negative and bounded, so the origin starts again
    assert politeness.ready(ORIGIN, 0.0)
    politeness.started(ORIGIN, 0.0)
    start = politeness.next_start(ORIGIN)
    assert start is not None and 0.0 <= start <= MAX_CRAWL_DELAY
    if delay is not None and delay <= MAX_CRAWL_DELAY:
        assert start == delay


@given(st.one_of(ANY_TEXT, structured_urls(), HTTP_URLS))
@example("http://127.1:8080/a?b=2&a=1&flag")  # a numeric host as browsers write it
@example("http://h/p?q=%")  # a lone % becomes %25
@example("http://h:99999/")  # an out-of-range port on the fast path
def test_the_sent_form_is_stable_and_keyed(url: str) -> None:
    try:
        sent = safe_url(url)
    except UsageError:
        return
    assert safe_url(sent) == sent
    check_canonical(sent)
    assert canonicalize(sent) == canonicalize(canonicalize(sent))
