"""A frontier shared by many crawl processes through one Redis (``--frontier redis://``).

Every worker runs the same command. Redis holds, under ``crawlkit:{job}:``:

* ``seen``           SET of every URL ever accepted (shared de-duplication);
* ``q:{origin}``     LIST per origin of queued requests (JSON), ``origins`` the
                     round-robin LIST of origins with work (``origins_set`` mirrors it);
* ``leases``         ZSET url -> lease expiry, ``leased`` HASH url -> request,
                     ``owner`` HASH url -> the worker holding the lease;
* ``inflight``, ``next``  HASHes per origin: requests in flight, earliest next start
                     (so ``--per-host`` and ``--delay`` hold across all workers);
* ``stats``, ``errors``   HASHes of shared counters (``started`` enforces ``--max-pages``);
* ``workers``        ZSET worker -> when it last asked for work; ``mine`` HASH
                     "worker origin" -> that worker's requests in flight there;
* ``hosts``          SET of the seeds' hosts, ``meta`` HASH with the crawl's fingerprint.

The per-origin limit is shared fairly: with W workers heard from in the last 10
seconds, one worker holds at most ceil(per_host / W) of an origin's slots, so a
worker that acknowledges and asks again at once cannot starve the others.

A worker *leases* a request (a Lua script: reclaim expired leases, pick the next
origin whose limits allow a start, move one request to ``leases``), and
*acknowledges* it once its records are written and flushed (another script:
drop the lease, add the page's new links to ``seen`` and the queues, add to the
counters). A worker that dies loses nothing: its leases expire and are handed
out again, so records it had written but not acknowledged may appear twice
(bounded by what it had in flight); nothing accepted is lost. A late
acknowledgement of a lease that expired and went to another worker leaves that
worker's lease alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from ..errors import UsageError
from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, origin_of
from .base import Frontier, LinkRules, OriginQueues, Ready
from .redis_conn import DEFAULT_WAIT, open_client


def _script(name: str) -> str:
    """The text of one of the Lua scripts shipped beside this module."""
    return (resources.files(__package__) / "lua" / name).read_text(encoding="utf-8")


_LEASE = _script("lease.lua")

_ADD = _script("add.lua")

_ACK = _script("ack.lua")

_STATUS = _script("status.lua")


def connect(url: str, wait: float = DEFAULT_WAIT,
            notify: Callable[[str], None] | None = None) -> Any:
    """A Redis client for ``url`` (``redis://``, ``rediss://``), checked with a PING,
    that waits up to ``wait`` seconds for Redis when it goes away during the crawl
    (see :mod:`crawlkit.frontiers.redis_conn`).

    Raises:
        UsageError: the URL is malformed, or the server does not answer or refuses
            the credentials (the message never shows the password).
    """
    return open_client(url, wait, notify)


def job_prefix(job: str) -> str:
    """The key prefix of ``job``."""
    return f"crawlkit:{job}:"


def job_status(client: Any, job: str) -> dict[str, Any]:
    """Queued, leased and seen URLs and the shared counters of ``job``."""
    prefix = job_prefix(job)
    queued, leased, seen, _ = client.eval(_STATUS, 0, prefix)
    stats = {k.decode(): int(v) for k, v in client.hgetall(prefix + "stats").items()}
    errors = {k.decode(): int(v) for k, v in client.hgetall(prefix + "errors").items()}
    return {"job": job, "queued": int(queued), "leased": int(leased), "seen": int(seen),
            "stats": stats, "errors": errors,
            "exists": bool(client.exists(prefix + "meta"))}


def delete_job(client: Any, job: str) -> int:
    """Delete every key of ``job``; returns how many were removed."""
    keys = list(client.scan_iter(match=job_prefix(job) + "*", count=1000))
    return int(client.delete(*keys)) if keys else 0


class RedisFrontier(Frontier):
    """A :class:`~crawlkit.frontiers.base.Frontier` over a shared Redis job.

    Each worker applies the :class:`~crawlkit.frontiers.base.LinkRules` (depth,
    same host, allow/deny, traps) itself; de-duplication, queues, leases,
    per-origin limits, ``max_pages`` and the job's counters are shared in Redis.

    A page's links are decided when offered (against the shared seen set, read
    in one round trip, and the links this page offered before) and written when
    the page is acknowledged. A URL another worker adds in between is dropped
    then as a duplicate, so every URL is queued once across the job.

    Order: each origin's first attempts come out in the order they were queued
    (one shared FIFO per origin). Requests leased while their origin was not
    ready, and retries (kept by the worker that leased them), go first once ready.
    """

    POLL = 0.1
    flush_each_page = True  # records must be on disk before their page is acknowledged

    def __init__(self, settings: CrawlSettings, client: Any, job: str, fingerprint: str,
                 lease: float = 60.0) -> None:
        if not lease > 0:
            raise UsageError(f"--lease must be positive, got {lease}")
        self.settings = settings
        self.rules = LinkRules(settings)
        self.client = client
        self.prefix = job_prefix(job)
        self.lease = lease
        self.worker = uuid.uuid4().hex  # this process, in the workers' fair shares
        self._lease_script = client.register_script(_LEASE)
        self._add_script = client.register_script(_ADD)
        self._ack_script = client.register_script(_ACK)
        self._held = OriginQueues()  # leased requests not yet started, and retries
        self._links: dict[str, str] = {}  # url -> encoded request: the page's accepted links
        self._status_at = 0.0
        self._busy = True
        stored = client.hget(self.prefix + "meta", "fingerprint")
        if stored is None:
            client.hset(self.prefix + "meta", "fingerprint", fingerprint)
        elif stored.decode() != fingerprint:
            raise UsageError(f"job {job!r} is another crawl (other seeds or options): "
                             "pick another --job or delete it")
        self.rules.allowed_hosts.update(
            h.decode() for h in client.smembers(self.prefix + "hosts"))

    @staticmethod
    def _encode(request: Request) -> str:
        return json.dumps({"u": request.url, "d": request.depth, "h": list(request.hops),
                           "o": origin_of(request.url)}, separators=(",", ":"))

    @staticmethod
    def _decode(data: bytes) -> Request:
        raw = json.loads(data)
        return Request(raw["u"], depth=raw["d"], hops=tuple(raw["h"]),
                       queued_at=time.perf_counter())

    def __len__(self) -> int:
        return len(self._held)

    # offering URLs

    def offer_seed(self, url: str) -> str | None:
        canonical = canonicalize(url)
        self.client.sadd(self.prefix + "hosts", self.rules.seed(canonical))
        added = self._add_script(args=[self.prefix, self._encode(Request(canonical))])
        return None if added else "duplicate"

    def offer_links(self, urls: Sequence[str], depth: int) -> list[str | None]:
        return self._offer([Request(url, depth=depth) for url in urls])

    def offer_redirect(self, request: Request, target: str) -> str | None:
        host = self.rules.redirected(request, target)
        if host is not None:
            self.client.sadd(self.prefix + "hosts", host)
        hop = Request(target, depth=request.depth, hops=(*request.hops, request.url))
        return self._offer([hop])[0]

    def _offer(self, requests: list[Request]) -> list[str | None]:
        if not requests:
            return []
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            pipe.sismember(self.prefix + "seen", request.url)
        seen = {r.url for r, known in zip(requests, pipe.execute(), strict=True) if known}
        seen.update(self._links)
        reasons: list[str | None] = []
        for request in requests:
            reason = self.rules.refusal(request.url, request.depth, seen)
            if reason is None:
                seen.add(request.url)
                self._links[request.url] = self._encode(request)
            reasons.append(reason)
        return reasons

    def retry_later(self, request: Request, not_before: float) -> None:
        self._held.retry_later(request, not_before)

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """Acknowledge ``request`` (its records are written and flushed) with the links
        it found and its share of the counters, in one atomic step."""
        counters = {"ok": int(ok), "failed": int(not ok), "items": items}
        errors = {error: 1} if error else {}
        self._ack_script(args=[self.prefix, request.url, origin_of(request.url),
                               json.dumps(counters), json.dumps(errors),
                               json.dumps(list(self._links.values())), self.worker])
        self._links.clear()

    # taking requests

    def pop(self, now: float, ready: Ready, started: int) -> Request | None:
        """As :meth:`Frontier.pop`, except that ``max_pages`` counts the pages every
        worker started (in Redis), not ``started``."""
        request = self._held.pop(now, ready)
        if request is not None:
            return request
        limit = self.rules.max_pages
        concurrency = self.settings.effective_concurrency
        for _ in range(4 * concurrency):
            if len(self) >= 2 * concurrency:
                return None  # enough leased and waiting locally
            data = self._lease_script(args=[
                self.prefix, self.lease, self.settings.per_host, self.settings.delay,
                -1 if limit is None else limit, self.worker,
            ])
            if not data:
                return None
            request = self._decode(data)
            origin = origin_of(request.url)
            if ready(origin, now):
                if not self._held.has(origin):
                    self._held.announce(origin)
                return request
            self._held.push(request)
        return None

    def take_new_origins(self) -> list[str]:
        return self._held.take_new_origins()

    def origins(self) -> list[str]:
        return self._held.origins()

    def next_retry(self) -> float | None:
        """The next local retry, else (while any worker still has work) a short poll."""
        due = self._held.next_retry()
        if due is not None:
            return due
        now = time.perf_counter()
        if now - self._status_at >= self.POLL:
            queued, leased, _, started = self.client.eval(_STATUS, 0, self.prefix)
            limit = self.rules.max_pages
            if limit is not None and int(started) >= limit:
                queued = 0  # what is queued will not be started
            self._busy = bool(int(queued) or int(leased) or len(self._held))
            self._status_at = now
        return now + self.POLL if self._busy else None

    def left_behind(self) -> int:
        queued, _, _, _ = self.client.eval(_STATUS, 0, self.prefix)
        return int(queued) + len(self)
