"""Per-origin politeness: in-flight limits, delays, Retry-After slow-downs, robots.txt.

Pure bookkeeping on the engine's thread (no I/O, no locks): the engine fetches
robots.txt through the running strategy like any page and hands the result here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from protego import Protego

from .errors import Reason
from .settings import ROBOTS_AGENT, CrawlSettings

ROBOTS_MAX_HOPS = 5
"""Redirects followed when fetching robots.txt (RFC 9309 asks for at least five)."""

BLOCKED: str = Reason.ROBOTS.value

MAX_CRAWL_DELAY = 60.0
"""Longest robots.txt ``Crawl-delay`` honoured, in seconds. A larger one would stall its
origin for good (and ``Crawl-delay: 1e308`` would overflow the engine's sleep)."""

_UNKNOWN, _PENDING, _KNOWN = 0, 1, 2


@dataclass
class _Origin:
    in_flight: int = 0
    next_start: float = 0.0
    delay: float = 0.0
    robots_state: int = _UNKNOWN
    robots: Protego | None = None
    disallow_all: str | None = None
    robots_hops: int = 0


@dataclass
class Politeness:
    """What may start now on each origin, and what robots.txt allows there."""

    settings: CrawlSettings
    rng: random.Random = field(default_factory=random.Random)
    _origins: dict[str, _Origin] = field(default_factory=dict)

    def _get(self, origin: str) -> _Origin:
        state = self._origins.get(origin)
        if state is None:
            state = self._origins[origin] = _Origin(delay=self.settings.delay)
            if not self.settings.obey_robots:
                state.robots_state = _KNOWN
        return state

    def ready(self, origin: str, now: float) -> bool:
        """True when a request to ``origin`` may start at ``now``."""
        state = self._get(origin)
        return (
            state.robots_state == _KNOWN
            and state.in_flight < self.settings.per_host
            and now >= state.next_start
        )

    def next_start(self, origin: str) -> float | None:
        """When ``origin`` may next start a request (``None``: waiting on something else)."""
        state = self._get(origin)
        if state.robots_state != _KNOWN or state.in_flight >= self.settings.per_host:
            return None
        return state.next_start

    def started(self, origin: str, now: float) -> None:
        """Count a request to ``origin`` that starts at ``now``."""
        state = self._get(origin)
        state.in_flight += 1
        delay = state.delay
        if delay and self.settings.jitter:
            delay *= self.rng.uniform(0.5, 1.5)
        state.next_start = max(state.next_start, now + delay)

    def finished(self, origin: str) -> None:
        """A request to ``origin`` ended (whatever its outcome)."""
        self._get(origin).in_flight -= 1

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
