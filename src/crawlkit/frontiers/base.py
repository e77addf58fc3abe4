"""The :class:`Frontier` protocol, the :class:`LinkRules` every backend applies, and
the :class:`OriginQueues` that the backends share for what they hold in memory.

An offer returns ``None`` when the URL was queued, else the reason it was refused
("duplicate", "too deep", "offsite", "not allowed", "denied", "trap"); the engine
counts the reasons. Backends keep no counter that the engine reads or writes.

Nothing here does I/O (a refill hook given to :class:`OriginQueues` may).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Callable, Container, Sequence
from typing import Protocol

from ..models import Request
from ..settings import CrawlSettings
from ..urls import host_of, origin_of

MAX_SEGMENT_REPEATS = 3
MAX_PATH_SEGMENTS = 40

Ready = Callable[[str, float], bool]
"""``ready(origin, now)``: whether a request to ``origin`` may start at ``now``."""


class Frontier(Protocol):
    """What the engine needs of a frontier: where URLs are offered and requests taken.

    Only the engine's thread calls a frontier. Every URL is accepted at most once
    per crawl, whichever strategy runs and in whatever order pages finish. The
    backends name this protocol as their base, for its documentation and so that
    a type checker holds each of them to it where it is defined.
    """

    @property
    def flush_each_page(self) -> bool:
        """Whether a page's records must be flushed before :meth:`complete` is called."""
        ...

    def __len__(self) -> int:
        """Requests this process holds: queued here plus retries waiting for their time."""
        ...

    def offer_seed(self, url: str) -> str | None:
        """Queue a seed (depth 0), whose host joins the allowed hosts.

        Returns ``None`` when queued, ``"duplicate"`` when already seen. Seeds are
        not subject to the other link rules.

        Raises:
            InvalidURL: ``url`` is not an absolute http(s) URL.
        """
        ...

    def offer_links(self, urls: Sequence[str], depth: int) -> list[str | None]:
        """Offer a page's canonical links, found at ``depth``, in order.

        Returns, for each URL, ``None`` when queued or the reason it was refused.
        """
        ...

    def offer_redirect(self, request: Request, target: str) -> str | None:
        """Offer the target of ``request``'s redirect as a page of its own, at the same depth.

        The usual rules apply, except that a seed's redirect first brings its
        target's host into the allowed hosts (``http://site`` -> ``https://www.site/``).
        Returns ``None`` when queued, else the reason it was refused.
        """
        ...

    def pop(self, now: float, ready: Ready, started: int) -> Request | None:
        """The next request whose origin is ``ready``, or ``None``.

        ``started`` is how many pages (first attempts) this crawl started; no new
        page comes out once it reaches ``max_pages``, retries still do.
        """
        ...

    def retry_later(self, request: Request, not_before: float) -> None:
        """Queue another attempt at ``request`` once ``not_before`` has passed."""
        ...

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """``request``'s page is committed: its records written and its links offered."""
        ...

    def take_new_origins(self) -> list[str]:
        """Origins that got requests since the last call (each needs its robots.txt)."""
        ...

    def origins(self) -> list[str]:
        """Origins with requests held here, to learn when the next may start."""
        ...

    def next_retry(self) -> float | None:
        """When the engine should look again though nothing is ready (a retry is due)."""
        ...

    def left_behind(self) -> int:
        """Requests still queued (non-zero only when a limit or a stop ended the crawl)."""
        ...


