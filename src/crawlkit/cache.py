"""The response cache behind ``--cache``: re-run a crawl without the network.

A cache is a directory holding two files::

    PATH/responses.warc.gz   every stored response, one gzip member per WARC record
    PATH/index.sqlite        request fingerprint -> offset and length of its record

The WARC file is an ordinary archive: a ``warcinfo`` record, then one ``response``
record per stored response (status, every header line, each ``Set-Cookie`` line
apart, the decompressed body, and the fetch's time to first byte and download
time in ``WARC-Crawlkit-TTFB``/``WARC-Crawlkit-Download``), so standard WARC tools
read it. The index is the cache's table of contents: the key is
:attr:`Request.fingerprint` (method, canonical URL, digest of the body).

What is stored: every HTTP response, error statuses included (a 404 is an
answer), robots.txt and each redirect hop as its own response; not failed
fetches (timeouts, refused connections: there is nothing to replay), and not a
response that asked for another attempt (a 503 with retries left) — the answer
that ended the page's attempts is stored instead.

The engine is the only writer, from its one thread. Records are appended and
flushed as they come; every :data:`BATCH_RECORDS` records or
:data:`BATCH_SECONDS` seconds (and at the end) the WARC file is fsynced and only
then the index rows pointing into it are committed, together with the length of
the WARC file they cover. A killed run therefore leaves an index that points only
at whole records; the next run cuts off whatever the WARC file holds beyond that
length (the records of the lost batch are fetched again). A ``flock`` keeps two
crawls from writing one cache at the same time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import IO

from . import warc
from ._version import __version__
from .errors import CacheError, Reason, StorageError, storage_error
from .models import FetchResult, RawResponse, Request
from .settings import CrawlSettings

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no lock between crawls
    fcntl = None  # type: ignore[assignment]

WARC_NAME = "responses.warc.gz"
INDEX_NAME = "index.sqlite"
FORMAT = "1"
"""The layout version, kept in the index; another one is refused, never rewritten."""
BATCH_RECORDS = 100
BATCH_SECONDS = 1.0
KEY_HEADER = "WARC-Crawlkit-Key"
"""The WARC field holding the request fingerprint a record answers."""

NOT_IN_CACHE = Reason.NOT_IN_CACHE.value
_SET_COOKIE = "set-cookie"


def raw_response(result: FetchResult) -> RawResponse:
    """What the cache keeps of an answered fetch."""
    return RawResponse(
        status=result.status or 0,
        headers=tuple(result.headers.items()),
        body=result.body,
        ttfb=max(0.0, result.first_byte - result.started),
        download=max(0.0, result.finished - result.first_byte),
        set_cookies=tuple(result.set_cookies),
    )


def _header_lines(raw: RawResponse) -> list[tuple[str, str]]:
    """The response's header lines: the joined ``set-cookie`` value split back into
    the lines it came as, when the client kept them."""
    lines: list[tuple[str, str]] = []
    cookies_written = False
    for name, value in raw.headers:
        if name == _SET_COOKIE and raw.set_cookies:
            lines += [(_SET_COOKIE, line) for line in raw.set_cookies]
            cookies_written = True
        else:
            lines.append((name, value))
    if raw.set_cookies and not cookies_written:
        lines += [(_SET_COOKIE, line) for line in raw.set_cookies]
    return lines


def _result(request: Request, found: warc.WarcResponse) -> FetchResult:
    """The fetch result a stored response stands for, timed as it was fetched."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in found.headers:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value  # as clients join
        if key == _SET_COOKIE:
            cookies.append(value)
    ttfb = _seconds(found.fields.get(warc.TTFB_HEADER.lower()))
    download = _seconds(found.fields.get(warc.DOWNLOAD_HEADER.lower()))
    started = time.perf_counter()
    return FetchResult(request, found.status, headers, found.body, None, started,
                       started + ttfb, started + ttfb + download, tuple(cookies))


def _seconds(text: str | None) -> float:
    try:
        return max(0.0, float(text or 0.0))
    except ValueError:
        return 0.0


