"""Translate the exceptions of HTTP client libraries into short error reasons.

Every strategy calls :func:`reason_for` at its boundary, so a failed page carries
the same reason ("timeout", "connection refused", ...) whichever library
fetched it, and no library exception escapes a fetcher.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator, Mapping

from ..models import FetchResult, Request
from .netguard import BLOCKED_REASON, BlockedAddress

TIMEOUT = "timeout"
REFUSED = "connection refused"
RESET = "connection reset"
DNS = "dns error"
TLS = "ssl error"
TRUNCATED = "truncated body"
DISCONNECTED = "server disconnected"
TOO_LARGE = "too large"
CONNECTION = "connection error"


class BodyTooLarge(Exception):
    """Raised inside a fetch when a body passes ``max_bytes``."""


class TooManyEncodings(Exception):
    """Raised inside a fetch when a response stacks more Content-Encodings than allowed."""


MAX_ENCODINGS = 2
"""Content-Encodings a response may stack (``gzip, br`` passes; three do not)."""
TOO_MANY_ENCODINGS = "too many content encodings"


def check_encodings(value: str | None) -> list[str]:
    """The codings a Content-Encoding header lists, in the order they were applied
    (``identity`` left out); :class:`TooManyEncodings` when it stacks too many."""
    parts = (part.strip().lower() for part in (value or "").split(","))
    codings = [c for c in parts if c and c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise TooManyEncodings(value)
    return codings


class TruncatedBody(Exception):
    """Raised inside a fetch when the connection ends before the announced body did."""


class BadContentEncoding(Exception):
    """Raised inside a fetch when a body does not decode with its declared Content-Encoding."""


BAD_ENCODING = "bad content encoding"


class Deadline(Exception):
    """Raised inside a fetch when the total timeout passes while the body streams."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (cause, context, ``reason``, args), once each."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            getattr(current, "os_error", None),
            *current.args,
        ):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


_TRUNCATION_NAMES = (
    "ContentLengthError",
    "IncompleteRead",
    "ChunkedEncodingError",
    "ClientPayloadError",
    "TransferEncodingError",
)
_NAME_REASONS = (
    ("Timeout", TIMEOUT),
    ("ServerDisconnectedError", DISCONNECTED),
    ("RemoteDisconnected", DISCONNECTED),
    ("InvalidURL", "invalid url"),
    ("InvalidUrl", "invalid url"),
    ("ContentDecodingError", BAD_ENCODING),
    ("TooManyRedirects", "too many redirects"),
)


def reason_for(exc: BaseException) -> str:
    """A short, stable reason for why a fetch failed."""
    chain = list(_chain(exc))
    for err in chain:
        if isinstance(err, BodyTooLarge):
            return TOO_LARGE
        if isinstance(err, BlockedAddress):
            return BLOCKED_REASON
        if isinstance(err, TooManyEncodings):
            return TOO_MANY_ENCODINGS
        if isinstance(err, (Deadline, TimeoutError, asyncio.TimeoutError, socket.timeout)):
            return TIMEOUT
        if isinstance(err, TruncatedBody):
            return TRUNCATED
        if isinstance(err, BadContentEncoding):
            return BAD_ENCODING
    names = " ".join(type(err).__name__ for err in chain)
    if any(name in names for name in _TRUNCATION_NAMES):
        return TRUNCATED
    for err in chain:
        if isinstance(err, ConnectionRefusedError):
            return REFUSED
        if isinstance(err, ConnectionResetError):
            return RESET
        if isinstance(err, socket.gaierror):
            return DNS
        if isinstance(err, ssl.SSLError):
            return TLS
    for err in chain:
        name = type(err).__name__
        for fragment, reason in _NAME_REASONS:
            if fragment in name:
                return reason
    text = " ".join(str(err) for err in chain).lower()
    if "refused" in text:
        return REFUSED
    if "reset" in text:
        return RESET
    if "name or service not known" in text or "nodename nor servname" in text:
        return DNS
    return CONNECTION


def failed_fetch(
    request: Request, status: int | None, headers: Mapping[str, str], exc: BaseException,
    started: float, first_byte: float,
) -> FetchResult:
    """The result of a fetch that raised: no body, the reason, the times so far."""
    return FetchResult(request, status, headers, b"", reason_for(exc), started, first_byte,
                       time.perf_counter())
