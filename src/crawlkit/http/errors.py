"""Translate the exceptions of HTTP client libraries into :class:`~crawlkit.errors.Reason`.

Each client declares one :data:`ExceptionTable`: ``(exception class, reason)``
rows, most specific first, matched with ``isinstance`` over the exception and
everything it wraps (as httpx maps httpcore's exceptions). Every client's table
starts with :data:`FIRST`, then the library's specific exceptions, then
:data:`LAST` (the OS errors they wrap), then the library's catch-alls; an
exception no row matches is a :attr:`~crawlkit.errors.Reason.CONNECTION` error. Every fetch goes
through :func:`failed_fetch` at its boundary, so a failed page carries the same
reason whichever library fetched it, and no library exception escapes a fetcher.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator, Mapping

from ..errors import Reason
from ..models import FetchResult, Request
from .netguard import BlockedAddress

ExceptionTable = tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Reason], ...]
"""``(exception class, reason)`` rows, checked in order over an exception's chain."""


class BodyTooLarge(Exception):
    """Raised inside a fetch when a body passes ``max_bytes``."""


class TooManyEncodings(Exception):
    """Raised inside a fetch when a response stacks more Content-Encodings than allowed."""


MAX_ENCODINGS = 2
"""Content-Encodings a response may stack (``gzip, br`` passes; three do not)."""


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


class Deadline(Exception):
    """Raised inside a fetch when the total timeout passes while the body streams."""


class ProxyFailed(Exception):
    """Raised inside a fetch when the proxy itself failed: it could not be reached,
    refused the credentials (407) or refused to open a CONNECT tunnel."""


class UnsendableURL(ValueError):
    """Raised inside a fetch for a URL the client cannot send (scheme, host or port)."""


class UnsendableRequest(UnsendableURL):
    """Raised inside a fetch for a request no client can send as built (a method or
    header name that is not a token, a header value with a line break): final, like
    a URL that cannot be sent."""


FIRST: ExceptionTable = (
    (ProxyFailed, Reason.PROXY),
    (BodyTooLarge, Reason.TOO_LARGE),
    (BlockedAddress, Reason.BLOCKED_PRIVATE),
    (TooManyEncodings, Reason.TOO_MANY_ENCODINGS),
    (UnsendableURL, Reason.INVALID_URL),
    # socket.timeout and (3.11+) asyncio.TimeoutError are TimeoutError
    ((Deadline, TimeoutError, asyncio.TimeoutError), Reason.TIMEOUT),
    (TruncatedBody, Reason.TRUNCATED),
    (BadContentEncoding, Reason.BAD_ENCODING),
)
"""The rows every client's table starts with: crawlkit's own exceptions, and timeouts."""

LAST: ExceptionTable = (
    (ConnectionRefusedError, Reason.REFUSED),
    (ConnectionResetError, Reason.RESET),
    (socket.gaierror, Reason.DNS),
    (ssl.SSLError, Reason.TLS),
)
"""The OS errors under a library's own exceptions: after its specific rows, before
its catch-alls."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (cause, context, ``reason``, args), once each.

    A library's own ``OSError`` with an errno (aiohttp's ``ClientOSError(104, ...)``)
    also yields the builtin that errno stands for (``ConnectionResetError``).
    """
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
        if isinstance(current, OSError) and current.errno is not None:
            builtin = OSError(current.errno, current.strerror)
            if not isinstance(current, type(builtin)):
                stack.append(builtin)


def reason_for(exc: BaseException, table: ExceptionTable) -> Reason:
    """The reason of the first row of ``table`` whose class is anywhere in ``exc``'s
    chain; :attr:`Reason.CONNECTION` when none is."""
    chain = list(_chain(exc))
    for kind, reason in table:
        if any(isinstance(err, kind) for err in chain):
            return reason
    return Reason.CONNECTION


def failed_fetch(
    request: Request, status: int | None, headers: Mapping[str, str], exc: BaseException,
    started: float, first_byte: float, table: ExceptionTable,
) -> FetchResult:
    """The result of a fetch that raised: no body, the reason, the times so far.

    The record carries the reason's plain string, so that stats keyed by it and
    every serialiser see a ``str``.
    """
    reason = reason_for(exc, table)
    return FetchResult(request, status, headers, b"", reason.value, started, first_byte,
                       time.perf_counter())
