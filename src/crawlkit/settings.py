"""Crawl options, validated once, shared by every strategy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import __version__
from .errors import UnknownMode, UsageError

MODES: tuple[str, ...] = ("sync", "threaded", "threadpool", "multiprocess", "async", "gevent")
"""Every fetch strategy, by the name the CLI and :func:`crawlkit.crawl` accept."""

DEFAULT_USER_AGENT = f"crawlkit/{__version__} (+https://pypi.org/project/crawlkit/)"
ROBOTS_AGENT = "crawlkit"
"""The product token matched against robots.txt ``User-agent`` lines."""


@dataclass(frozen=True)
class CrawlSettings:
    """Everything that shapes a crawl except the seeds and the spider.

    Attributes:
        mode: fetch strategy, one of :data:`MODES`, or ``"module:Class"`` for a
            strategy of your own (any class with the :class:`~crawlkit.fetchers.Fetcher`
            methods).
        concurrency: requests in flight at once (``sync`` always uses 1).
        follow: offer every link of every page to the frontier.
        max_pages: stop after this many pages were tried (``None``: no limit).
        max_depth: do not follow links deeper than this (seeds are depth 0).
        allow: followed URLs must match one of these regexes (when any are given).
        deny: followed URLs matching any of these regexes are dropped.
        same_host: followed URLs must be on a seed's host.
        timeout: total seconds allowed for one fetch (connect, headers and body).
        max_redirects: redirect hops followed before the page fails.
        max_bytes: largest body accepted, in bytes.
        user_agent: the User-Agent header sent with every request.
        per_host: requests in flight at once to one origin (scheme, host, port).
        delay: seconds between two request starts on one origin.
        jitter: vary each delay uniformly between 0.5x and 1.5x.
        obey_robots: fetch robots.txt per origin and obey it (RFC 9309).
        retries: extra attempts for a page after a transient failure.
        retry_backoff: base of the exponential backoff between attempts, seconds.
        retry_after_cap: longest ``Retry-After`` honoured, seconds.
        block_private: refuse hosts that resolve to loopback, private, link-local
            or otherwise non-global addresses (checked at connect time, every hop).
    """

    mode: str = "async"
    concurrency: int = 16
    follow: bool = False
    max_pages: int | None = None
    max_depth: int | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    same_host: bool = True
    timeout: float = 30.0
    max_redirects: int = 10
    max_bytes: int = 10 * 1024 * 1024
    user_agent: str = DEFAULT_USER_AGENT
    per_host: int = 8
    delay: float = 0.0
    jitter: bool = False
    obey_robots: bool = True
    retries: int = 2
    retry_backoff: float = 0.5
    retry_after_cap: float = 60.0
    block_private: bool = False
    allow_re: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    deny_re: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES and ":" not in self.mode:
            raise UnknownMode(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if isinstance(self.concurrency, bool) or self.concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_pages is not None and self.max_pages < 1:
            raise UsageError(f"max_pages must be at least 1, got {self.max_pages}")
        if self.max_depth is not None and self.max_depth < 0:
            raise UsageError(f"max_depth must be 0 or more, got {self.max_depth}")
        if not self.timeout > 0:
            raise UsageError(f"timeout must be positive, got {self.timeout}")
        if self.max_redirects < 0:
            raise UsageError(f"max_redirects must be 0 or more, got {self.max_redirects}")
        if isinstance(self.per_host, bool) or self.per_host < 1:
            raise UsageError(f"per_host must be at least 1, got {self.per_host}")
        if self.delay < 0:
            raise UsageError(f"delay must be 0 or more, got {self.delay}")
        if self.retries < 0:
            raise UsageError(f"retries must be 0 or more, got {self.retries}")
        if self.retry_backoff < 0 or self.retry_after_cap < 0:
            raise UsageError("retry_backoff and retry_after_cap must be 0 or more")
        if self.max_bytes < 1:
            raise UsageError(f"max_bytes must be positive, got {self.max_bytes}")
        object.__setattr__(self, "allow", tuple(self.allow))
        object.__setattr__(self, "deny", tuple(self.deny))
        object.__setattr__(self, "allow_re", tuple(_compile(p, "allow") for p in self.allow))
        object.__setattr__(self, "deny_re", tuple(_compile(p, "deny") for p in self.deny))

    @property
    def effective_concurrency(self) -> int:
        """How many requests the engine keeps in flight for this mode."""
        return 1 if self.mode == "sync" else self.concurrency


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"invalid --{what} regex {pattern!r}: {exc}") from exc
