"""The crawl frontier: what to fetch next, what was seen, and what the rules refuse.

Pure bookkeeping with no I/O and no locks: only the engine's thread touches it.
"""

from __future__ import annotations

import time
from collections import Counter, deque

from .models import Request
from .settings import CrawlSettings
from .urls import canonicalize, host_of


class Frontier:
    """A FIFO queue of requests (so the crawl is breadth-first) with a seen set.

    Every URL enters the seen set when it is accepted, so it is fetched at most
    once per crawl, whichever strategy runs and in whatever order pages finish.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.settings = settings
        self._queue: deque[Request] = deque()
        self._seen: set[str] = set()
        self.allowed_hosts: set[str] = set()
        self.pages_started = 0
        self.refused: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._queue)

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
        self._seen.add(canonical)
        self._queue.append(Request(canonical, 0, queued_at=time.perf_counter()))
        return True

    def add_link(self, url: str, depth: int) -> bool:
        """Offer a canonical URL found at ``depth``; returns True when it was queued."""
        reason = self._refusal(url, depth)
        if reason is not None:
            self.refused[reason] += 1
            return False
        self._seen.add(url)
        self._queue.append(Request(url, depth, queued_at=time.perf_counter()))
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
        self._seen.add(target)
        hops = (*request.hops, request.url)
        self._queue.append(Request(target, request.depth, hops, time.perf_counter()))
        return True

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
        return None

    def pop(self) -> Request | None:
        """The next request to fetch, or None when the queue is empty or the page
        limit is reached."""
        if not self._queue:
            return None
        limit = self.settings.max_pages
        if limit is not None and self.pages_started >= limit:
            return None
        self.pages_started += 1
        return self._queue.popleft()

    def left_behind(self) -> int:
        """Requests still queued (non-zero only when a limit stopped the crawl)."""
        return len(self._queue)
