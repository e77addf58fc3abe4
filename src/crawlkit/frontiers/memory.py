"""The crawl frontier in memory (the default): queue and seen set in this process.

Pure bookkeeping with no I/O and no locks: only the engine's thread touches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize
from .base import Frontier, LinkRules, OriginQueues, Ready


class SeenSet(Protocol):
    """What the frontier needs of its seen set: a ``set``, or one kept on disk."""

    def __contains__(self, url: object) -> bool: ...

    def add(self, url: str) -> None: ...


class MemoryFrontier(Frontier):
    """A :class:`~crawlkit.frontiers.base.Frontier` held in memory.

    Queued requests form one FIFO per origin (so each origin is crawled
    breadth-first), served round-robin across origins; due retries go first on
    their origin. Every URL enters the seen set when it is accepted.

    Its parts can be replaced (the durable frontier does): ``seen``, the seen set;
    ``queues``, the per-origin queues; ``store``, where an accepted request goes
    (by default, the back of its origin's FIFO in ``queues``).
    """

    flush_each_page = False

    def __init__(
        self,
        settings: CrawlSettings,
        seen: SeenSet | None = None,
        queues: OriginQueues | None = None,
        store: Callable[[Request], None] | None = None,
    ) -> None:
        self.rules = LinkRules(settings)
        self._seen: SeenSet = set() if seen is None else seen  # every URL accepted
        self._queues = OriginQueues() if queues is None else queues
        self._store = self._queues.push if store is None else store

    def __len__(self) -> int:
        return len(self._queues)

    def _offer(self, request: Request) -> str | None:
        reason = self.rules.refusal(request.url, request.depth, self._seen)
        if reason is None:
            self._seen.add(request.url)
            self._store(request)
        return reason

    def offer_seed(self, url: str) -> str | None:
        canonical = canonicalize(url)
        self.rules.seed(canonical)
        if canonical in self._seen:
            return "duplicate"
        self._seen.add(canonical)
        self._store(Request(canonical, queued_at=time.perf_counter()))
        return None

    def offer_links(self, urls: Sequence[str], depth: int) -> list[str | None]:
        now = time.perf_counter()
        return [self._offer(Request(url, depth=depth, queued_at=now)) for url in urls]

    def offer_redirect(self, request: Request, target: str) -> str | None:
        self.rules.redirected(request, target)
        hops = (*request.hops, request.url)
        return self._offer(Request(target, depth=request.depth, hops=hops,
                                   queued_at=time.perf_counter()))

    def pop(self, now: float, ready: Ready, started: int) -> Request | None:
        return self._queues.pop(now, ready, fresh=self.rules.may_start(started))

    def retry_later(self, request: Request, not_before: float) -> None:
        self._queues.retry_later(request, not_before)

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """Nothing to do: a page in memory is done when the engine says so."""

    def take_new_origins(self) -> list[str]:
        return self._queues.take_new_origins()

    def origins(self) -> list[str]:
        return self._queues.origins()

    def next_retry(self) -> float | None:
        return self._queues.next_retry()

    def left_behind(self) -> int:
        return len(self)
