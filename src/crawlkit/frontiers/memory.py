"""The crawl frontier in memory (the default): queue and seen set in this process.

Pure bookkeeping with no I/O and no locks: only the engine's thread touches it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, safe_url
from .base import Frontier, Link, LinkRules, OriginQueues, Ready, as_request, key_of


class SeenSet(Protocol):
    """What the frontier needs of its seen set: a ``set``, or one kept on disk."""

    def __contains__(self, url: object) -> bool: ...

    def add(self, url: str) -> None: ...


class SeenKeys:
    """The seen set in memory: every key accepted, exactly, in a plain ``dict``.

    Not a ``set``: Python's cyclic garbage collector never tracks a dict that holds
    only strings (or ints) and ``None``, so a full collection does not walk it,
    whereas it walks every element of a set. A crawl's seen set is by far its
    largest container; walked, it made every full collection (one every few
    seconds) cost time in proportion to the URLs seen, and the cost per page grow
    with the crawl.
    """

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}  # a key -> None; the dict stays untracked

    def __contains__(self, url: object) -> bool:
        return url in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, url: str) -> None:
        self._keys[url] = None


class MemoryFrontier(Frontier):
    """A :class:`~crawlkit.frontiers.base.Frontier` held in memory.

    Queued requests form one queue per origin (by priority, then in arrival
    order, so each origin is crawled breadth-first), served round-robin across
    origins; due retries go first on their origin. Every request's fingerprint
    enters the seen set when it is accepted (``dont_filter`` ones excepted).

    Its parts can be replaced (the durable frontier does): ``seen``, the seen set;
    ``queues``, the per-origin queues; ``store``, where an accepted request goes
    (by default, its origin's queue in ``queues``).
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
        self._seen: SeenSet = SeenKeys() if seen is None else seen  # every key accepted
        self._queues = OriginQueues() if queues is None else queues
        self._store = self._queues.push if store is None else store

    def __len__(self) -> int:
        return len(self._queues)

    def _accept(self, request: Request, key: str | None) -> None:
        if key is not None:
            self._seen.add(key)
        self._store(request)

    def offer_seed(self, seed: Link) -> str | None:
        request = as_request(seed, 0, time.perf_counter())
        self.rules.seed(canonicalize(request.url))
        key = key_of(request)
        if key is not None and key in self._seen:
            return "duplicate"
        self._accept(request, key)
        return None

    def offer_links(self, links: Sequence[Link], depth: int) -> list[str | None]:
        now = time.perf_counter()
        refusal = self.rules.refusal
        seen = self._seen
        reasons: list[str | None] = []
        append = reasons.append
        for link in links:
            if isinstance(link, str):  # a plain link as sent: its key is its canonical URL
                canonical = canonicalize(link)
                if canonical in seen:  # most links of a page: asked before the rules
                    append("duplicate")
                    continue
                reason = refusal(link, None, depth, seen, canonical)
                if reason is None:
                    # as Request(link) would send it (a cache hit for a link the parse made)
                    self._accept(Request.link(safe_url(link), depth, now), canonical)
            else:
                key = key_of(link)
                reason = refusal(link.url, key, depth, seen)
                if reason is None:
                    self._accept(as_request(link, depth, now), key)
            append(reason)
        return reasons

    def offer_redirect(self, request: Request, hop: Request) -> str | None:
        self.rules.redirected(request, hop.url)
        key = key_of(hop)
        reason = self.rules.hop_refusal(hop.url, key, self._seen)
        if reason is None:
            self._accept(hop, key)
        return reason

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
