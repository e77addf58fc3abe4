"""A frontier shared by many crawl processes through one Redis (``--frontier redis://``).

Every worker runs the same command. Redis holds, under ``crawlkit:{job}:``:

* ``seen``           SET of the fingerprint of every request ever accepted (shared
                     de-duplication; ``dont_filter`` requests skip it);
* ``q:{origin} {priority}``  LIST per origin and priority of queued requests (JSON:
                     a followed link as its URL and depth, another request whole),
                     ``qp:{origin}`` the ZSET of the priorities queued there (the
                     highest is served first), ``origins`` the round-robin LIST of
                     origins with work (``origins_set`` mirrors it);
* ``leases``         ZSET key -> lease expiry, ``leased`` HASH key -> request,
                     ``owner`` HASH key -> the worker holding the lease (a request's
                     key is its fingerprint, plus a unique suffix for ``dont_filter``);
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

import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from ..errors import UsageError
from ..models import Request
from ..settings import CrawlSettings
from ..urls import canonicalize, origin_of
from .base import Frontier, Link, LinkRules, OriginQueues, Ready, as_request
from .journal import stored_form
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
        self._links: dict[str, str] = {}  # key -> encoded request: the page's accepted links
        self._nonce = itertools.count()  # numbers this worker's dont_filter keys
        # a dont_filter request's stored form -> the keys of those leased here (alike
        # requests are interchangeable, so any of them acknowledges one)
        self._unfiltered: defaultdict[str, list[str]] = defaultdict(list)
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

    def _key(self, request: Request) -> str:
        """The request's key in ``seen`` and the leases."""
        if not request.dont_filter:
            return request.fingerprint
        return f"{request.fingerprint}#{self.worker}:{next(self._nonce)}"

    @staticmethod
    def _encode(request: Request, key: str) -> str:
        """A request as Redis keeps it: ``k`` its key, ``o`` its origin, ``p`` its
        priority, ``f`` 0 for ``dont_filter``; a plain link as ``u`` (URL), ``d``
        (depth) and ``h`` (hops), any other request whole in ``r``."""
        raw: dict[str, Any] = {"k": key, "o": origin_of(request.url)}
        if request.plain and request.purpose == "page":
            raw.update(u=request.url, d=request.depth, h=list(request.hops))
        else:
            raw.update(r=request.to_dict(), p=request.priority, f=int(not request.dont_filter))
        return json.dumps(raw, separators=(",", ":"))

    def _decode(self, data: bytes) -> Request:
        raw = json.loads(data)
        now = time.perf_counter()
        if "r" not in raw:
            return Request(raw["u"], depth=raw["d"], hops=tuple(raw["h"]), queued_at=now)
        request = Request.from_dict(raw["r"], queued_at=now)
        if request.dont_filter:
            form = stored_form(request)
            assert form is not None
            self._unfiltered[form].append(raw["k"])
        return request

    def _lease_key(self, request: Request) -> str:
        """The key ``request`` was leased under."""
        if not request.dont_filter:
            return request.fingerprint
        form = stored_form(request)
        assert form is not None
        keys = self._unfiltered.get(form)
        if not keys:
            return ""  # not leased here (a late acknowledgement): nothing to drop
        key = keys.pop()
        if not keys:
            del self._unfiltered[form]
        return key

    def __len__(self) -> int:
        return len(self._held)

    # offering requests

    def offer_seed(self, seed: Link) -> str | None:
        request = as_request(seed, 0, 0.0)
        self.client.sadd(self.prefix + "hosts", self.rules.seed(canonicalize(request.url)))
        added = self._add_script(args=[self.prefix, self._encode(request, self._key(request))])
        return None if added else "duplicate"

    def offer_links(self, links: Sequence[Link], depth: int) -> list[str | None]:
        return self._offer([as_request(link, depth, 0.0) for link in links], hop=False)

    def offer_redirect(self, request: Request, hop: Request) -> str | None:
        host = self.rules.redirected(request, hop.url)
        if host is not None:
            self.client.sadd(self.prefix + "hosts", host)
        return self._offer([hop], hop=True)[0]

    def _offer(self, requests: list[Request], hop: bool) -> list[str | None]:
        if not requests:
            return []
        keys = [None if r.dont_filter else r.fingerprint for r in requests]
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            if key is not None:
                pipe.sismember(self.prefix + "seen", key)
        answers = iter(pipe.execute())
        seen = {key for key in keys if key is not None and next(answers)}
        seen.update(self._links)
        reasons: list[str | None] = []
        for request, key in zip(requests, keys, strict=True):
            if hop:
                reason = self.rules.hop_refusal(request.url, key, seen)
            else:
                reason = self.rules.refusal(request.url, key, request.depth, seen)
            if reason is None:
                stored = self._key(request) if key is None else key
                seen.add(stored)
                self._links[stored] = self._encode(request, stored)
            reasons.append(reason)
        return reasons

    def retry_later(self, request: Request, not_before: float) -> None:
        self._held.retry_later(request, not_before)

    def complete(self, request: Request, ok: bool, items: int, error: str | None) -> None:
        """Acknowledge ``request`` (its records are written and flushed) with the links
        it found and its share of the counters, in one atomic step."""
        counters = {"ok": int(ok), "failed": int(not ok), "items": items}
        errors = {error: 1} if error else {}
        self._ack_script(args=[self.prefix, self._lease_key(request), origin_of(request.url),
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
