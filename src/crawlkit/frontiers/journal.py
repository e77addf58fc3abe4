"""Durable crawl state in SQLite (``--state FILE.db``): resume after a crash, output once.

The journal keeps every accepted request (the seen set, by fingerprint, and the
queue: a followed link as its URL and depth, any other request whole, with its
callback, meta, body and priority), which pages are done, the byte length of
the output file when they were, and the crawl's counters. The engine commits in
small batches, in this order:

1. append the batch's records to the output file, flush and fsync it;
2. in one SQLite transaction: insert the requests the batch discovered, mark its
   pages done, store the output's length and the counters (and, with
   ``--cookies``, the cookie jars, so a resumed crawl is still logged in).

After a ``kill -9`` at any moment, the next run truncates the output to the last
committed length (dropping records of pages not marked done), re-queues every
accepted page that is not done, and goes on. Fetching is at-least-once (pages
in flight or in the uncommitted batch are fetched again); output is
exactly-once.

The journal also records which file the output is (absolute path, ``st_dev`` and
``st_ino``) and a SHA-256 of every byte up to the committed length, kept
incrementally at each commit. A resume checks all of them before truncating
anything, so a state file never truncates a file that is not its output.

A state file is locked (``flock`` on the database file) by the process using it,
for the whole run; the holder's PID is kept in the journal (written once the
output is accepted) to name it.

A write that fails (disk full, I/O error) on the output or on the database is a
:class:`~crawlkit.errors.StorageError` naming the file and the error. The failed
transaction is rolled back (or was, by SQLite itself), so the journal keeps the
last batch that committed whole, and the next run resumes from it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import StorageError, UsageError, storage_error
from ..models import Request
from ..urls import origin_of

# key: the request's fingerprint; filtered: 0 for dont_filter requests (not in the
# seen set, so their keys may repeat); request: the whole request (Request.to_dict,
# attempt left out) unless it is a plain followed link, kept as url, depth and hops
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    filtered INTEGER NOT NULL,
    origin TEXT NOT NULL,
    priority INTEGER NOT NULL,
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    hops TEXT NOT NULL,
    request TEXT,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS requests_seen ON requests (key) WHERE filtered = 1;
CREATE INDEX IF NOT EXISTS requests_unfiltered ON requests (key, done) WHERE filtered = 0;
CREATE INDEX IF NOT EXISTS requests_queue ON requests (origin, done, priority DESC, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_TABLES = {"requests", "meta", "sqlite_sequence"}

Position = tuple[int, int]
"""Where a request stands in its origin's queue: ``(-priority, seq)``, ascending."""


def stored_form(request: Request) -> str | None:
    """What the journal keeps of ``request`` beyond URL, depth and hops: ``None``
    for a plain followed link, else the whole request as JSON (attempts left out)."""
    if request.plain and request.purpose == "page":
        return None
    raw = request.to_dict()
    raw.pop("attempt", None)
    return json.dumps(raw, separators=(",", ":"))
_HASH_CHUNK = 1 << 20

BATCH_PAGES = 50
BATCH_SECONDS = 0.2


@dataclass
class Resume:
    """What an earlier run of the same crawl left."""

    out_offset: int = 0
    counters: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)
    fresh: bool = True
    cookies: str | None = None
    """The cookie jars as :meth:`crawlkit.cookies.CookieJars.dump` wrote them."""


