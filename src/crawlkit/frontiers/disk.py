"""The frontier of a durable crawl (``--state``): queue and seen set in the SQLite journal.

What is held in memory:

* per origin, a short buffer of the next requests (at most :data:`BUFFER`, and no
  new buffering once :data:`BUFFERED` requests are buffered across origins);
  the rest of the queue is read back from the journal, in order, when the buffer
  runs dry;
* a 64-bit fingerprint of every key the journal holds
  (:class:`~crawlkit.frontiers.memory.Fingerprints`: 8 bytes per URL seen), so
  that whether a link was seen never costs a query, however long ago it was seen;
* the requests accepted since the last batch was written (at most a batch).

Everything else (what is queued beyond the buffers, whole requests) is in the
journal only.

A buffer holds the first of its origin's queue (by priority, then acceptance):
a request that outranks what was read into it joins it, whatever its size, so
that the order stays that of the frontier in memory. Like the frontier in
memory, only the engine's thread touches it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Request
from ..settings import CrawlSettings
from ..urls import origin_of
from .base import OriginQueues
from .journal import CrawlState, Position
from .memory import Fingerprints, MemoryFrontier

BUFFER = 64
"""Requests per origin held in memory."""
BUFFERED = 20_000
"""Requests held in memory across all origins before new ones go to disk only."""
class DiskFrontier(MemoryFrontier):
    """A :class:`~crawlkit.frontiers.memory.MemoryFrontier` assembled from the journal:
    its seen set is the :class:`~crawlkit.frontiers.memory.Fingerprints` of the
    journal's keys (loaded when it starts), and accepted
    requests go to the journal, with the first of each origin's also buffered in
    its queues.

    It takes requests out in exactly the order the frontier in memory would.
    """

    def __init__(self, settings: CrawlSettings, state: CrawlState) -> None:
        self._state = state
        self._prints = Fingerprints(state.seen_keys())
        self._buffers = OriginQueues(refill=self._refill)
        self._spilled: set[str] = set()  # origins with queued requests beyond their buffer
        # origin -> the furthest position read into its buffer; kept while the crawl
        # runs (a refill starts after it, so requests in flight are never read back)
        self._tail: dict[str, Position] = {}
        super().__init__(settings, seen=self._prints, queues=self._buffers, store=self._keep)

    @property
    def buffered(self) -> int:
        """Requests held in memory, across origins."""
        return self._buffers.held

    def buffered_for(self, origin: str) -> int:
        """Requests of ``origin`` held in memory."""
        return self._buffers.held_for(origin)

    @property
    def remembered(self) -> int:
        """Fingerprints held in memory: one per key in the journal (or in its next write)."""
        return len(self._prints)

    def allowed_hosts(self) -> list[str]:
        """The hosts links may go to (``same_host``), for the journal's checkpoint."""
        return sorted(self.rules.allowed_hosts)

    def resume(self, allowed_hosts: Iterable[str]) -> None:
        """Take up the queue an earlier run of this crawl left in the journal."""
        self.rules.allowed_hosts.update(allowed_hosts)
        for origin, count in self._state.pending_origins():
            self._spilled.add(origin)
            self._buffers.backlog(origin, count)

    def _keep(self, request: Request) -> None:
        position = self._state.accept(request)
        origin = origin_of(request.url)
        buffers = self._buffers
        tail = self._tail.get(origin)
        if tail is not None and position < tail:
            buffers.push(request)  # it outranks what is on disk only: it goes first
            return
        if (origin not in self._spilled and buffers.held < BUFFERED
                and buffers.held_for(origin) < BUFFER):
            buffers.push(request)
            self._tail[origin] = position
            return
        # on disk only (in the journal's next write); read back when the buffer empties
        self._spilled.add(origin)
        buffers.backlog(origin)

    def _refill(self, origin: str) -> list[Request]:
        if origin not in self._spilled:
            return []
        rows = self._state.pending_after(origin, self._tail.get(origin), BUFFER)
        if rows:
            self._tail[origin] = rows[-1][0]
        if len(rows) < BUFFER:  # everything accepted is written, so this is all of it
            self._spilled.discard(origin)
        return [request for _, request in rows]
