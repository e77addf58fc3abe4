"""The bounded Content-Encoding decoder used by the gevent strategy's HTTP client."""

from __future__ import annotations

import gzip
import random
import zlib

import brotli
import pytest

from crawlkit.http.codings import BoundedDecoder
from crawlkit.http.errors import BadContentEncoding, BodyTooLarge, TooManyEncodings

TEXT = b"<html><title>t</title>" + b"".join(b"<p>line %d</p>" % i for i in range(5000))


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


def _decode(header: str | None, body: bytes, limit: int, piece: int) -> bytes:
    decoder = BoundedDecoder(header, limit)
    out = [decoder.feed(body[i:i + piece]) for i in range(0, len(body), piece)]
    out.append(decoder.flush())
    return b"".join(out)


ENCODED = {
    "gzip": gzip.compress(TEXT),
    "x-gzip": gzip.compress(TEXT),
    "deflate": zlib.compress(TEXT),
    "br": brotli.compress(TEXT),
    "gzip, br": brotli.compress(gzip.compress(TEXT)),
    "br, deflate": zlib.compress(brotli.compress(TEXT)),
    "identity": TEXT,
    "GZip": gzip.compress(TEXT),
}


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize("header", list(ENCODED))
def test_decodes_in_any_piece_size(header, piece):
    body = ENCODED[header]  # byte by byte too: no stage needs the whole body at once
    assert _decode(header, body, len(TEXT), piece) == TEXT


def test_deflate_without_the_zlib_header_is_accepted():
    assert _decode("deflate", _raw_deflate(TEXT), len(TEXT), 1000) == TEXT


def test_several_gzip_members_are_one_body():
    body = gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:])
    assert _decode("gzip", body, len(TEXT), 50) == TEXT


def test_no_header_and_unknown_codings_pass_through_counted():
    assert _decode(None, TEXT, len(TEXT), 333) == TEXT
    assert _decode("compress", TEXT, len(TEXT), 333) == TEXT
    with pytest.raises(BodyTooLarge):
        _decode(None, TEXT, len(TEXT) - 1, 333)


@pytest.mark.parametrize("header", ["gzip", "deflate", "br", "gzip, br"])
def test_the_limit_is_exact(header):
    body = ENCODED[header]
    assert _decode(header, body, len(TEXT), 4096) == TEXT
    with pytest.raises(BodyTooLarge):
        _decode(header, body, len(TEXT) - 1, 4096)


@pytest.mark.parametrize("header", ["gzip", "deflate", "br", "br, gzip"])
def test_a_bomb_stops_at_the_limit_without_inflating(header):
    zeros = b"\0" * (64 << 20)
    body = {
        "gzip": lambda: gzip.compress(zeros, 1),
        "deflate": lambda: zlib.compress(zeros, 1),
        "br": lambda: brotli.compress(zeros, quality=1),
        "br, gzip": lambda: gzip.compress(brotli.compress(zeros, quality=1), 1),
    }[header]()
    decoder = BoundedDecoder(header, 1 << 20)
    produced = 0
    with pytest.raises(BodyTooLarge):
        for i in range(0, len(body), 64 * 1024):
            out = decoder.feed(body[i:i + 64 * 1024])
            assert len(out) <= 1 << 20  # never more than the limit held at once
            produced += len(out)
        decoder.flush()
    assert produced <= 1 << 20


def test_three_codings_are_refused():
    with pytest.raises(TooManyEncodings):
        BoundedDecoder("gzip, br, deflate", 1000)
    BoundedDecoder("gzip, identity, br", 1000)  # identity is not a coding


@pytest.mark.parametrize("header", ["gzip", "br", "deflate"])
def test_garbage_is_a_bad_encoding(header):
    with pytest.raises(BadContentEncoding):
        _decode(header, random.Random(7).randbytes(2000), 10_000, 500)
