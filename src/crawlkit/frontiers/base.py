"""The :class:`Frontier` protocol, the :class:`LinkRules` every backend applies, and
the :class:`OriginQueues` that the backends share for what they hold in memory.

An offer returns ``None`` when the request was queued, else the reason it was
refused ("duplicate", "too deep", "offsite", "not allowed", "denied", "trap"); the
engine counts the reasons. Backends keep no counter that the engine reads or writes.

What is offered is a URL (a plain followed link, as sent) or a :class:`Request`.
A request is "the same" as one seen before when their
:attr:`~crawlkit.models.Request.fingerprint` matches (canonical URL, method, body);
``dont_filter`` requests skip that check and do not enter the seen set. Within an
origin, higher ``priority`` comes out first, requests of equal priority in the
order they were queued.

Nothing here does I/O (a refill hook given to :class:`OriginQueues` may).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import replace
from typing import Protocol
from urllib.parse import urlsplit

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, host_of, origin_of

MAX_SEGMENT_REPEATS = 3
MAX_PATH_SEGMENTS = 40

Ready = Callable[[str, float], bool]
"""``ready(origin, now)``: whether a request to ``origin`` may start at ``now``."""

Link = str | Request
"""What a page (or a seed list) offers: a URL as sent, or a full :class:`Request`."""

_TO_GET = frozenset({301, 302, 303})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


def redirect_hop(request: Request, target: str, status: int | None) -> Request:
    """The request that follows ``request``'s redirect to ``target`` (as sent).

    301, 302 and 303 become a GET without body (and without the headers that
    described it), as browsers do; 307 and 308 keep method and body. Callback,
    errback, meta, priority and ``dont_filter`` go with it; the depth stays, the
    hop joins ``hops`` and the attempts start again.

    Credentials stay with the server they were meant for: when the hop leaves the
    request's origin (another host, another port, or https to http; only the
    upgrade from http to https of the same host on the default ports is not a
    change), the ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` headers
    set on the request are dropped. Cookies from the crawl's jar are never carried
    over: the jar chooses them again for the hop's URL.
    """
    method, headers, body = request.method, request.headers, request.body
    if status in _TO_GET and method != "HEAD" and (method != "GET" or body):
        method, body = "GET", b""
        headers = tuple(pair for pair in headers if pair[0].lower() not in _BODY_HEADERS)
    if headers and _leaves_origin(request.url, target):
        headers = tuple(pair for pair in headers if pair[0].lower() not in _CREDENTIALS)
    return replace(request, url=target, method=method, headers=headers, body=body,
                   hops=(*request.hops, request.url), attempt=0,
                   queued_at=time.perf_counter(), jar_cookie="")


_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _leaves_origin(url: str, target: str) -> bool:
    """Whether a redirect from ``url`` to ``target`` reaches another server than the
    one credentials were given for (the rule requests applies to Authorization)."""
    try:
        old, new = urlsplit(url), urlsplit(target)
        old_port, new_port = old.port, new.port
    except ValueError:
        return True
    if (old.hostname or "").lower() != (new.hostname or "").lower():
        return True
    if old.scheme == "http" and new.scheme == "https" \
            and old_port in (None, 80) and new_port in (None, 443):
        return False  # the upgrade to TLS of the same host
    return old.scheme != new.scheme or (old_port or _DEFAULT_PORTS.get(old.scheme)) \
        != (new_port or _DEFAULT_PORTS.get(new.scheme))


def as_request(link: Link, depth: int, now: float) -> Request:
    """``link`` as a request found at ``depth`` (a URL becomes a plain GET)."""
    if isinstance(link, str):
        return Request(link, depth=depth, queued_at=now)
    return replace(link, depth=depth, queued_at=now)


def key_of(request: Request) -> str | None:
    """The seen-set key of ``request``: its fingerprint, ``None`` with ``dont_filter``."""
    return None if request.dont_filter else request.fingerprint


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

    def offer_seed(self, seed: Link) -> str | None:
        """Queue a seed (depth 0), whose host joins the allowed hosts.

        Returns ``None`` when queued, ``"duplicate"`` when already seen. Seeds are
        not subject to the other link rules.

        Raises:
            InvalidURL: ``seed`` is not an absolute http(s) URL.
        """
        ...

    def offer_links(self, links: Sequence[Link], depth: int) -> list[str | None]:
        """Offer a page's links (URLs as sent, or requests), found at ``depth``, in order.

        Returns, for each, ``None`` when queued or the reason it was refused.
        """
        ...

    def offer_redirect(self, request: Request, hop: Request) -> str | None:
        """Offer ``hop`` (see :func:`redirect_hop`), where ``request`` redirected.

        A redirect is not a link: depth, allow and deny do not apply to it; the
        seen set, the allowed hosts and (in the engine) robots.txt and the hop
        limit do. A seed's redirect first brings its target's host into the
        allowed hosts (``http://site`` -> ``https://www.site/``).
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
        host = host_of(canonicalize(target))
        self.allowed_hosts.add(host)
        return host

    def refusal(self, url: str, key: str | None, depth: int, seen: Container[str],
                canonical: str | None = None) -> str | None:
        """Why ``url`` (as sent; ``key`` its seen-set key, ``None`` to skip the
        check; ``canonical`` its canonical form, when known), found at ``depth``, is
        not followed, or ``None`` if it is. Allow, deny and the trap shape look at
        the URL as sent; the host check at its canonical form."""
        settings = self.settings
        if key is not None and key in seen:
            return "duplicate"
        if settings.max_depth is not None and depth > settings.max_depth:
            return "too deep"
        if settings.same_host and host_of(canonical or canonicalize(url)) \
                not in self.allowed_hosts:
            return "offsite"
        if settings.allow_re and not any(p.search(url) for p in settings.allow_re):
            return "not allowed"
        if any(p.search(url) for p in settings.deny_re):
            return "denied"
        if looks_like_a_trap(url):
            return "trap"
        return None

    def hop_refusal(self, url: str, key: str | None, seen: Container[str]) -> str | None:
        """Why a redirect to ``url`` is not followed (seen, or off the allowed hosts)."""
        if key is not None and key in seen:
            return "duplicate"
        if self.settings.same_host and host_of(canonicalize(url)) not in self.allowed_hosts:
            return "offsite"
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


class OriginQueue:
    """One origin's queued requests: those put back in front first (last in, first
    out), then by priority, higher first, and in arrival order within a priority.

    Most crawls use one priority, so each priority keeps a FIFO of its own and a
    request costs O(1) in and out; only a priority not seen yet costs a bisection.
    """

    __slots__ = ("_front", "_levels", "_order", "_size")

    def __init__(self) -> None:
        self._front: deque[Request] = deque()  # put back (retries, leases not started)
        self._levels: dict[int, deque[Request]] = {}  # priority -> its requests, in order
        self._order: list[int] = []  # the priorities in _levels, negated, ascending
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def append(self, request: Request) -> None:
        """Queue ``request`` behind those of its priority."""
        level = self._levels.get(request.priority)
        if level is None:
            level = self._levels[request.priority] = deque()
            bisect.insort(self._order, -request.priority)
        level.append(request)
        self._size += 1

    def extend(self, requests: Iterable[Request]) -> None:
        """Queue each of ``requests`` in turn."""
        for request in requests:
            self.append(request)

    def appendleft(self, request: Request) -> None:
        """Put ``request`` in front of everything queued."""
        self._front.appendleft(request)
        self._size += 1

    def first(self) -> Request:
        """The request :meth:`popleft` would return."""
        if self._front:
            return self._front[0]
        return self._levels[-self._order[0]][0]

    def popleft(self) -> Request:
        """Take out the first request."""
        self._size -= 1
        if self._front:
            return self._front.popleft()
        priority = -self._order[0]
        level = self._levels[priority]
        request = level.popleft()
        if not level:
            del self._levels[priority]
            del self._order[0]
        return request


class OriginQueues:
    """Requests held in one process: an :class:`OriginQueue` per origin, served
    round-robin across origins, and a timed heap of retries that go to the front of
    their origin when due.

    A backend that keeps part of a queue elsewhere counts it with :meth:`backlog`
    and gives a ``refill`` hook, called with an origin whose FIFO ran dry, which
    returns that origin's next requests in order (``[]`` when there are none); it is
    called only once the origin's queue in memory is empty.
    Only the engine's thread touches it.
    """

    def __init__(self, refill: Callable[[str], Sequence[Request]] | None = None) -> None:
        self._refill = refill
        self._fifos: dict[str, OriginQueue] = {}  # origin -> its next requests, in order
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

    def _fifo(self, origin: str) -> OriginQueue:
        fifo = self._fifos.get(origin)
        if fifo is None:
            fifo = self._fifos[origin] = OriginQueue()
            self._ring.append(origin)
            self.announce(origin)
        return fifo

    def push(self, request: Request, front: bool = False) -> None:
        """Hold ``request`` in its origin's queue (or in front of everything there)."""
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

    def _topped_up(self, origin: str, fifo: OriginQueue) -> bool:
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
            if (not fresh and fifo.first().attempt == 0) or not ready(origin, now):
                continue
            request = fifo.popleft()
            self._queued -= 1
            self._held -= 1
            if not fifo:
                self._topped_up(origin, fifo)
            return request
        return None
