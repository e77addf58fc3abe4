"""The frontier of a durable crawl (``--state``): queue and seen set in the SQLite journal.

Memory stays bounded however many URLs the crawl discovers. What is held:

* per origin, a short buffer of the next requests (at most :data:`BUFFER`, and no
  new buffering once :data:`BUFFERED` requests are buffered across origins);
  the rest of the queue is read back from the journal, in order, when the buffer
  runs dry;
* the :data:`RECENT` URLs most recently seen, so that the links every page
  repeats (navigation, footers) are recognised without a query;
* the requests accepted since the last batch was written (at most a batch).

Everything else (whether an older URL was seen, what is queued beyond the
buffers) is a query on the journal's indexes. Like :class:`Frontier`, only the
engine's thread touches it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from ..models import Request
from ..settings import CrawlSettings
from ..urls import origin_of
from .journal import CrawlState
from .memory import Frontier

BUFFER = 64
"""Requests per origin held in memory."""
BUFFERED = 20_000
"""Requests held in memory across all origins before new ones go to disk only."""
RECENT = 65_536
"""URLs remembered as seen without asking the journal."""


class _JournalSeen:
    """The seen set of a durable crawl: the journal, behind a small memory of recent URLs."""

    def __init__(self, state: CrawlState) -> None:
        self._state = state
        self.recent: OrderedDict[str, None] = OrderedDict()  # the oldest is dropped first

    def add(self, url: str) -> None:
        recent = self.recent
        if len(recent) >= RECENT:
            recent.popitem(last=False)  # O(1), unlike deleting a plain dict's first key
        recent[url] = None

    def __contains__(self, url: object) -> bool:
        if url in self.recent:
            return True
        if isinstance(url, str) and self._state.is_known(url):
            self.add(url)
            return True
        return False


class DiskFrontier(Frontier):
    """A :class:`Frontier` whose queue and seen set live in a :class:`CrawlState`."""

    def __init__(self, settings: CrawlSettings, state: CrawlState) -> None:
        super().__init__(settings)
        self._state = state
        self._seen = _JournalSeen(state)
        self._spilled: set[str] = set()  # origins with queued requests beyond their buffer
        # origin -> the last URL put in its buffer in queue order; kept while the crawl
        # runs (a refill starts after it, so requests in flight are never read back)
        self._tail: dict[str, str] = {}
        self._buffered = 0

    def resume(self, allowed_hosts: list[str]) -> None:
        """Take up the queue an earlier run of this crawl left in the journal."""
        self.allowed_hosts.update(allowed_hosts)
        for origin, count in self._state.pending_origins():
            self._queues[origin] = deque()
            self._ring.append(origin)
            self._new_origins.append(origin)
            self._spilled.add(origin)
            self._size += count

    def _accept(self, request: Request) -> None:
        self._seen.add(request.url)
        self._state.accept(request)
        if self.on_accept is not None:
            self.on_accept(request)
        origin = origin_of(request.url)
        queue = self._queues.get(origin)
        if origin not in self._spilled and self._buffered < BUFFERED and (
                queue is None or len(queue) < BUFFER):
            self._push(request)
            self._tail[origin] = request.url
            return
        # on disk only (in the journal's next write); read back when the buffer empties
        self._spilled.add(origin)
        if queue is None:
            self._queues[origin] = deque()
            self._ring.append(origin)
            self._new_origins.append(origin)
        self._size += 1

    def _push(self, request: Request, front: bool = False) -> None:
        super()._push(request, front)
        self._buffered += 1

    def _refill(self, origin: str, queue: deque[Request]) -> None:
        if origin not in self._spilled:
            return
        rows = self._state.pending_after(origin, self._tail.get(origin), BUFFER)
        queue.extend(rows)
        self._buffered += len(rows)
        if rows:
            self._tail[origin] = rows[-1].url
        if len(rows) < BUFFER:  # everything accepted is written, so this is all of it
            self._spilled.discard(origin)

    def pop(self, now: float, ready: Callable[[str, float], bool]) -> Request | None:
        request = super().pop(now, ready)
        if request is not None:
            self._buffered -= 1
        return request