class ResponseCache:
    """A cache directory opened for one crawl (see the module docstring).

    Args:
        path: the cache directory (created in ``use`` and ``refresh`` modes).
        mode: ``"use"``, ``"refresh"`` or ``"only"`` (``--cache-mode``).

    Raises:
        CacheError: ``path`` is not a cache, is corrupt or truncated, holds another
            layout version, is written by another crawl, or (``only``) does not exist.
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "use") -> None:
        self.path = Path(os.fspath(path))
        self.mode = mode
        self.writing = mode != "only"
        self.hits = 0
        self.stored = 0
        self._pending = 0
        self._batch_started = time.perf_counter()
        self._writer: IO[bytes] | None = None
        self._reader: IO[bytes] | None = None
        self._db: sqlite3.Connection | None = None
        try:
            self._open()
        except BaseException:
            self._close_files()
            raise

    @classmethod
    def open(cls, settings: CrawlSettings) -> ResponseCache | None:
        """The cache ``settings`` ask for, or ``None`` without ``--cache``."""
        if settings.cache is None:
            return None
        return cls(settings.cache, settings.cache_mode)

    def _fail(self, problem: str) -> CacheError:
        return CacheError(f"--cache {str(self.path)!r}: {problem}")

    def _open(self) -> None:
        path = self.path
        if path.exists() and not path.is_dir():
            raise self._fail("is a file; give a directory (it holds a WARC file and its index)")
        index, archive = path / INDEX_NAME, path / WARC_NAME
        if not self.writing and not index.exists():
            raise self._fail("no cache there (--cache-mode only reads a cache a crawl filled)")
        if index.exists() != archive.exists():
            have, missing = (INDEX_NAME, WARC_NAME) if index.exists() else (WARC_NAME, INDEX_NAME)
            raise self._fail(f"holds {have} but not {missing}: not a usable cache; delete it")
        try:
            path.mkdir(parents=True, exist_ok=True)
            if self.writing:
                self._writer = open(archive, "ab")  # noqa: SIM115 - closed in close()
            self._reader = open(archive, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise self._fail(f"cannot open: {exc.strerror or exc}") from None
        self._lock(self._reader)
        end = self._open_index(index)
        size = os.fstat(self._reader.fileno()).st_size
        if size < end:
            raise self._fail(f"{WARC_NAME} is truncated ({size} bytes, the index covers "
                             f"{end}); delete the cache")
        if self._writer is not None and size > end:
            self._writer.truncate(end)  # records a killed run wrote but never indexed
        self._end = end
        if self._writer is not None and end == 0:
            self._append(warc.warcinfo_record([("software", f"crawlkit/{__version__}"),
                                               ("format", "WARC File Format 1.1"),
                                               ("crawlkit-cache", FORMAT)]))
            self._commit()
        self._check_last_record()

    def _lock(self, handle: IO[bytes]) -> None:
        """Hold the WARC file for this crawl: exclusively to write it (one engine
        appends and indexes), shared to only read it."""
        if fcntl is None:
            return
        # the flock protects the WARC file and its index from a second writer; it
        # lasts as long as the reading handle is open
        how = fcntl.LOCK_EX if self.writing else fcntl.LOCK_SH
        try:
            fcntl.flock(handle.fileno(), how | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._fail("another crawl is writing this cache; wait for it or use "
                             "another directory") from None

    def _connect(self, index: Path) -> sqlite3.Connection:
        """The index's connection: read-only in ``only`` mode, so a cache on read-only
        media or of another user is read as it is."""
        # the engine's one thread uses it; the Crawler may open it in another
        if self.writing:
            return sqlite3.connect(index, isolation_level=None, check_same_thread=False)
        uri = index.resolve().as_uri() + "?mode=ro"
        if not os.access(index.parent, os.W_OK):
            # a WAL index cannot be read where its -shm file cannot be made; the shared
            # flock keeps every writer out, so the file does not change while it is read
            uri += "&immutable=1"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

    def _open_index(self, index: Path) -> int:
        """Open (or create) the index; the WARC length it covers."""
        try:
            db = self._db = self._connect(index)
            if self.writing:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if not tables and self.writing:  # new (or created by a run killed at once)
                db.execute("BEGIN")
                db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, offset INTEGER "
                           "NOT NULL, length INTEGER NOT NULL, url TEXT NOT NULL, status "
                           "INTEGER NOT NULL, stored REAL NOT NULL)")
                db.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("format", FORMAT), ("end", "0")])
                db.execute("COMMIT")
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:  # not a damaged file: one it cannot use
            raise self._fail(f"cannot open {INDEX_NAME}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise self._fail(f"{INDEX_NAME} is not a cache index ({exc}); delete the "
                             "cache") from None
        if meta.get("format") != FORMAT:
            raise self._fail(f"layout version {meta.get('format')!r}, this crawlkit reads "
                             f"{FORMAT!r}; delete the cache or use another directory")
        try:
            return int(meta["end"])
        except (KeyError, ValueError):
            raise self._fail(f"{INDEX_NAME} is corrupt (no WARC length); delete the "
                             "cache") from None

    def _check_last_record(self) -> None:
        """Read the record written last, so a damaged file fails now, not mid-crawl."""
        assert self._db is not None
        try:
            row = self._db.execute(
                "SELECT offset, length FROM responses ORDER BY offset DESC LIMIT 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._fail(f"{INDEX_NAME} is corrupt ({exc}); delete the cache") from None
        if row is not None:
            self._read(int(row[0]), int(row[1]))

    def _read(self, offset: int, length: int) -> warc.WarcResponse:
        assert self._reader is not None
        try:
            self._reader.seek(offset)
            member = self._reader.read(length)
        except OSError as exc:
            raise self._fail(f"cannot read {WARC_NAME}: {exc.strerror or exc}") from None
        try:
            if len(member) != length:
                raise warc.WarcFormatError("the file ends inside the record")
            return warc.parse_response(warc.decompress(member))
        except warc.WarcFormatError as exc:
            raise self._fail(f"{WARC_NAME} is corrupt at offset {offset}: {exc}; delete "
                             "the cache") from None

    def lookup(self, request: Request) -> FetchResult | None:
        """The stored answer to ``request``, as a :class:`FetchResult`; ``None`` when
        the network must answer (a miss, or ``refresh`` mode). In ``only`` mode a
        miss is a failed fetch: ``"not in cache"``.

        Raises:
            CacheError: the record the index points to is damaged.
        """
        if self.mode == "refresh":
            return None
        assert self._db is not None
        row = self._db.execute("SELECT offset, length FROM responses WHERE key = ?",
                               (request.fingerprint,)).fetchone()
        if row is None:
            if self.writing:
                return None
            return FetchResult(request, None, {}, b"", NOT_IN_CACHE)
        self.hits += 1
        return _result(request, self._read(int(row[0]), int(row[1])))

    def store(self, request: Request, raw: RawResponse) -> None:
        """Append the answer to ``request`` (replacing an earlier one in the index).

        A response whose header lines cannot be written back as they came (a value
        holding a line break) is not stored.

        Raises:
            StorageError: the cache cannot be written (disk full, I/O error).
        """
        if not self.writing:
            return
        fields = [(KEY_HEADER, request.fingerprint), (warc.TTFB_HEADER, repr(raw.ttfb)),
                  (warc.DOWNLOAD_HEADER, repr(raw.download))]
        if request.method != "GET":
            fields.append(("WARC-Crawlkit-Method", request.method))
        try:
            record = warc.response_record(request.url, raw.status, _header_lines(raw),
                                          raw.body, fields)
        except warc.WarcFormatError:
            return
        offset = self._append(record)
        assert self._db is not None
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                             (request.fingerprint, offset, self._end - offset, request.url,
                              raw.status, time.time()))
        except sqlite3.Error as exc:
            raise self._index_error(exc) from None
        self.stored += 1
        self._pending += 1
        if (self._pending >= BATCH_RECORDS
                or time.perf_counter() - self._batch_started >= BATCH_SECONDS):
            self._commit()

    def _index_error(self, exc: sqlite3.Error) -> StorageError:
        return StorageError(f"cannot write --cache {str(self.path / INDEX_NAME)!r}: {exc}")

    def _append(self, record: bytes) -> int:
        """Write one record at the end of the WARC file; its offset."""
        assert self._writer is not None
        member = warc.compress(record)
        offset = self._end
        try:
            self._writer.write(member)
            self._writer.flush()  # a lookup later in this run reads it through another handle
        except OSError as exc:
            raise storage_error("--cache", self.path / WARC_NAME, exc) from None
        self._end += len(member)
        return offset

    def _commit(self) -> None:
        """Make the records written so far durable, then the index rows naming them."""
        assert self._db is not None and self._writer is not None
        try:
            self._writer.flush()
            os.fsync(self._writer.fileno())
        except OSError as exc:
            raise storage_error("--cache", self.path / WARC_NAME, exc) from None
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.execute("UPDATE meta SET value = ? WHERE name = 'end'", (str(self._end),))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._index_error(exc) from None
        self._pending = 0
        self._batch_started = time.perf_counter()

    def close(self) -> None:
        """Commit what is pending and close the files (again: nothing happens)."""
        try:
            if self._pending and self._db is not None and self._writer is not None:
                self._commit()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            db.close()
        for name in ("_writer", "_reader"):
            handle = getattr(self, name)
            setattr(self, name, None)
            if handle is not None:
                handle.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
