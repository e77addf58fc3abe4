"""WARC/1.1 records: written one gzip member each, read back by offset.

The response cache (:mod:`crawlkit.cache`) appends records here and looks them up
by the offset and length its index keeps; any standard WARC reader (``warcio``,
``pywb``, ``warcit``...) reads the same file from the start. Nothing here knows
about crawls: a record is a target URI, an HTTP status, header lines and a body.

Bodies are stored as the crawl used them, decompressed. The headers that describe
the bytes on the wire (``Content-Encoding``, ``Transfer-Encoding``,
``Content-Length``) would make a reader decode the body a second time, so they are
written under the ``X-Archive-Orig-`` prefix (pywb's convention) beside a
``Content-Length`` for the stored body, and put back when the record is read.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus

TTFB_HEADER = "WARC-Crawlkit-TTFB"
"""Seconds from the start of the fetch to the response headers."""
DOWNLOAD_HEADER = "WARC-Crawlkit-Download"
"""Seconds from the response headers to the last byte of the body."""
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
"""Headers describing the transfer, not the stored (decoded) body."""
ORIGINAL_PREFIX = "x-archive-orig-"

_CRLF = b"\r\n"


class WarcFormatError(ValueError):
    """Bytes that are not the WARC response record they were said to be."""


@dataclass(frozen=True, slots=True)
class WarcResponse:
    """One ``response`` record read back.

    ``headers`` are the HTTP header lines as the response had them (wire headers
    restored, names as written); ``fields`` the WARC header fields.
    """

    uri: str
    fields: dict[str, str]
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(kind: str, block: bytes, fields: Iterable[tuple[str, str]],
            content_type: str) -> bytes:
    head = [
        "WARC/1.1",
        f"WARC-Type: {kind}",
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>",
        f"WARC-Date: {_now()}",
        *(f"{name}: {value}" for name, value in fields),
        f"Content-Type: {content_type}",
        f"Content-Length: {len(block)}",
    ]
    return "\r\n".join(head).encode("utf-8") + b"\r\n\r\n" + block + b"\r\n\r\n"


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def warcinfo_record(info: Sequence[tuple[str, str]]) -> bytes:
    """A ``warcinfo`` record (the file's first) holding ``info`` as ``name: value`` lines."""
    block = "".join(f"{name}: {value}\r\n" for name, value in info).encode("utf-8")
    return _record("warcinfo", block, (), "application/warc-fields")


def response_record(
    uri: str, status: int, headers: Iterable[tuple[str, str]], body: bytes,
    fields: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A ``response`` record for ``uri``: ``status``, the header lines and the
    (decoded) ``body``, with extra WARC ``fields``.

    Raises:
        WarcFormatError: a header name or value holds CR or LF (it would end the
            header block early).
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}"]
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise WarcFormatError(f"header {name!r} holds a line break")
        if name.lower() in WIRE_HEADERS:
            name = ORIGINAL_PREFIX + name
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    http_head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    all_fields = [("WARC-Target-URI", uri), ("WARC-Payload-Digest", _digest(body)), *fields]
    return _record("response", http_head + body, all_fields,
                   "application/http; msgtype=response")


def compress(record: bytes) -> bytes:
    """``record`` as one gzip member (the ``.warc.gz`` convention: one per record)."""
    return gzip.compress(record, compresslevel=6, mtime=0)


def decompress(member: bytes) -> bytes:
    """The record inside one gzip member.

    Raises:
        WarcFormatError: not one whole gzip member.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(member)
    except zlib.error as exc:
        raise WarcFormatError(f"not a gzip member ({exc})") from None
    if not inflater.eof:
        raise WarcFormatError("a gzip member cut short")
    return data


def _split_head(data: bytes, start: int, what: str) -> tuple[list[str], int]:
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        raise WarcFormatError(f"no end to the {what} header block")
    text = data[start:end].decode("utf-8", "surrogateescape")
    return text.split("\r\n"), end + 4


def _pairs(lines: Iterable[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise WarcFormatError(f"a {what} header line without a colon: {line[:60]!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def parse_response(record: bytes) -> WarcResponse:
    """Read one uncompressed ``response`` record.

    Raises:
        WarcFormatError: anything else, or a record cut short.
    """
    lines, block_start = _split_head(record, 0, "WARC")
    if not lines[0].startswith("WARC/"):
        raise WarcFormatError("no WARC version line")
    fields = {name.lower(): value for name, value in _pairs(lines[1:], "WARC")}
    if fields.get("warc-type") != "response":
        raise WarcFormatError(f"a {fields.get('warc-type')!r} record, not a response")
    try:
        length = int(fields["content-length"])
    except (KeyError, ValueError):
        raise WarcFormatError("no valid Content-Length") from None
    block_end = block_start + length
    if len(record) < block_end:
        raise WarcFormatError("the record is cut short")
    status_and_headers, body_start = _split_head(record[:block_end], block_start, "HTTP")
    version, _, rest = status_and_headers[0].partition(" ")
    code = rest.partition(" ")[0]
    if not version.startswith("HTTP/") or not code.isdigit():
        raise WarcFormatError(f"no HTTP status line: {status_and_headers[0][:60]!r}")
    headers = []
    for name, value in _pairs(status_and_headers[1:], "HTTP"):
        lower = name.lower()
        if lower == "content-length":
            continue  # the stored body's length, not the response's
        if lower.startswith(ORIGINAL_PREFIX) and lower[len(ORIGINAL_PREFIX):] in WIRE_HEADERS:
            name = name[len(ORIGINAL_PREFIX):]
        headers.append((name, value))
    return WarcResponse(
        uri=fields.get("warc-target-uri", ""),
        fields=fields,
        status=int(code),
        headers=tuple(headers),
        body=record[body_start:block_end],
    )
