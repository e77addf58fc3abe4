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

import heapq
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from importlib import resources
from typing import Any

from ..errors import UsageError
from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, host_of, origin_of
from .memory import Frontier


def _script(name: str) -> str:
    """The text of one of the Lua scripts shipped beside this module."""
    return (resources.files(__package__) / "lua" / name).read_text(encoding="utf-8")


_LEASE = _script("lease.lua")

_ADD = _script("add.lua")

_ACK = _script("ack.lua")

_STATUS = _script("status.lua")


def connect(url: str) -> Any:
    """A Redis client for ``url`` (``redis://host:port/db``), checked with a PING.

    Raises:
        UsageError: the URL is malformed or the server does not answer.
    """
    try:
        import redis
    except ImportError:
        raise UsageError("--frontier redis:// needs redis-py: pip install 'crawlkit[redis]'") \
            from None
    try:
        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        client.ping()
    except ValueError as exc:
        raise UsageError(f"invalid --frontier {url!r}: {exc}") from None
    except redis.RedisError as exc:
        raise UsageError(f"cannot reach Redis at {url!r}: {exc}") from None
    return client


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
    """The :class:`~crawlkit.frontiers.memory.Frontier` interface over a shared Redis job.

    Local rules (depth, same host, allow/deny, traps) are applied by each worker
    before a URL is offered; de-duplication, queues, leases, per-origin limits,
    ``max_pages`` and counters are shared.
    """

    POLL = 0.1
    flush_each_page = True  # records must be on disk before their page is acknowledged

    def __init__(self, settings: CrawlSettings, client: Any, job: str, fingerprint: str,
                 lease: float = 60.0) -> None:
        if not lease > 0:
            raise UsageError(f"--lease must be positive, got {lease}")
        super().__init__(settings)  # for the local rules (_refusal) and the counters
        self.client = client
        self.prefix = job_prefix(job)
        self.lease = lease
        self.worker = uuid.uuid4().hex  # this process, in the workers' fair shares
        self._lease_script = client.register_script(_LEASE)
        self._add_script = client.register_script(_ADD)
        self._ack_script = client.register_script(_ACK)
        self._held: dict[str, deque[Request]] = {}
        self._links: list[str] = []
        self._status_at = 0.0
        self._busy = True
        stored = client.hget(self.prefix + "meta", "fingerprint")
        if stored is None:
            client.hset(self.prefix + "meta", "fingerprint", fingerprint)
        elif stored.decode() != fingerprint:
            raise UsageError(f"job {job!r} is another crawl (other seeds or options): "
                             "pick another --job or delete it")
        self.allowed_hosts.update(h.decode() for h in client.smembers(self.prefix + "hosts"))

    @staticmethod
    def _encode(request: Request) -> str:
        return json.dumps({"u": request.url, "d": request.depth, "h": list(request.hops),
                           "o": origin_of(request.url)}, separators=(",", ":"))

    @staticmethod
    def _decode(data: bytes) -> Request:
        raw = json.loads(data)
        return Request(raw["u"], raw["d"], tuple(raw["h"]), time.perf_counter())

    def __len__(self) -> int:
        return sum(len(q) for q in self._held.values()) + len(self._delayed)

    # offering URLs

    def add_seed(self, url: str) -> bool:
        canonical = canonicalize(url)
        host = host_of(canonical)
        self.allowed_hosts.add(host)
        self.client.sadd(self.prefix + "hosts", host)
        added = self._add_script(args=[self.prefix, self._encode(Request(canonical))])
        return bool(added)

    def add_link(self, url: str, depth: int) -> bool:
        reason = self._refusal(url, depth)
        if reason is not None and reason != "duplicate":
            self.refused[reason] += 1
            return False
        self._links.append(self._encode(Request(url, depth)))
        return True

    def add_redirect(self, request: Request, target: str) -> bool:
        if request.depth == 0 and self.settings.same_host:
            host = host_of(target)
            self.allowed_hosts.add(host)
            self.client.sadd(self.prefix + "hosts", host)
        reason = self._refusal(target, request.depth)
        if reason is not None and reason != "duplicate":
            self.refused[reason] += 1
            return False
        hop = Request(target, request.depth, (*request.hops, request.url))
        self._links.append(self._encode(hop))
        return True

    def retry_later(self, request: Request, not_before: float) -> None:
        heapq.heappush(self._delayed, (not_before, next(self._tiebreak), request))

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """Acknowledge ``request`` (its records are written and flushed) with the links
        it found and its share of the counters, in one atomic step."""
        counters = {"ok": int(ok), "failed": int(not ok), "items": items}
        errors = {error: 1} if error else {}
        self._ack_script(args=[self.prefix, request.url, origin_of(request.url),
                               json.dumps(counters), json.dumps(errors),
                               json.dumps(self._links), self.worker])
        self._links.clear()

    # taking requests

    def pop(self, now: float, ready: Callable[[str, float], bool]) -> Request | None:
        while self._delayed and self._delayed[0][0] <= now:
            request = heapq.heappop(self._delayed)[2]
            self._held.setdefault(origin_of(request.url), deque()).appendleft(request)
        for origin, queue in list(self._held.items()):
            if queue and ready(origin, now):
                request = queue.popleft()
                if not queue:
                    del self._held[origin]
                return request
        limit = self.settings.max_pages
        for _ in range(4 * self.settings.effective_concurrency):
            if len(self) >= 2 * self.settings.effective_concurrency:
                return None  # enough leased and waiting locally
            data = self._lease_script(args=[
                self.prefix, self.lease, self.settings.per_host, self.settings.delay,
                -1 if limit is None else limit, self.worker,
            ])
            if not data:
                return None
            request = self._decode(data)
            origin = origin_of(request.url)
            if origin not in self._held and not any(
                o == origin for o in self._new_origins
            ):
                self._new_origins.append(origin)
            if ready(origin, now):
                self.pages_started += 1
                return request
            self._held.setdefault(origin, deque()).append(request)
        return None

    def take_new_origins(self) -> list[str]:
        new, self._new_origins = self._new_origins, []
        return new

    def origins(self) -> list[str]:
        return list(self._held)

    def next_retry(self) -> float | None:
        """The next local retry, else (while any worker still has work) a short poll."""
        if self._delayed:
            return self._delayed[0][0]
        now = time.perf_counter()
        if now - self._status_at >= self.POLL:
            queued, leased, _, started = self.client.eval(_STATUS, 0, self.prefix)
            limit = self.settings.max_pages
            if limit is not None and int(started) >= limit:
                queued = 0  # what is queued will not be started
            self._busy = bool(int(queued) or int(leased) or self._held)
            self._status_at = now
        return now + self.POLL if self._busy else None

    def left_behind(self) -> int:
        queued, _, _, _ = self.client.eval(_STATUS, 0, self.prefix)
        return int(queued) + len(self)
