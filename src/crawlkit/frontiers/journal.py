"""Durable crawl state in SQLite (``--state FILE.db``): resume after a crash, output once.

The journal keeps every accepted URL (the seen set and the queue), which pages
are done, the byte length of the output file when they were, and the crawl's
counters. The engine commits in small batches, in this order:

1. append the batch's records to the output file, flush and fsync it;
2. in one SQLite transaction: insert the URLs the batch discovered, mark its
   pages done, store the output's length and the counters.

After a ``kill -9`` at any moment, the next run truncates the output to the last
committed length (dropping records of pages not marked done), re-queues every
accepted page that is not done, and goes on. Fetching is at-least-once (pages
in flight or in the uncommitted batch are fetched again); output is
exactly-once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError
from ..models import Request
from ..urls import origin_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    depth INTEGER NOT NULL,
    hops TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_queue ON requests (origin, done, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

BATCH_PAGES = 50
BATCH_SECONDS = 0.2


@dataclass
class Resume:
    """What an earlier run of the same crawl left."""

    out_offset: int = 0
    counters: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)
    fresh: bool = True


class CrawlState:
    """The SQLite journal of one crawl.

    Args:
        path: the database file (created when missing).
        fingerprint: identifies the crawl (seeds and options); a state file made
            by a different crawl is refused rather than silently mixed.
    """

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
            if columns and "origin" not in columns:
                raise UsageError(f"--state {str(path)!r} was written by an older crawlkit; "
                                 "use a new state file")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot use --state {str(path)!r}: {exc}") from None
        stored = self._meta("fingerprint")
        if stored is None:
            self._set_meta({"fingerprint": fingerprint})
        elif stored != fingerprint:
            raise UsageError(
                f"--state {str(path)!r} belongs to another crawl (other seeds or options); "
                "use a new state file"
            )
        self.new: list[Request] = []  # accepted, not yet in the database, in order
        self.new_urls: set[str] = set()  # the same URLs, for membership tests
        self.done: list[str] = []

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
        )

    def accept(self, request: Request) -> None:
        """Journal an accepted request (written with the next batch, or sooner)."""
        self.new.append(request)
        self.new_urls.add(request.url)

    def is_known(self, url: str) -> bool:
        """Whether ``url`` was ever accepted (this run or an earlier one)."""
        if url in self.new_urls:
            return True
        row = self._db.execute("SELECT 1 FROM requests WHERE url = ?", (url,)).fetchone()
        return row is not None

    def pending_origins(self) -> list[tuple[str, int]]:
        """Origins with accepted pages not done, and how many each has."""
        rows = self._db.execute(
            "SELECT origin, COUNT(*) FROM requests WHERE done = 0 GROUP BY origin ORDER BY MIN(seq)"
        )
        return [(str(origin), int(count)) for origin, count in rows]

    def pending_after(self, origin: str, after: str | None, limit: int) -> list[Request]:
        """Up to ``limit`` of ``origin``'s pages not done, in the order they were
        accepted, starting after the URL ``after`` (from the first when ``None``).

        Requests accepted but not yet written are written first, so none is missed.
        """
        self.write_new()
        db = self._db
        seq = 0
        if after is not None:
            row = db.execute("SELECT seq FROM requests WHERE url = ?", (after,)).fetchone()
            seq = int(row[0]) if row is not None else 0
        rows = db.execute(
            "SELECT url, depth, hops FROM requests WHERE origin = ? AND done = 0 AND seq > ? "
            "ORDER BY seq LIMIT ?", (origin, seq, limit),
        )
        return [Request(url, depth, tuple(json.loads(hops))) for url, depth, hops in rows]

    def _insert_new(self) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO requests (url, origin, depth, hops) VALUES (?, ?, ?, ?)",
            [(r.url, origin_of(r.url), r.depth, json.dumps(r.hops)) for r in self.new],
        )

    def write_new(self) -> None:
        """Write the accepted requests now, ahead of their batch.

        Safe at any moment: a URL in the journal before the page that found it is
        done is simply pending; if that page is fetched again after a crash, its
        links are found already known.
        """
        if self.new:
            with self._transaction():
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
            db.execute("ROLLBACK")
            raise
        self.new.clear()
        self.new_urls.clear()

    def commit(
        self, out: IO[bytes] | None, counters: dict[str, Any], allowed_hosts: Sequence[str]
    ) -> None:
        """Make the batch durable: fsync the output, then one transaction."""
        offset = 0
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
            offset = out.tell()
        with self._transaction():
            self._insert_new()
            self._db.executemany("UPDATE requests SET done = 1 WHERE url = ?",
                                 [(url,) for url in self.done])
            self._set_meta({
                "out_offset": str(offset),
                "counters": json.dumps(counters),
                "allowed_hosts": json.dumps(sorted(allowed_hosts)),
            })
        self.done.clear()

    def close(self) -> None:
        self._db.close()