class CrawlState:
    """The SQLite journal of one crawl.

    Args:
        path: the database file (created when missing).
        fingerprint: identifies the crawl (seeds and options); a state file made
            by a different crawl is refused rather than silently mixed.
    """

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        shown = repr(str(path))
        existed = os.path.exists(path)
        if existed and (not os.access(path, os.R_OK | os.W_OK)
                        or not os.stat(path).st_mode & stat.S_IWUSR):
            raise UsageError(f"--state {shown} is read-only; make it writable or use a new file")
        if existed and os.path.isdir(path):
            raise UsageError(f"--state {shown} is a directory")
        created = False
        try:
            try:  # O_EXCL: a file this process created is the only one it may remove
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                created = True
            except FileExistsError:
                fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise UsageError(f"cannot use --state {shown}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"--state {shown} is in use by {_holder(path)}; wait for it to "
                             "finish or use another state file") from None
        self._lock_fd = fd  # flock held until close(): one crawl per state file
        self._path = str(path)
        try:
            self._open(path, shown, fingerprint)
        except BaseException:
            os.close(fd)
            if created:  # leave nothing behind
                for leftover in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
            raise
        # accepted, not yet in the database, in order, with their seq numbers
        self.new: list[tuple[int, Request]] = []
        self.done: list[Request] = []  # pages whose records are in the output
        self._hash = hashlib.sha256()  # of the output's bytes up to _hashed
        self._hashed = 0

    def _open(self, path: str | Path, shown: str, fingerprint: str) -> None:
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            try:
                tables = {str(row[0]) for row in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
                if columns and "filtered" not in columns:
                    raise UsageError(f"--state {shown} was written by an older crawlkit; "
                                     "use a new state file")
                if tables and (tables - _TABLES or "meta" not in tables):
                    raise UsageError(f"--state {shown} is a database of another program "
                                     "(not a crawlkit state file); use a new state file")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                stored = self._meta("fingerprint")
                if stored is None:
                    self._set_meta({"fingerprint": fingerprint})
                elif stored != fingerprint:
                    raise UsageError(f"--state {shown} belongs to another crawl (other seeds "
                                     "or options); use a new state file")
                row = self._db.execute("SELECT MAX(seq) FROM requests").fetchone()
                self._seq = int(row[0] or 0)  # the last seq number given out
            except BaseException:
                self._db.close()
                raise
        except sqlite3.Error as exc:
            raise UsageError(f"cannot use --state {shown}: {_sqlite_cause(exc)}") from None

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, values: dict[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def resume(self) -> Resume:
        """What was committed before (``fresh`` when nothing was)."""
        offset = self._meta("out_offset")
        if offset is None:
            return Resume()
        return Resume(
            out_offset=int(offset),
            counters=json.loads(self._meta("counters") or "{}"),
            allowed_hosts=json.loads(self._meta("allowed_hosts") or "[]"),
            fresh=False,
            cookies=self._meta("cookies"),
        )

    def pending_count(self) -> int:
        """Accepted pages not done yet."""
        row = self._db.execute("SELECT COUNT(*) FROM requests WHERE done = 0").fetchone()
        return int(row[0])

    def check_output(self, path: str | Path, stream: IO[bytes]) -> None:
        """Refuse an output that is not the one this crawl committed to.

        ``stream`` is ``path`` opened for reading and writing, nothing changed yet.
        The same absolute path, the same file (device and inode), at least the
        committed length, and the same bytes up to it (SHA-256). On success the
        running digest continues from there.

        Raises:
            UsageError: any mismatch; the file is left untouched.
        """
        offset = int(self._meta("out_offset") or 0)
        shown = repr(str(path))
        recorded = self._meta("out_path")
        where = os.path.abspath(path)
        if recorded is not None and recorded != where:
            raise UsageError(f"--out {shown} is not this crawl's output ({recorded!r}); "
                             "pass that file or use a new state file")
        st = os.fstat(stream.fileno())
        if self._meta("out_ino") not in (None, f"{st.st_dev}:{st.st_ino}"):
            raise UsageError(f"--out {shown} was replaced by another file since the crawl "
                             "wrote it; use a new state file")
        if st.st_size < offset:
            raise UsageError(f"--out {shown} is shorter ({st.st_size} bytes) than the "
                             f"{offset} bytes committed; use a new state file")
        digest = hashlib.sha256()
        read = 0
        while read < offset:
            chunk = os.pread(stream.fileno(), min(_HASH_CHUNK, offset - read), read)
            if not chunk:
                break
            digest.update(chunk)
            read += len(chunk)
        expected = self._meta("out_sha256")
        if expected is not None and digest.hexdigest() != expected:
            raise UsageError(f"--out {shown} was changed since the crawl wrote it; "
                             "use a new state file")
        self._hash, self._hashed = digest, offset

    def bind_output(self, path: str | Path, stream: IO[bytes]) -> None:
        """Record which file the output is (after :meth:`check_output` on a resume),
        and this process as the one using the state file."""
        st = os.fstat(stream.fileno())
        with self._writing():
            self._set_meta({"out_path": os.path.abspath(path),
                            "out_ino": f"{st.st_dev}:{st.st_ino}", "pid": str(os.getpid())})

    def accept(self, request: Request) -> Position:
        """Journal an accepted request (written with the next batch, or sooner);
        returns its place in its origin's queue."""
        self._seq += 1
        self.new.append((self._seq, request))
        return (-request.priority, self._seq)

    def seen_keys(self) -> Iterator[str]:
        """The seen-set key (fingerprint) of every request ever accepted and written
        (``dont_filter`` ones excepted), in no particular order."""
        for (key,) in self._db.execute("SELECT key FROM requests WHERE filtered = 1"):
            yield str(key)

    def pending_origins(self) -> list[tuple[str, int]]:
        """Origins with accepted pages not done, and how many each has."""
        rows = self._db.execute(
            "SELECT origin, COUNT(*) FROM requests WHERE done = 0 GROUP BY origin ORDER BY MIN(seq)"
        )
        return [(str(origin), int(count)) for origin, count in rows]

    def pending_after(self, origin: str, after: Position | None,
                      limit: int) -> list[tuple[Position, Request]]:
        """Up to ``limit`` of ``origin``'s pages not done, in queue order (priority,
        higher first, then acceptance), starting after the position ``after`` (from
        the first when ``None``), each with its position.

        Requests accepted but not yet written are written first, so none is missed.
        """
        self.write_new()
        query = ("SELECT seq, priority, url, depth, hops, request FROM requests "
                 "WHERE origin = ? AND done = 0 {} ORDER BY priority DESC, seq LIMIT ?")
        if after is None:
            rows = self._db.execute(query.format(""), (origin, limit))
        else:
            priority, seq = -after[0], after[1]
            rows = self._db.execute(
                query.format("AND (priority < ? OR (priority = ? AND seq > ?))"),
                (origin, priority, priority, seq, limit))
        out: list[tuple[Position, Request]] = []
        for seq, priority, url, depth, hops, data in rows:
            if data is None:
                request = Request(url, depth=depth, hops=tuple(json.loads(hops)))
            else:
                request = Request.from_dict(json.loads(data))
            out.append(((-int(priority), int(seq)), request))
        return out

    def _insert_new(self) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO requests (seq, key, filtered, origin, priority, url, depth, "
            "hops, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(seq, r.fingerprint, int(not r.dont_filter), origin_of(r.url), r.priority, r.url,
              r.depth, json.dumps(r.hops), stored_form(r)) for seq, r in self.new],
        )

    def _mark_done(self) -> None:
        filtered = [(r.fingerprint,) for r in self.done if not r.dont_filter]
        self._db.executemany("UPDATE requests SET done = 1 WHERE key = ? AND filtered = 1",
                             filtered)
        # requests that may repeat: one row per completion, the first of those alike
        for request in self.done:
            if request.dont_filter:
                self._db.execute(
                    "UPDATE requests SET done = 1 WHERE seq = (SELECT MIN(seq) FROM requests "
                    "WHERE key = ? AND filtered = 0 AND done = 0 AND request IS ?)",
                    (request.fingerprint, stored_form(request)))

    def write_new(self) -> None:
        """Write the accepted requests now, ahead of their batch.

        Safe at any moment: a URL in the journal before the page that found it is
        done is simply pending; if that page is fetched again after a crash, its
        links are found already known.
        """
        if self.new:
            with self._writing(), self._transaction():
                self._insert_new()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction; on success the accepted requests count as written."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            # SQLite ends the transaction itself on a full disk or an I/O error;
            # a second ROLLBACK would hide the cause under "no transaction is active"
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
        self.new.clear()

    def commit(
        self, out: IO[bytes] | None, counters: dict[str, Any], allowed_hosts: Sequence[str],
        cookies: str | None = None,
    ) -> None:
        """Make the batch durable: fsync the output, then one transaction (which also
        keeps the crawl's ``cookies`` jars, when given)."""
        offset = 0
        if out is not None:
            try:
                out.flush()
                os.fsync(out.fileno())
                offset = out.tell()
                while self._hashed < offset:
                    chunk = os.pread(out.fileno(), min(_HASH_CHUNK, offset - self._hashed),
                                     self._hashed)
                    if not chunk:
                        break
                    self._hash.update(chunk)
                    self._hashed += len(chunk)
            except OSError as exc:
                raise storage_error("--out", getattr(out, "name", "<stream>"), exc) from None
        with self._writing(), self._transaction():
            self._insert_new()
            self._mark_done()
            self._set_meta({
                "out_offset": str(offset),
                "out_sha256": self._hash.hexdigest(),
                "counters": json.dumps(counters),
                "allowed_hosts": json.dumps(sorted(allowed_hosts)),
                **({} if cookies is None else {"cookies": cookies}),
            })
        self.done.clear()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Translate a failed write of the database into a :class:`StorageError`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write --state {self._path!r}: {_sqlite_cause(exc)}") \
                from None
        except OSError as exc:
            raise storage_error("--state", self._path, exc) from None

    def close(self) -> None:
        """Close the database and release the lock."""
        self._db.close()
        os.close(self._lock_fd)


def _sqlite_cause(exc: sqlite3.Error) -> str:
    """SQLite's error in the words of the operating system where there are some:
    ``[Errno 28] No space left on device (SQLITE_FULL)``."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return f"[Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)} ({name})"
    if code == sqlite3.SQLITE_IOERR:
        return f"[Errno {errno.EIO}] {os.strerror(errno.EIO)} ({name})"
    return f"{exc} ({name})"


def _holder(path: str | Path) -> str:
    """``"process 1234"``: the PID the lock holder wrote (read-only, never blocks it)."""
    try:
        db = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, timeout=1.0)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'pid'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        row = None
    return f"process {row[0]}" if row else "another process"
