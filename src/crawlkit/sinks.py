"""Where items go: JSON lines, a JSON array or CSV on a stream, or a list in memory.

:func:`output_format` picks the format of an output file from its extension
(``.jsonl``/``.ndjson``: JSON lines, ``.json``: one JSON array, ``.csv``: CSV;
any other: JSON lines) unless one is named; :func:`open_sink` makes the sink.

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
import csv
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import IO, Any, Protocol

import orjson

from .errors import UsageError, storage_error
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



FORMATS = ("jsonl", "json", "csv")
"""The output formats, as ``--format`` names them."""

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}


def output_format(path: str | os.PathLike[str] | None, format: str | None = None) -> str:
    """The format of an output: ``format`` when given, else from ``path``'s extension
    (case-insensitive; JSON lines for any other extension and for stdout).

    Raises:
        UsageError: ``format`` is not one of :data:`FORMATS`.
    """
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown output format {format!r}; choose one of "
                             f"{', '.join(FORMATS)}")
        return format
    if path is None:
        return "jsonl"
    return _EXTENSIONS.get(PurePath(os.fspath(path)).suffix.lower(), "jsonl")


def parse_fields(fields: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"a,b,c"`` or ``["a", "b"]`` as a tuple of keys (blanks dropped, repeats once).

    Raises:
        UsageError: ``fields`` names no key at all (empty, or only commas).
    """
    if fields is None:
        return None
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise UsageError(f"fields must be strings, got {name!r}")
        name = name.strip()
        if name and name not in out:
            out.append(name)
    if not out:
        raise UsageError("--fields names no key: pass e.g. --fields url,title")
    return tuple(out)


def project(item: Item, fields: Sequence[str]) -> Item:
    """Only the keys of ``item`` named in ``fields``, in that order (missing ones left out)."""
    return {key: item[key] for key in fields if key in item}


def _stderr_warning(message: str) -> None:
    print(f"crawlkit: {message}", file=sys.stderr)


class ProjectingSink:
    """Passes on only the ``fields`` of each item, in that order, to ``inner``."""

    def __init__(self, inner: Sink, fields: Sequence[str]) -> None:
        self.inner = inner
        self.fields = tuple(fields)

    def write(self, item: Item) -> None:
        self.inner.write(project(item, self.fields))

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()


class JsonArraySink:
    """Writes one JSON array (UTF-8), one item per line, to a binary stream.

    The closing bracket is written by :meth:`close`, which the engine calls on any
    stop it survives (a finished crawl, a graceful stop, an error): the file is
    valid JSON then. A process killed outright leaves it without its ``]``, which
    is why a JSON array output cannot be resumed.

    Args:
        stream: a binary file object.
        owned: close ``stream`` in :meth:`close`.
    """

    def __init__(self, stream: IO[bytes], *, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned
        self._count = 0
        self._closed = False

    def write(self, item: Item) -> None:
        self.stream.write(b",\n" if self._count else b"[\n")
        self.stream.write(orjson.dumps(item))
        self._count += 1

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.stream.write(b"\n]\n" if self._count else b"[]\n")
        self.stream.flush()
        if self.owned:
            self.stream.close()


class CsvSink:
    """Writes CSV (UTF-8, CRLF line ends as RFC 4180 has them) to a binary stream.

    The header is ``fields`` or, without them, the first item's keys; it is
    written with the first row (or by :meth:`close` when ``fields`` were given
    and no item came). A key outside the header is left out of every row; when
    the header came from the first item (not chosen), each such key is reported
    once through ``warn``. Cells: strings as they are, ``None`` and a
    missing key empty, numbers and booleans in their JSON spelling (``true``,
    ``1.5``), lists and dicts as JSON text. The values are those every sink
    accepts (:func:`item_problem`); ``NaN`` never gets here.

    Args:
        stream: a binary file object.
        fields: the header; required when ``header_written``.
        owned: close ``stream`` in :meth:`close`.
        header_written: the stream already holds the header (a resumed output).
        warn: receives the line about keys left out (default: stderr).
        report: report keys left out (default: when ``fields`` were not given).
    """

    def __init__(self, stream: IO[bytes], fields: Sequence[str] | None = None, *,
                 owned: bool = False, header_written: bool = False,
                 warn: Callable[[str], None] | None = None,
                 report: bool | None = None) -> None:
        if header_written and not fields:
            raise ValueError("a written header needs its fields")
        self.stream = stream
        self.owned = owned
        self.fields: tuple[str, ...] | None = tuple(fields) if fields else None
        self._header_written = header_written
        self._warn = warn if warn is not None else _stderr_warning
        self._left_out: set[str] = set()  # keys reported, or all of them when fields were chosen
        self._report = self.fields is None if report is None else report
        self._known = frozenset(self.fields or ())
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def _row(self, cells: Sequence[str]) -> None:
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._writer.writerow(cells)
        self.stream.write(buffer.getvalue().encode("utf-8"))

    def write(self, item: Item) -> None:
        fields = self.fields
        if fields is None:
            fields = self.fields = tuple(item)
            self._known = frozenset(fields)
        if not self._header_written:
            self._row(fields)
            self._header_written = True
        known = self._known
        if self._report and (len(item) > len(known) or not known.issuperset(item)):
            extra = [key for key in item if key not in known and key not in self._left_out]
            if extra:
                self._left_out.update(extra)
                self._warn(f"csv: key(s) {', '.join(map(repr, extra))} not in the header "
                           f"({','.join(fields)}), left out")
        self._row([_cell(item.get(key)) for key in fields])

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        if not self._header_written and self.fields:
            self._row(self.fields)
            self._header_written = True
        self.stream.flush()
        if self.owned:
            self.stream.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    return orjson.dumps(value).decode("utf-8")


def read_csv_header(stream: IO[bytes], limit: int) -> tuple[str, ...] | None:
    """The header of the CSV file open in ``stream``, read from its first ``limit``
    bytes (at most 1 MiB), or ``None`` when it has none."""
    data = stream.read(min(limit, 1 << 20)) if limit > 0 else b""
    if not data:
        return None
    try:
        row = next(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))), None)
    except csv.Error:
        return None
    return tuple(row) if row else None


def open_sink(stream: IO[bytes], format: str, fields: Sequence[str] | None = None, *,
              owned: bool = False, header_written: bool = False,
              warn: Callable[[str], None] | None = None, report: bool | None = None) -> Sink:
    """The sink writing ``format`` (one of :data:`FORMATS`) to ``stream``.

    ``fields`` is the CSV header, or for JSON the keys kept, in that order; the
    other arguments are :class:`CsvSink`'s.
    """
    if format == "csv":
        return CsvSink(stream, fields, owned=owned, header_written=header_written, warn=warn,
                       report=report)
    sink: Sink = (JsonArraySink(stream, owned=owned) if format == "json"
                  else JsonLinesSink(stream, owned=owned))
    return sink if not fields else ProjectingSink(sink, fields)
