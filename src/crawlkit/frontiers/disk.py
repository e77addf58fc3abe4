"""The frontier of a durable crawl (``--state``): queue and seen set in the SQLite journal.

Memory stays bounded however many URLs the crawl discovers. What is held:

* per origin, a short buffer of the next requests (at most :data:`BUFFER`, and no
  new buffering once :data:`BUFFERED` requests are buffered across origins);
  the rest of the queue is read back from the journal, in order, when the buffer
  runs dry;
* the :data:`RECENT` fingerprints most recently seen, so that the links every
  page repeats (navigation, footers) are recognised without a query;
* the requests accepted since the last batch was written (at most a batch).

Everything else (whether an older request was seen, what is queued beyond the
buffers) is a query on the journal's indexes.

A buffer holds the first of its origin's queue (by priority, then acceptance):
a request that outranks what was read into it joins it, whatever its size, so
that the order stays that of the frontier in memory. Like the frontier in
memory, only the engine's thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, origin_of
from .base import Link, OriginQueues, key_of
from .journal import CrawlState, Position
from .memory import MemoryFrontier

BUFFER = 64
"""Requests per origin held in memory."""
BUFFERED = 20_000
"""Requests held in memory across all origins before new ones go to disk only."""
RECENT = 65_536
"""Fingerprints remembered as seen without asking the journal."""


class _JournalSeen:
    """The seen set of a durable crawl: the journal, behind a small memory of recent keys.

    A page's links are looked up together (:meth:`look_up`): one query for all of
    those not remembered, however old the URLs they repeat, so that a page costs
    the journal the same at the millionth page as at the first.
    """

    def __init__(self, state: CrawlState) -> None:
        self._state = state
        self.recent: OrderedDict[str, None] = OrderedDict()  # the oldest is dropped first
        # keys the last look_up found never accepted (until accepted, or forgotten)
        self._absent: set[str] = set()

    def add(self, url: str) -> None:
        self._absent.discard(url)  # accepted now: asked again once forgotten from recent
        recent = self.recent
        if len(recent) >= RECENT:
            recent.popitem(last=False)  # O(1), unlike deleting a plain dict's first key
        recent[url] = None

    def look_up(self, keys: Iterable[str]) -> None:
        """Ask the journal at once about every one of ``keys`` not remembered: those
        seen join the recent keys, the others answer "not seen" without a query
        until :meth:`forget`."""
        recent = self.recent
        unknown = {key for key in keys if key not in recent}
        if not unknown:
            return
        known = self._state.known_among(unknown)
        for key in known:
            self.add(key)
        self._absent = unknown - known

    def forget(self) -> None:
        """Drop what the last :meth:`look_up` found absent."""
        self._absent = set()

    def __contains__(self, url: object) -> bool:
        if url in self.recent:  # an accepted key is always added here first
            return True
        if url in self._absent:
            return False
        if isinstance(url, str) and self._state.is_known(url):
            self.add(url)
            return True
        return False


class DiskFrontier(MemoryFrontier):
    """A :class:`~crawlkit.frontiers.memory.MemoryFrontier` assembled from the journal:
    its seen set is :class:`_JournalSeen`, and accepted requests go to the journal,
    with the first of each origin's also buffered in its queues.

    It takes requests out in exactly the order the frontier in memory would.
    """

    def __init__(self, settings: CrawlSettings, state: CrawlState) -> None:
        self._state = state
        self._recent = _JournalSeen(state)
        self._buffers = OriginQueues(refill=self._refill)
        self._spilled: set[str] = set()  # origins with queued requests beyond their buffer
        # origin -> the furthest position read into its buffer; kept while the crawl
        # runs (a refill starts after it, so requests in flight are never read back)
        self._tail: dict[str, Position] = {}
        super().__init__(settings, seen=self._recent, queues=self._buffers, store=self._keep)

    @property
    def buffered(self) -> int:
        """Requests held in memory, across origins."""
        return self._buffers.held

    def buffered_for(self, origin: str) -> int:
        """Requests of ``origin`` held in memory."""
        return self._buffers.held_for(origin)

    @property
    def remembered(self) -> int:
        """Fingerprints known as seen without asking the journal."""
        return len(self._recent.recent)

    def allowed_hosts(self) -> list[str]:
        """The hosts links may go to (``same_host``), for the journal's checkpoint."""
        return sorted(self.rules.allowed_hosts)

    def resume(self, allowed_hosts: Iterable[str]) -> None:
        """Take up the queue an earlier run of this crawl left in the journal."""
        self.rules.allowed_hosts.update(allowed_hosts)
        for origin, count in self._state.pending_origins():
            self._spilled.add(origin)
            self._buffers.backlog(origin, count)

    def offer_links(self, links: Sequence[Link], depth: int) -> list[str | None]:
        keys = [canonicalize(link) if isinstance(link, str) else key_of(link) for link in links]
        self._recent.look_up(key for key in keys if key is not None)
        try:
            return super().offer_links(links, depth)
        finally:
            self._recent.forget()

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
