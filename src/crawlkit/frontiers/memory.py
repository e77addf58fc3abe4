"""The crawl frontier in memory (the default): queue and seen set in this process.

Pure bookkeeping with no I/O and no locks: only the engine's thread touches it.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, safe_url
from .base import Frontier, Link, LinkRules, OriginQueues, Ready, as_request, key_of


class SeenSet(Protocol):
    """What the frontier needs of its seen set: a ``set``, or one kept on disk."""

    def __contains__(self, url: object) -> bool: ...

    def add(self, url: str) -> None: ...


FINGERPRINT_BUCKETS = 1 << 12
"""Sorted arrays the fingerprints are spread over (by their top 12 bits)."""
_SHIFT = 64 - 12
_MASK = (1 << 64) - 1


class Fingerprints:
    """A seen set of 64-bit fingerprints of the keys, 8 bytes per key and no object
    per key, the way large crawlers keep theirs (Heritrix's fingerprint filters).

    A key's fingerprint is its ``hash()`` (SipHash, computed in C, seeded anew by
    each process: the durable frontier rebuilds its fingerprints from the journal's
    keys rather than storing them). They are kept sorted in
    :data:`FINGERPRINT_BUCKETS` arrays picked by their top bits: a lookup is a
    bisection of one array, an insertion moves a few hundred bytes at a million keys.

    Why not a ``set`` of the keys: about 150 bytes per URL, and the cyclic garbage
    collector walks every element of a set at each full collection (one every few
    seconds in a crawl), so the cost per page grew with the URLs seen. Arrays of
    ints are not tracked by the collector, and cost the same at any size.

    Two keys share a fingerprint with probability 2**-64 per pair: among a million
    URLs the chance that any two do is about 3e-8 (n**2 / 2**65), and the cost if
    they do is one URL taken as seen. A hit is not confirmed against anything: most
    lookups are hits (the links a page repeats), and for the durable frontier a
    confirmation would put a query back on every page.
    """

    __slots__ = ("_buckets", "_count")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        spread: list[list[int]] = [[] for _ in range(FINGERPRINT_BUCKETS)]
        for key in keys:
            fingerprint = hash(key) & _MASK
            spread[fingerprint >> _SHIFT].append(fingerprint)
        # each sorted, without repeats; arrays of unsigned 64-bit ints, not objects
        self._buckets = tuple(array("Q", sorted(set(bucket))) for bucket in spread)
        self._count = sum(len(bucket) for bucket in self._buckets)

    def __contains__(self, url: object) -> bool:
        fingerprint = hash(url) & _MASK
        bucket = self._buckets[fingerprint >> _SHIFT]
        i = bisect_left(bucket, fingerprint)
        return i < len(bucket) and bucket[i] == fingerprint

    def __len__(self) -> int:
        return self._count

    def add(self, url: str) -> None:
        fingerprint = hash(url) & _MASK
        bucket = self._buckets[fingerprint >> _SHIFT]
        i = bisect_left(bucket, fingerprint)
        if i == len(bucket) or bucket[i] != fingerprint:
            bucket.insert(i, fingerprint)
            self._count += 1


class MemoryFrontier(Frontier):
    """A :class:`~crawlkit.frontiers.base.Frontier` held in memory.

    Queued requests form one queue per origin (by priority, then in arrival
    order, so each origin is crawled breadth-first), served round-robin across
    origins; due retries go first on their origin. Every request's fingerprint
    enters the seen set (:class:`Fingerprints`, by default) when it is accepted
    (``dont_filter`` ones excepted).

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
        self._seen: SeenSet = Fingerprints() if seen is None else seen  # every key accepted
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
