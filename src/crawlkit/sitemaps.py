"""Sitemaps (sitemaps.org): urlsets, nested sitemap indexes, gzip files, robots.txt lines.

Pure functions over bytes, no I/O: sitemaps are fetched by the crawl's own
strategy, with its politeness and limits, like any page. A body is parsed
incrementally with lxml (entities are never resolved and nothing is fetched by
the parser), so a large sitemap never becomes one big tree, and a gzip body
(``.xml.gz`` served as a file, whatever its headers say) is inflated within the
crawl's ``max_bytes``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from .errors import CrawlkitError

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024
_ROBOTS_SITEMAP = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.I | re.M)


class SitemapError(CrawlkitError):
    """A body that is not a readable sitemap; its message is the record's reason."""


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap body lists.

    Attributes:
        kind: ``"urlset"`` (pages) or ``"sitemapindex"`` (more sitemaps).
        locs: the ``<loc>`` URLs, in document order, whitespace stripped.
    """

    kind: str
    locs: tuple[str, ...]


def sitemaps_in_robots(text: str) -> list[str]:
    """The ``Sitemap:`` URLs a robots.txt lists (any case, any position in the file)."""
    return _ROBOTS_SITEMAP.findall(text)


def parse_sitemap(body: bytes, max_bytes: int) -> Sitemap:
    """Read a sitemap or sitemap index, gzip-compressed or not.

    Raises:
        SitemapError: the body is not gzip that inflates within ``max_bytes``, not
            well-formed XML, or its root is neither ``urlset`` nor ``sitemapindex``.
    """
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False,
                                 no_network=True, huge_tree=False, load_dtd=False)
    kind = ""
    locs: list[str] = []
    try:
        for chunk in _chunks(body, max_bytes):
            parser.feed(chunk)
            kind = _collect(parser, kind, locs)
        parser.close()
        kind = _collect(parser, kind, locs)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"malformed sitemap: {exc.msg}") from None
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap: root element {kind or 'missing'!r}")
    return Sitemap(kind, tuple(locs))


def _collect(parser: etree.XMLPullParser, kind: str, locs: list[str]) -> str:
    for event, element in parser.read_events():
        name = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if event == "start":
            if not kind:
                kind = name
                if kind not in ("urlset", "sitemapindex"):
                    raise SitemapError(f"not a sitemap: root element {kind!r}")
            continue
        if name == "loc" and element.text and element.text.strip():
            locs.append(element.text.strip())
        if name in ("url", "sitemap"):
            element.clear()  # keep memory flat on a 50,000-entry sitemap
    return kind


def _chunks(body: bytes, max_bytes: int) -> Iterator[bytes]:
    """The body in pieces, inflated first when it is gzip (bounded by ``max_bytes``)."""
    if not body.startswith(_GZIP_MAGIC):
        for start in range(0, len(body), _CHUNK):
            yield body[start:start + _CHUNK]
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    budget = max_bytes
    data = body
    try:
        while data and not inflater.eof:
            piece = inflater.decompress(data, min(_CHUNK, budget + 1))
            budget -= len(piece)
            if budget < 0:
                raise SitemapError(f"sitemap inflates past max_bytes ({max_bytes})")
            data = inflater.unconsumed_tail
            yield piece
        if not inflater.eof:
            raise SitemapError("truncated gzip sitemap")
    except zlib.error as exc:
        raise SitemapError(f"bad gzip sitemap: {exc}") from None