class LinkRules:
    """Which URLs a crawl follows: one set of rules for every backend.

    Holds the allowed hosts (the seeds', and those seeds redirect to) when
    ``same_host`` is set, and applies depth, host, allow/deny, trap shape and
    ``max_pages``. The seen set is the backend's; :meth:`refusal` asks it first.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.settings = settings
        self.allowed_hosts: set[str] = set()

    @property
    def max_pages(self) -> int | None:
        """Pages (first attempts) a crawl starts at most."""
        return self.settings.max_pages

    def seed(self, canonical: str) -> str:
        """Allow the host of a seed; returns that host."""
        host = host_of(canonical)
        self.allowed_hosts.add(host)
        return host

    def redirected(self, request: Request, target: str) -> str | None:
        """Allow the host a seed redirects to; returns it (``None`` if nothing changed)."""
        if request.depth != 0 or not self.settings.same_host:
            return None
        host = host_of(target)
        self.allowed_hosts.add(host)
        return host

    def refusal(self, url: str, depth: int, seen: Container[str]) -> str | None:
        """Why ``url``, found at ``depth``, is not followed, or ``None`` if it is."""
        settings = self.settings
        if url in seen:
            return "duplicate"
        if settings.max_depth is not None and depth > settings.max_depth:
            return "too deep"
        if settings.same_host and host_of(url) not in self.allowed_hosts:
            return "offsite"
        if settings.allow_re and not any(p.search(url) for p in settings.allow_re):
            return "not allowed"
        if any(p.search(url) for p in settings.deny_re):
            return "denied"
        if looks_like_a_trap(url):
            return "trap"
        return None

    def may_start(self, started: int) -> bool:
        """Whether a new page may start when ``started`` pages were."""
        limit = self.settings.max_pages
        return limit is None or started < limit


def looks_like_a_trap(url: str) -> bool:
    """A path with one segment repeated more than three times (``/a/b/a/b/a/b/a/``),
    or deeper than 40 segments: the shape of calendar and relative-link traps."""
    path = url[url.index("/", url.index("//") + 2):].split("?", 1)[0]
    segments = [seg for seg in path.split("/") if seg]
    if len(segments) > MAX_PATH_SEGMENTS:
        return True
    if len(segments) <= MAX_SEGMENT_REPEATS:
        return False
    return max(Counter(segments).values()) > MAX_SEGMENT_REPEATS


class OriginQueues:
    """Requests held in one process: a FIFO per origin, served round-robin across
    origins, and a timed heap of retries that go to the front of their origin when due.

    A backend that keeps part of a queue elsewhere counts it with :meth:`backlog`
    and gives a ``refill`` hook, called with an origin whose FIFO ran dry, which
    returns that origin's next requests in order (``[]`` when there are none).
    Only the engine's thread touches it.
    """

    def __init__(self, refill: Callable[[str], Sequence[Request]] | None = None) -> None:
        self._refill = refill
        self._fifos: dict[str, deque[Request]] = {}  # origin -> its next requests, in order
        self._ring: deque[str] = deque()  # origins with requests; the next one served is first
        self._retries: list[tuple[float, int, Request]] = []  # heap by due time, then arrival
        self._tiebreak = itertools.count()
        self._announced: list[str] = []  # origins to hand to the next take_new_origins()
        self._queued = 0  # requests in the FIFOs and in the backlogs
        self._held = 0  # requests in the FIFOs

    def __len__(self) -> int:
        """Queued requests (in memory or in a backlog) plus waiting retries."""
        return self._queued + len(self._retries)

    @property
    def held(self) -> int:
        """Requests held in memory (waiting retries aside)."""
        return self._held

    def held_for(self, origin: str) -> int:
        """Requests of ``origin`` held in memory."""
        fifo = self._fifos.get(origin)
        return 0 if fifo is None else len(fifo)

    def _fifo(self, origin: str) -> deque[Request]:
        fifo = self._fifos.get(origin)
        if fifo is None:
            fifo = self._fifos[origin] = deque()
            self._ring.append(origin)
            self.announce(origin)
        return fifo

    def push(self, request: Request, front: bool = False) -> None:
        """Hold ``request`` at the back (or the front) of its origin's FIFO."""
        fifo = self._fifo(origin_of(request.url))
        if front:
            fifo.appendleft(request)
        else:
            fifo.append(request)
        self._queued += 1
        self._held += 1

    def backlog(self, origin: str, count: int = 1) -> None:
        """Count ``count`` requests of ``origin`` queued elsewhere, for the refill hook."""
        self._fifo(origin)
        self._queued += count

    def has(self, origin: str) -> bool:
        """Whether ``origin`` has queued requests."""
        return origin in self._fifos

    def announce(self, origin: str) -> None:
        """Hand ``origin`` to the next :meth:`take_new_origins` (once)."""
        if origin not in self._announced:
            self._announced.append(origin)

    def take_new_origins(self) -> list[str]:
        """Origins that got their first request since the last call."""
        new, self._announced = self._announced, []
        return new

    def origins(self) -> list[str]:
        """Origins with queued requests, the next one served first."""
        return list(self._ring)

    def retry_later(self, request: Request, not_before: float) -> None:
        """Hold ``request`` until ``not_before``; then it goes first on its origin."""
        heapq.heappush(self._retries, (not_before, next(self._tiebreak), request))

    def next_retry(self) -> float | None:
        """When the earliest waiting retry is due, if any."""
        return self._retries[0][0] if self._retries else None

    def _topped_up(self, origin: str, fifo: deque[Request]) -> bool:
        """Refill ``origin``'s empty FIFO; drop the origin if nothing comes back."""
        if not fifo and self._refill is not None:
            rows = self._refill(origin)
            fifo.extend(rows)
            self._held += len(rows)
        if fifo:
            return True
        del self._fifos[origin]
        self._ring.remove(origin)
        return False

    def pop(self, now: float, ready: Ready, fresh: bool = True) -> Request | None:
        """The next request whose origin is ``ready``, round-robin, or ``None``.

        Due retries go first on their origin. With ``fresh`` false, only retries
        (``attempt > 0``) come out.
        """
        while self._retries and self._retries[0][0] <= now:
            self.push(heapq.heappop(self._retries)[2], front=True)
        ring = self._ring
        for _ in range(len(ring)):
            if not ring:
                break
            origin = ring[0]
            ring.rotate(-1)
            fifo = self._fifos[origin]
            if not self._topped_up(origin, fifo):
                continue
            if (not fresh and fifo[0].attempt == 0) or not ready(origin, now):
                continue
            request = fifo.popleft()
            self._queued -= 1
            self._held -= 1
            if not fifo:
                self._topped_up(origin, fifo)
            return request
        return None
