"""Per-origin politeness: in-flight limits, delays, Retry-After slow-downs, robots.txt,
and (``--autothrottle``) limits that adapt to what each origin's answers say.

Pure bookkeeping on the engine's thread (no I/O, no locks): the engine fetches
robots.txt through the running strategy like any page and hands the result here,
and shows every committed outcome to :meth:`Politeness.observe`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from protego import Protego

from .errors import Reason
from .models import Outcome
from .settings import ROBOTS_AGENT, CrawlSettings

ROBOTS_MAX_HOPS = 5
"""Redirects followed when fetching robots.txt (RFC 9309 asks for at least five)."""

BLOCKED: str = Reason.ROBOTS.value

MAX_CRAWL_DELAY = 60.0
"""Longest robots.txt ``Crawl-delay`` honoured, in seconds. A larger one would stall its
origin for good (and ``Crawl-delay: 1e308`` would overflow the engine's sleep)."""

_UNKNOWN, _PENDING, _KNOWN = 0, 1, 2

OVERLOAD_STATUSES = frozenset({429, 503, 504})
"""Answers that say the origin is overloaded (too many requests, unavailable, gateway
timeout): the adaptive limit is cut."""
OVERLOAD_ERRORS = frozenset(reason.value for reason in (
    Reason.TIMEOUT, Reason.REFUSED, Reason.RESET, Reason.DISCONNECTED, Reason.CONNECTION,
    Reason.TRUNCATED))
"""Fetch errors that an overloaded server causes: the adaptive limit is cut (DNS, TLS
and the final reasons say nothing about load)."""

DECREASE = 0.5
"""The multiplicative cut on an overload answer or error."""
LATENCY_DECREASE = 0.75
"""The gentler cut when time to first byte rose well above the origin's baseline."""
LATENCY_FACTOR = 2.0
LATENCY_SLACK = 0.25
"""Time to first byte counts as "well above the baseline" beyond
``LATENCY_FACTOR * baseline + LATENCY_SLACK`` seconds. The slack absorbs what the
crawler itself adds to the measure (a busy event loop, the GIL, a loaded machine), which
on a fast origin would otherwise read as the origin slowing down."""
LATENCY_STREAK = 3
"""Answers in a row well above the baseline that make an objection (one is an outlier)."""
RELIEF = 0.9
"""After a cut for latency, a time to first byte still above this share of the worst
one from before the cut means the cut brought no relief: the origin is slower for
good, not because of this crawl, and its baseline moves up instead of the limit down
again."""
PROBE = 0.0625
"""Additive increase per round trip near the limit where the origin last objected
(elsewhere it is 1 per round trip, and doubling per round trip before any objection)."""
DELAY_STEP = 0.1
"""The first adaptive delay, in seconds, once the limit is down to 1; it doubles on each
further objection and shrinks on healthy answers."""
MAX_ADAPTIVE_DELAY = 10.0
"""The longest delay the adaptation adds between request starts on one origin."""


@dataclass
class Throttle:
    """The adaptive concurrency and delay of one origin (``--autothrottle``): AIMD.

    Starts at 1 request in flight and doubles per round trip (one more per healthy
    answer) until the origin first objects; from then on it adds one per round trip,
    and only a sixteenth of one per round trip near the level where the origin last
    objected, so probing beyond it costs one refused request now and then. An
    objection (429, 503, 504, a timeout or connection error, or three times to
    first byte in a row well above the origin's baseline, unless the last cut for
    that brought no relief: then the baseline moves up) cuts the limit to a
    fraction of the most requests in flight in that round trip, once per round trip
    (answers to requests already in flight at the cut do not cut again). At 1 in
    flight an objection starts or doubles a delay between request starts instead,
    and healthy answers shrink it away before the limit grows again. The limit
    grows only while the origin uses all of it, and stays within 1 and ``cap``
    (``--per-host``); the engine never waits less than ``--delay`` (or robots.txt's
    ``Crawl-delay``).

    Attributes:
        cap: the most requests in flight (``--per-host``).
        limit: the current limit (fractional; ``allowed`` is its whole part).
        delay: the adaptive delay between request starts, seconds (0 above 1 in flight).
        threshold: the limit where doubling stops (after the first objection).
        ceiling: what was in flight when the origin last objected.
        baseline: the lowest time to first byte, seconds (raised when a cut for latency
            brought no relief).
        slow_streak: answers in a row well above the baseline.
        cut_ttfb: the worst time to first byte of the requests started before the last
            cut for latency, while answers stay well above the baseline.
        hold: answers still expected from requests in flight at the last cut.
        peak: the most requests in flight since the last round trip began (an answer
            comes back when others already have: the count then says too little).
        answers: answers seen since the last round trip began.
    """

    cap: int
    limit: float = 1.0
    delay: float = 0.0
    threshold: float = math.inf
    ceiling: float | None = None
    baseline: float | None = None
    slow_streak: int = 0
    cut_ttfb: float | None = None
    hold: int = 0
    peak: int = 0
    answers: int = 0

    @property
    def allowed(self) -> int:
        """Requests that may be in flight now."""
        return max(1, min(self.cap, int(self.limit)))

    def started(self, in_flight: int) -> None:
        """A request started; ``in_flight`` counts it."""
        self.peak = max(self.peak, in_flight)

    def observe(self, in_flight: int, status: int | None, ttfb: float,
                error: str | None) -> None:
        """Learn from one answer (or failure).

        Args:
            in_flight: requests still in flight to the origin, this one no longer counted.
            status: the HTTP status, ``None`` when no response came.
            ttfb: seconds from the start of the fetch to the response headers.
            error: the failure reason, if any.
        """
        busy = max(self.peak, in_flight + 1)  # what was in flight in this round trip
        self.answers += 1
        if self.answers >= self.allowed:  # a round trip's worth of answers: a new one
            self.peak, self.answers = in_flight, 0
        if error in OVERLOAD_ERRORS or status in OVERLOAD_STATUSES:
            self._objection(in_flight, busy, DECREASE)
        elif status is None or status >= 500:
            self.hold = max(0, self.hold - 1)  # says nothing about load
        elif self._slow(ttfb):
            if self.hold > 0:  # started before the cut: the worst of them is the mark
                self.hold -= 1
                if self.cut_ttfb is not None:
                    self.cut_ttfb = max(self.cut_ttfb, ttfb)
            elif self.cut_ttfb is not None and ttfb >= RELIEF * self.cut_ttfb:
                # no relief from the last cut: a new normal, not a crawl too heavy
                self.baseline = max(self.baseline or 0.0, ttfb / LATENCY_FACTOR)
                self.slow_streak, self.cut_ttfb = 0, None
            elif self._objection(in_flight, busy, LATENCY_DECREASE):
                self.slow_streak, self.cut_ttfb = 0, ttfb
        else:
            self.hold = max(0, self.hold - 1)
            self._healthy(busy)

    def _slow(self, ttfb: float) -> bool:
        baseline = self.baseline
        if baseline is None:
            self.baseline = ttfb
            return False
        self.baseline = min(baseline, ttfb)
        if ttfb > LATENCY_FACTOR * baseline + LATENCY_SLACK:
            self.slow_streak += 1
        else:
            self.slow_streak, self.cut_ttfb = 0, None
        return self.slow_streak >= LATENCY_STREAK

    def _objection(self, in_flight: int, busy: int, factor: float) -> bool:
        """Cut the limit (or, at 1, raise the delay) unless this round trip was cut."""
        if self.hold > 0:  # the same round trip as the last cut
            self.hold -= 1
            return False
        self.hold = in_flight
        self.peak, self.answers = in_flight, 0
        used = min(self.limit, float(busy))
        if used < 2.0:
            self.limit = 1.0
            self.delay = min(MAX_ADAPTIVE_DELAY, max(DELAY_STEP, 2 * self.delay))
        else:
            self.limit = max(1.0, used * factor)
        self.ceiling = used
        self.threshold = self.limit
        return True

    def _healthy(self, busy: int) -> None:
        if self.delay > 0:
            self.delay = 0.0 if self.delay < DELAY_STEP / 2 else self.delay * 0.75
            return
        if busy < self.allowed:
            return  # the limit was not what held this origin back: it proved nothing
        if self.limit < self.threshold:
            self.limit += 1.0
        else:
            near = self.ceiling is not None and self.ceiling - 1 <= self.limit < self.ceiling + 1
            self.limit += (PROBE if near else 1.0) / self.limit
        self.limit = min(float(self.cap), self.limit)


@dataclass
class _Origin:
    in_flight: int = 0
    next_start: float = 0.0
    delay: float = 0.0
    robots_state: int = _UNKNOWN
    robots: Protego | None = None
    disallow_all: str | None = None
    robots_hops: int = 0
    throttle: Throttle | None = None

    def limit(self, per_host: int) -> int:
        return per_host if self.throttle is None else self.throttle.allowed


@dataclass
class Politeness:
    """What may start now on each origin, and what robots.txt allows there."""

    settings: CrawlSettings
    rng: random.Random = field(default_factory=random.Random)
    _origins: dict[str, _Origin] = field(default_factory=dict)

    def _get(self, origin: str) -> _Origin:
        state = self._origins.get(origin)
        if state is None:
            settings = self.settings
            state = self._origins[origin] = _Origin(delay=settings.delay)
            if not settings.obey_robots:
                state.robots_state = _KNOWN
            if settings.autothrottle:
                state.throttle = Throttle(cap=settings.per_host)
        return state

    def ready(self, origin: str, now: float) -> bool:
        """True when a request to ``origin`` may start at ``now``."""
        state = self._get(origin)
        return (
            state.robots_state == _KNOWN
            and state.in_flight < state.limit(self.settings.per_host)
            and now >= state.next_start
        )

    def next_start(self, origin: str) -> float | None:
        """When ``origin`` may next start a request (``None``: waiting on something else)."""
        state = self._get(origin)
        if state.robots_state != _KNOWN or state.in_flight >= state.limit(self.settings.per_host):
            return None
        return state.next_start

    def started(self, origin: str, now: float) -> None:
        """Count a request to ``origin`` that starts at ``now``."""
        state = self._get(origin)
        state.in_flight += 1
        delay = state.delay
        if state.throttle is not None:
            state.throttle.started(state.in_flight)
            delay = max(delay, state.throttle.delay)
        if delay and self.settings.jitter:
            delay *= self.rng.uniform(0.5, 1.5)
        state.next_start = max(state.next_start, now + delay)

    def finished(self, origin: str) -> None:
        """A request to ``origin`` ended (whatever its outcome)."""
        self._get(origin).in_flight -= 1

    def observe(self, origin: str, outcome: Outcome) -> None:
        """Learn from a page's outcome (after :meth:`finished`): with ``autothrottle``,
        the origin's limit and delay adapt to its status, time to first byte and error."""
        state = self._get(origin)
        if state.throttle is not None:
            state.throttle.observe(state.in_flight, outcome.status, outcome.timing.ttfb,
                                   outcome.error)

    def busy_limits(self) -> tuple[tuple[str, int, int], ...]:
        """``(origin, in flight, current limit)`` of each origin with requests in flight,
        busiest first; empty without ``autothrottle``."""
        if not self.settings.autothrottle:
            return ()
        busy = [(origin, state.in_flight, state.limit(self.settings.per_host))
                for origin, state in self._origins.items() if state.in_flight > 0]
        busy.sort(key=lambda entry: (-entry[1], entry[0]))
        return tuple(busy)

    def slow_down(self, origin: str, seconds: float, now: float) -> None:
        """Start nothing on ``origin`` for ``seconds`` (a Retry-After from it)."""
        state = self._get(origin)
        state.next_start = max(state.next_start, now + seconds)

    # robots.txt

    def needs_robots(self, origin: str) -> bool:
        """True, once, for an origin whose robots.txt must now be fetched."""
        state = self._get(origin)
        if state.robots_state != _UNKNOWN:
            return False
        state.robots_state = _PENDING
        return True

    def robots_redirect(self, origin: str) -> bool:
        """Count a robots.txt redirect; False when the hop limit is used up."""
        state = self._get(origin)
        state.robots_hops += 1
        return state.robots_hops <= ROBOTS_MAX_HOPS

    def set_robots(
        self, origin: str, status: int | None, text: str | None, error: str | None = None
    ) -> None:
        """Record the robots.txt outcome of ``origin`` (RFC 9309 section 2.3.1).

        2xx: parse it; 4xx: everything allowed; 5xx, no response or too many
        redirects: everything disallowed. A ``Crawl-delay`` longer than
        :data:`MAX_CRAWL_DELAY` is held to it.
        """
        state = self._get(origin)
        state.robots_state = _KNOWN
        if status is not None and 200 <= status < 300:
            state.robots = Protego.parse(text or "")
            crawl_delay = state.robots.crawl_delay(ROBOTS_AGENT)
            if crawl_delay and math.isfinite(crawl_delay) and crawl_delay > 0:
                state.delay = max(state.delay, min(float(crawl_delay), MAX_CRAWL_DELAY))
        elif status is not None and 400 <= status < 500:
            state.robots = None
        elif status is not None:
            state.disallow_all = f"{BLOCKED} (it answered {status})"
        elif error == Reason.BLOCKED_PRIVATE:
            # the origin itself is refused: its pages fail for that, not for robots.txt
            state.disallow_all = Reason.BLOCKED_PRIVATE.value
        else:
            state.disallow_all = f"{BLOCKED} (unreachable: {error or 'no response'})"

    def refusal(self, origin: str, url: str) -> str | None:
        """Why robots.txt forbids ``url``, or ``None`` when it may be fetched."""
        state = self._get(origin)
        if state.disallow_all:
            return state.disallow_all
        if state.robots is not None and not state.robots.can_fetch(url, ROBOTS_AGENT):
            return BLOCKED
        return None
