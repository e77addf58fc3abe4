"""Where items go: JSON lines on a stream, or a list in memory.

Every sink accepts the same items: the JSON data model, checked once by
:func:`item_problem` where the spider runs (:class:`crawlkit.process.Processor`),
so an item the JSON lines output could not hold never reaches any sink, and
what :func:`crawlkit.crawl` returns is exactly what a JSON lines file would read
back as. An item that fails the check is not written: its page becomes a failed
record whose reason starts with ``item not serialisable:``.

Accepted values:

* ``dict`` with ``str`` keys (subclasses too), ``list`` and ``tuple`` (written
  as a JSON array, read back as a list);
* ``str`` (valid Unicode: no lone surrogates), ``bool``, ``None``;
* ``int`` from ``-2**63`` to ``2**64 - 1`` (what a 64-bit JSON reader keeps);
* finite ``float``. ``NaN``, ``Infinity`` and ``-Infinity`` have no JSON form:
  an item holding one is refused like any other unwritable value (it is never
  turned into ``null``, which would lose data silently).

Anything else (``bytes``, ``Decimal``, ``set``, ``datetime``, non-string keys,
nesting deeper than :data:`MAX_DEPTH`) is refused.
"""

from __future__ import annotations

import contextlib
from typing import IO, Any, Protocol

import orjson

from .errors import StorageError
from .models import Item

MAX_DEPTH = 128
"""How deeply lists and dicts may nest inside an item (the item itself is level 1)."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
ITEM_ERROR = "item not serialisable"
"""The start of the reason given to a page whose spider yielded an unwritable item."""


def item_problem(item: Item) -> str | None:
    """Why ``item`` cannot be written by every sink alike, or ``None`` when it can.

    A type walk, with no serialisation: cheap enough to run on every item.
    The reason names the value's type and where it is, e.g.
    ``"item not serialisable: bytes at key 'x'"``.
    """
    problem = _dict_problem(item, 1)
    if problem is None:
        return None
    what, path = problem
    where = f" at key {path[0]!r}" + "".join(f"[{p!r}]" for p in path[1:]) if path else ""
    return f"{ITEM_ERROR}: {what}{where}"


_Problem = tuple[str, list[str | int]]


def _dict_problem(obj: dict[Any, Any], depth: int) -> _Problem | None:
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels", []
    for key, value in obj.items():
        if type(key) is not str and not isinstance(key, str):
            return f"{type(key).__name__} key {_short(key)}", []
        if not key.isascii() and not _utf8(key):
            return "str key with a lone surrogate", []
        problem = _value_problem(value, depth)
        if problem is not None:
            problem[1].insert(0, key)
            return problem
    return None


def _value_problem(value: Any, depth: int) -> _Problem | None:
    kind = type(value)
    if kind is str:
        return None if value.isascii() or _utf8(value) else ("str with a lone surrogate", [])
    if value is None or kind is bool:
        return None
    if kind is int:
        return None if _INT_MIN <= value <= _INT_MAX else ("int beyond 64 bits", [])
    if kind is float:
        return None if value - value == 0.0 else (f"float {value!r}", [])  # nan, inf
    if kind is dict:
        return _dict_problem(value, depth + 1)
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels", []
        for index, element in enumerate(value):
            problem = _value_problem(element, depth + 1)
            if problem is not None:
                problem[1].insert(0, index)
                return problem
        return None
    # subclasses the JSON writer takes as their base type (str and int enums, OrderedDict)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return _value_problem(str(value), depth)
    if isinstance(value, int):
        return _value_problem(int(value), depth)
    if isinstance(value, dict):
        return _dict_problem(value, depth + 1)
    if isinstance(value, list):
        return _value_problem(list(value), depth)
    return kind.__name__, []


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Sink(Protocol):
    """Receives every item a crawl produces, in commit order, from one thread.

    Items have passed :func:`item_problem`; a sink need not check them again.
    """

    def write(self, item: Item) -> None:
        """Store one item."""

    def flush(self) -> None:
        """Push buffered items to their destination."""

    def close(self) -> None:
        """Flush what is buffered. The sink does not close streams it did not open."""


class ListSink:
    """Keeps items in :attr:`items`."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def write(self, item: Item) -> None:
        self.items.append(item)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class JsonLinesSink:
    """Writes one JSON object per line (UTF-8) to a binary stream.

    Args:
        stream: a binary file object, e.g. ``open(path, "wb")`` or ``sys.stdout.buffer``.
        owned: close ``stream`` in :meth:`close`.

    Raises:
        StorageError: from :meth:`write`, :meth:`flush` or :meth:`close`, when the
            stream cannot be written (disk full, I/O error); the message names the
            file and the error. An owned stream is closed then, dropping what it
            buffered, and the sink writes nothing more.
    """

    def __init__(self, stream: IO[bytes], *, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned
        self._broken = False

    def write(self, item: Item) -> None:
        try:
            self.stream.write(orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE))
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        if self._broken:
            return
        try:
            self.stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None
        if self.owned:
            self.stream.close()

    def _failed(self, exc: OSError) -> OSError:
        """``exc`` as the one-line error users see (a closed pipe stays itself)."""
        if isinstance(exc, BrokenPipeError):
            return exc
        self._broken = True
        if self.owned:
            with contextlib.suppress(OSError):
                self.stream.close()  # flushes in vain, then releases the file
        return storage_error("--out", getattr(self.stream, "name", "<stream>"), exc)


def storage_error(what: str, name: object, exc: OSError) -> StorageError:
    """``cannot write --out 'pages.jsonl': [Errno 28] No space left on device``."""
    detail = f"[Errno {exc.errno}] {exc.strerror}" if exc.errno else str(exc)
    if name == "<stdout>":
        return StorageError(f"cannot write the output (stdout): {detail}")
    return StorageError(f"cannot write {what} {str(name)!r}: {detail}")
