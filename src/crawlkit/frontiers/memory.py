"""The crawl frontier: what to fetch next, what was seen, and what the rules refuse.

Pure bookkeeping with no I/O and no locks: only the engine's thread touches it.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Protocol

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, host_of, origin_of

MAX_SEGMENT_REPEATS = 3


class SeenSet(Protocol):
    """What the frontier needs of its seen set: a ``set``, or one kept on disk."""

    def __contains__(self, url: object) -> bool: ...

    def add(self, url: str) -> None: ...


MAX_PATH_SEGMENTS = 40


class Frontier:
    """Queued requests, one FIFO per origin (so each origin is crawled breadth-first),
    served round-robin across origins, plus a timed queue of retries.

    Every URL enters the seen set when it is accepted, so it is fetched at most
    once per crawl, whichever strategy runs and in whatever order pages finish.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.settings = settings
        self._queues: dict[str, deque[Request]] = {}
        self._ring: deque[str] = deque()
        self._delayed: list[tuple[float, int, Request]] = []
        self._tiebreak = itertools.count()
        self._new_origins: list[str] = []
        self._seen: SeenSet = set()  # every URL accepted
        self._size = 0
        self.allowed_hosts: set[str] = set()
        self.pages_started = 0
        self.refused: Counter[str] = Counter()
        self.on_accept: Callable[[Request], None] | None = None

    def _accept(self, request: Request) -> None:
        self._seen.add(request.url)
        self._push(request)
        if self.on_accept is not None:
            self.on_accept(request)

    def _refill(self, origin: str, queue: deque[Request]) -> None:
        """Top up an origin's empty queue from elsewhere (a frontier on disk does)."""

    def __len__(self) -> int:
        return self._size + len(self._delayed)

    def _push(self, request: Request, front: bool = False) -> None:
        origin = origin_of(request.url)
        queue = self._queues.get(origin)
        if queue is None:
            queue = self._queues[origin] = deque()
            self._ring.append(origin)
            self._new_origins.append(origin)
        if front:
            queue.appendleft(request)
        else:
            queue.append(request)
        self._size += 1

    def take_new_origins(self) -> list[str]:
        """Origins that got their first queued request since the last call."""
        new, self._new_origins = self._new_origins, []
        return new

    def add_seed(self, url: str) -> bool:
        """Accept a seed URL (depth 0). Returns False if it was already seen.

        Raises:
            InvalidURL: ``url`` is not an absolute http(s) URL.
        """
        canonical = canonicalize(url)
        self.allowed_hosts.add(host_of(canonical))
        if canonical in self._seen:
            self.refused["duplicate"] += 1
            return False
        self._accept(Request(canonical, 0, queued_at=time.perf_counter()))
        return True

    def add_link(self, url: str, depth: int) -> bool:
        """Offer a canonical URL found at ``depth``; returns True when it was queued."""
        reason = self._refusal(url, depth)
        if reason is not None:
            self.refused[reason] += 1
            return False
        self._accept(Request(url, depth, queued_at=time.perf_counter()))
        return True

    def add_redirect(self, request: Request, target: str) -> bool:
        """Queue the target of a redirect as a page of its own, at the same depth.

        The usual rules apply (a target already seen is not fetched again), except
        that a seed's redirect brings its target's host into the allowed hosts, so
        ``http://site`` -> ``https://www.site/`` still crawls the site.
        """
        if request.depth == 0 and self.settings.same_host:
            self.allowed_hosts.add(host_of(target))
        reason = self._refusal(target, request.depth)
        if reason is not None:
            self.refused[reason] += 1
            return False
        hops = (*request.hops, request.url)
        self._accept(Request(target, request.depth, hops, time.perf_counter()))
        return True

    flush_each_page = False

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """The page's records are written. Nothing to do for a frontier in memory."""

    def retry_later(self, request: Request, not_before: float) -> None:
        """Queue another attempt at ``request`` once ``not_before`` has passed."""
        heapq.heappush(self._delayed, (not_before, next(self._tiebreak), request))

    def _refusal(self, url: str, depth: int) -> str | None:
        settings = self.settings
        if url in self._seen:
            return "duplicate"
        if settings.max_depth is not None and depth > settings.max_depth:
            return "too deep"
        if settings.same_host and host_of(url) not in self.allowed_hosts:
            return "offsite"
        if settings.allow_re and not any(p.search(url) for p in settings.allow_re):
            return "not allowed"
        if any(p.search(url) for p in settings.deny_re):
            return "denied"
        if _looks_like_a_trap(url):
            return "trap"
        return None

    def pop(self, now: float, ready: Callable[[str, float], bool]) -> Request | None:
        """The next request whose origin is ``ready``, or None.

        Retries whose time has come go first on their origin. New pages stop
        coming out once ``max_pages`` were started; retries still do.
        """
        while self._delayed and self._delayed[0][0] <= now:
            self._push(heapq.heappop(self._delayed)[2], front=True)
        limit = self.settings.max_pages
        full = limit is not None and self.pages_started >= limit
        ring = self._ring
        for _ in range(len(ring)):
            if not ring:
                break
            origin = ring[0]
            ring.rotate(-1)
            queue = self._queues[origin]
            if not queue:
                self._refill(origin, queue)
                if not queue:
                    del self._queues[origin]
                    ring.remove(origin)
                    continue
            if (full and queue[0].attempt == 0) or not ready(origin, now):
                continue
            request = queue.popleft()
            self._size -= 1
            if not queue:
                self._refill(origin, queue)
                if not queue:
                    del self._queues[origin]
                    ring.remove(origin)
            if request.attempt == 0:
                self.pages_started += 1
            return request
        return None

    def origins(self) -> list[str]:
        """Origins with queued requests."""
        return list(self._ring)

    def next_retry(self) -> float | None:
        """When the earliest waiting retry is due, if any."""
        return self._delayed[0][0] if self._delayed else None

    def left_behind(self) -> int:
        """Requests still queued (non-zero only when a limit stopped the crawl)."""
        return len(self)


def _looks_like_a_trap(url: str) -> bool:
    """A path with one segment repeated more than three times (``/a/b/a/b/a/b/a/``),
    or deeper than 40 segments: the shape of calendar and relative-link traps."""
    path = url[url.index("/", url.index("//") + 2):].split("?", 1)[0]
    segments = [seg for seg in path.split("/") if seg]
    if len(segments) > MAX_PATH_SEGMENTS:
        return True
    if len(segments) <= MAX_SEGMENT_REPEATS:
        return False
    return max(Counter(segments).values()) > MAX_SEGMENT_REPEATS
