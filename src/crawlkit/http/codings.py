"""Undo a response's Content-Encoding, counting what comes out against a limit.

aiohttp and urllib3 decode bodies themselves; this module is for HTTP clients
that hand back the raw body (the gevent strategy's geventhttpclient). A
decompression bomb stops at ``limit`` decoded bytes: no stage is ever asked for
more output than the budget left, so memory stays bounded by the limit.
"""

from __future__ import annotations

import sys
import zlib
from typing import Protocol

import brotli

from .errors import BadContentEncoding, BodyTooLarge, check_encodings

ACCEPT_ENCODING = "gzip, deflate, br"
"""What a client using this module may advertise."""


class _Stage(Protocol):
    def feed(self, data: bytes, budget: int) -> bytes: ...

    def flush(self, budget: int) -> bytes: ...


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped or raw, as browsers accept)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._wbits)
        self._started = False
        self._head = b""  # deflate: the first byte, until a second tells zlib from raw

    def feed(self, data: bytes, budget: int) -> bytes:
        if not self._gzip and not self._started and len(self._head) + len(data) < 2:
            # zlib checks its header only once it has two bytes: until then a raw
            # stream would be taken for a zlib one, and refused at its second byte
            self._head += data
            return b""
        data, self._head = self._head + data, b""
        out = bytearray()
        while data:
            try:
                chunk = self._obj.decompress(data, budget + 1 - len(out))
            except zlib.error as exc:
                if self._gzip or self._started:
                    raise BadContentEncoding(str(exc)) from exc
                # "deflate" sent as a raw stream without the zlib header
                self._wbits = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._wbits)
                self._started = True
                continue
            self._started = True
            out += chunk
            if len(out) > budget or self._obj.unconsumed_tail:
                raise BodyTooLarge(len(out))
            data = b""
            if self._gzip and self._obj.eof and self._obj.unused_data:
                data = self._obj.unused_data  # a further gzip member
                self._obj = zlib.decompressobj(self._wbits)
        return bytes(out)

    def flush(self, budget: int) -> bytes:
        out = self._obj.flush()
        if len(out) > budget:
            raise BodyTooLarge(len(out))
        return out


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes, budget: int) -> bytes:
        try:
            out = bytearray(self._obj.process(data, output_buffer_limit=budget + 1))
            while len(out) <= budget and not self._obj.can_accept_more_data():
                out += self._obj.process(b"", output_buffer_limit=budget + 1 - len(out))
        except brotli.error as exc:
            raise BadContentEncoding(str(exc)) from exc
        if len(out) > budget:
            raise BodyTooLarge(len(out))
        return bytes(out)

    def flush(self, budget: int) -> bytes:
        return b""


def _stage(coding: str) -> _Stage | None:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    return None  # identity, or a coding nobody asked for: passed through as urllib3 does


class BoundedDecoder:
    """Decode a body streamed in pieces; raise :class:`BodyTooLarge` past ``limit`` bytes.

    ``header`` is the Content-Encoding value, codings in the order they were
    applied; they are undone last first. More than
    :data:`~crawlkit.http.errors.MAX_ENCODINGS` raise :class:`TooManyEncodings`.
    Every stage is held to the same limit, so an intermediate layer larger than
    ``limit`` is refused as well.
    """

    def __init__(self, header: str | None, limit: int) -> None:
        codings = check_encodings(header)
        self._stages = [s for s in (_stage(c) for c in reversed(codings)) if s is not None]
        # zlib and brotli take an output bound that must fit a C ssize_t
        self._limit = min(limit, sys.maxsize - 1)
        self._sizes = [0] * (len(self._stages) + 1)

    def _run(self, data: bytes, final: bool) -> bytes:
        for i in range(len(self._stages)):
            stage = self._stages[i]
            budget = self._limit - self._sizes[i + 1]
            out = stage.feed(data, budget) if data else b""
            if final:
                out += stage.flush(budget - len(out))
            self._sizes[i + 1] += len(out)
            data = out
        return data

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes ``data`` yields (possibly none yet)."""
        if not self._stages:
            self._sizes[0] += len(data)
            if self._sizes[0] > self._limit:
                raise BodyTooLarge(self._sizes[0])
            return data
        return self._run(data, final=False)

    def flush(self) -> bytes:
        """Whatever the stages still hold once the body has ended."""
        if not self._stages:
            return b""
        return self._run(b"", final=True)
