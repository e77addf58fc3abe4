"""The crawl engine: frontier -> fetcher -> processor -> sink, the same for every strategy.

The engine runs in the caller's thread and is the only code that touches the
frontier, the politeness state, the sink and the counters, so none of them needs
a lock. It keeps the fetcher fed up to the concurrency limit, within each
origin's limit and delay, fetches each origin's robots.txt (through the same
fetcher) before its first page, and commits each outcome as it arrives: items
to the sink, URLs and redirect targets to the frontier, retries to the timed
queue. With a response cache (``--cache``) it looks each request up before
dispatching it: a stored answer is processed and committed here, with no
network, and each fetched answer is appended to the cache as it is committed.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import IO, Any

from .cache import ResponseCache
from .cookies import CookieJars
from .errors import UsageError
from .fetchers import Fetcher, get_fetcher
from .fetchers.base import live_report
from .frontiers.base import Frontier, Link, redirect_hop
from .frontiers.disk import DiskFrontier
from .frontiers.journal import BATCH_PAGES, BATCH_SECONDS, CrawlState
from .frontiers.memory import MemoryFrontier
from .models import Outcome, Request
from .politeness import Politeness
from .process import Processor
from .progress import Snapshot
from .proxies import ProxyPool
from .settings import CrawlSettings
from .sinks import Sink
from .spiders import Spider
from .stats import LatencySample, Stats
from .urls import origin_of


class Engine:
    """Runs one crawl.

    Args:
        settings: validated crawl settings (the mode picks the fetcher).
        spider: the spider run on every page.
        sink: receives every item, from this thread only.
        fetcher: a strategy instance; by default the one ``settings.mode`` names.
        frontier: a shared frontier (Redis); by default one in memory (or on disk,
            with ``state``).
        observer: called with every page outcome as it is committed (for measurements).
        processor: replaces the default ``Processor(spider, settings)`` (for recording).
        state: a durable journal (``--state``); ``state_stream`` is the output file
            it fsyncs and measures (the sink must write to it).
        progress: called about twice a second with a :class:`Snapshot`.
        on_spider_error: called with the reason and the traceback of each distinct
            spider error, the first time it happens.
        cache: an open response cache; by default the one ``settings.cache`` names
            (opened and closed by :meth:`run`).
    """

    def __init__(
        self,
        settings: CrawlSettings,
        spider: Spider,
        sink: Sink,
        fetcher: Fetcher | None = None,
        frontier: Frontier | None = None,
        observer: Callable[[Outcome], None] | None = None,
        processor: Processor | None = None,
        state: CrawlState | None = None,
        state_stream: IO[bytes] | None = None,
        progress: Callable[[Snapshot], None] | None = None,
        on_spider_error: Callable[[str, str], None] | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.settings = settings
        self.spider = spider
        self.sink = sink
        self.fetcher = fetcher if fetcher is not None else get_fetcher(settings.mode)
        if state is not None and frontier is not None:
            raise UsageError("a durable state keeps its own frontier: pass one or the other")
        self._disk_frontier = DiskFrontier(settings, state) if state is not None else None
        if frontier is None:
            frontier = MemoryFrontier(settings) if state is None else self._disk_frontier
        assert frontier is not None
        self.frontier: Frontier = frontier
        self.observer = observer
        self.processor = processor if processor is not None else Processor(spider, settings)
        self.rng = random.Random()
        self.politeness = Politeness(settings, self.rng)
        self.proxies = ProxyPool(settings)
        self._robots_now: deque[Request] = deque()
        self._robots_later: list[tuple[float, int, Request]] = []
        self._tiebreak = itertools.count()
        self._errors: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()  # URLs not queued, by reason
        self._started = 0  # pages (first attempts) taken from the frontier
        self._ok = 0
        self._failed = 0
        self._items = 0
        self._dropped = 0  # items the spider's process_item dropped
        self._tracebacks: dict[str, str] = {}  # reason -> the first traceback of that error
        self.on_spider_error = on_spider_error
        self._bytes = 0
        self._retries = 0
        self._robots_fetches = 0
        self._latencies = LatencySample()  # bounded: a uniform sample past its size
        self.state = state
        self.state_stream = state_stream
        self._stopping = False
        self.progress = progress
        self._progress_at = 0.0
        self._batch_started = time.perf_counter()
        # --cookies: the crawl's jars, read and written in this thread only
        self.cookies = CookieJars() if settings.cookies else None
        self.cache = cache
        self._started_at = 0.0

    def request_stop(self) -> None:
        """Take no new URL; finish the requests in flight, then return (thread-safe)."""
        self._stopping = True

    def _counters(self) -> dict[str, Any]:
        return {"ok": self._ok, "failed": self._failed, "items": self._items,
                "dropped": self._dropped, "bytes": self._bytes, "retries": self._retries,
                "errors": dict(self._errors), "refused": dict(self._refused),
                "proxies": self.proxies.counts()}

    def _report(self, started: float, in_flight: int) -> None:
        now = time.perf_counter()
        if self.progress is not None and now - self._progress_at >= 0.5:
            self._progress_at = now
            self.progress(Snapshot(self._ok, self._failed, in_flight, len(self.frontier),
                                   now - started, self.settings.max_pages,
                                   self.politeness.busy_limits(),
                                   live_report(self.fetcher)))

    def _count_refused(self, reasons: Iterable[str | None]) -> None:
        self._refused.update(reason for reason in reasons if reason is not None)

    def _restore(self, seeds: Iterable[Link]) -> None:
        state = self.state
        resume = state.resume() if state is not None else None
        if resume is None or resume.fresh:
            self._count_refused(self.frontier.offer_seed(seed) for seed in seeds)
            return
        assert self._disk_frontier is not None
        if self.cookies is not None and resume.cookies:
            self.cookies.load(resume.cookies)
        self._disk_frontier.resume(resume.allowed_hosts)
        c = resume.counters
        self._ok, self._failed, self._items = c["ok"], c["failed"], c["items"]
        self._dropped = c.get("dropped", 0)
        self._bytes, self._retries = c["bytes"], c["retries"]
        self._errors.update(c["errors"])
        self._refused.update(c["refused"])
        self.proxies.restore(c.get("proxies", {}))
        self._started = self._ok + self._failed

    def _checkpoint(self, force: bool = False) -> None:
        state = self.state
        if state is None or not (state.done or state.new or force):
            return
        now = time.perf_counter()
        if force or len(state.done) >= BATCH_PAGES or now - self._batch_started >= BATCH_SECONDS:
            assert self._disk_frontier is not None
            state.commit(self.state_stream, self._counters(), self._disk_frontier.allowed_hosts(),
                         cookies=None if self.cookies is None else self.cookies.dump())
            self._batch_started = now

    def run(self, seeds: Iterable[Link]) -> Stats:
        """Crawl from ``seeds`` (URLs or :class:`Request` objects) until the frontier
        is empty or a limit is reached.

        Raises:
            InvalidURL: a seed is not an absolute http(s) URL (checked before any fetch).
            FetcherError: the strategy's machinery failed.
        """
        own_cache = self.cache is None and self.settings.cache is not None
        if own_cache:
            self.cache = ResponseCache.open(self.settings)
        try:
            return self._run(seeds)
        finally:
            if own_cache and self.cache is not None:
                self.cache.close()
                self.cache = None

    def _run(self, seeds: Iterable[Link]) -> Stats:
        seeding = time.perf_counter()
        self._restore(seeds)
        seeding = time.perf_counter() - seeding
        fetcher = self.fetcher
        limit = self.settings.effective_concurrency
        in_flight = 0
        begun = time.perf_counter()
        # with a cache that may answer everything, threads, loops and processes start
        # on the first miss: a run replayed from the cache starts none of them
        fetcher_started = self.cache is None or self.cache.mode == "refresh"
        if fetcher_started:
            fetcher.start(self.settings, self.processor)
        started = self._started_at = time.perf_counter()
        try:
            while True:
                now = time.perf_counter()
                while in_flight < limit and not self._stopping:
                    request = self._next_request(now)
                    if request is None:
                        break
                    if not fetcher_started:
                        fetcher.start(self.settings, self.processor)
                        fetcher_started = True
                    if self.cookies is not None:
                        request = self.cookies.prepare(request)
                    fetcher.submit(self.proxies.dispatch(request))
                    in_flight += 1
                wake = None if self._stopping else self._wake_time(now)
                if in_flight == 0:
                    if wake is None:
                        break
                    time.sleep(max(0.0, wake - time.perf_counter()))
                    continue
                timeout = None
                if wake is not None and in_flight < limit:
                    timeout = max(0.0, wake - time.perf_counter())
                for outcome in fetcher.completed(timeout):
                    in_flight -= 1
                    self._commit(outcome)
                self._checkpoint()
                if self.progress is not None:
                    self._report(started, in_flight)
            # a finished or gracefully stopped crawl: everything written is whole
            self._checkpoint(force=True)
        finally:
            if fetcher_started:
                fetcher.close()
            self.sink.close()
        return Stats(
            mode=self.settings.mode,
            pages_ok=self._ok,
            pages_failed=self._failed,
            items=self._items,
            bytes=self._bytes,
            elapsed=time.perf_counter() - started,
            startup=started - begun,
            seeding=seeding,
            retries=self._retries,
            robots_fetches=self._robots_fetches,
            errors=dict(self._errors),
            refused=dict(self._refused),
            left_queued=self.frontier.left_behind(),
            interrupted=self._stopping,
            dropped=self._dropped,
            tracebacks=dict(self._tracebacks),
            fetch_latencies=tuple(self._latencies.values),
            proxies=self.proxies.counts(),
            from_cache=self.cache.hits if self.cache is not None else 0,
        )

    def _next_request(self, now: float) -> Request | None:
        """A robots.txt fetch if one is due, else the next page the rules let start."""
        politeness = self.politeness
        for origin in self.frontier.take_new_origins():
            if politeness.needs_robots(origin):
                self._robots_now.append(Request(origin + "/robots.txt", purpose="robots"))
        while self._robots_later and self._robots_later[0][0] <= now:
            self._robots_now.append(heapq.heappop(self._robots_later)[2])
        while self._robots_now:
            self._robots_fetches += 1
            robots = self._robots_now.popleft()
            if self.cache is None or not self._answered_from_cache(robots):
                return robots
            if self._stopping:
                return None
        while True:
            request = self.frontier.pop(now, politeness.ready, self._started)
            if request is None:
                return None
            if request.attempt == 0:
                self._started += 1
            origin = origin_of(request.url)
            reason = politeness.refusal(origin, request.url)
            if reason is None:
                if self.cache is not None and self._answered_from_cache(request):
                    if self._stopping:
                        return None
                    continue  # no network: nothing started, no delay to keep
                politeness.started(origin, now)
                return request
            self._refuse(request, reason)

    def _answered_from_cache(self, request: Request) -> bool:
        """Process and commit ``request`` now when the cache answers it (a hit, or a
        miss in ``only`` mode), here in the engine's thread, as a fetch would be."""
        assert self.cache is not None
        result = self.cache.lookup(request)
        if result is None:
            return False
        self._commit(self.processor(result), fetched=False)
        self._checkpoint()
        if self.progress is not None:
            self._report(self._started_at, 0)
        return True

    def _wake_time(self, now: float) -> float | None:
        """The earliest moment something now waiting (a delay, a retry) may start."""
        times = [t for t in (self.frontier.next_retry(),
                             self._robots_later[0][0] if self._robots_later else None)
                 if t is not None]
        for origin in self.frontier.origins():
            start = self.politeness.next_start(origin)
            if start is not None and start > now:
                times.append(start)
        return min(times) if times else None

    def _refuse(self, request: Request, reason: str) -> None:
        if request.depth == 0 and not request.hops:
            # a seed the user asked for gets a record saying why it was not fetched
            self._commit_page(self.processor.refused(request, reason))
        else:
            self._refused["robots.txt"] += 1

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.retry_backoff * 2**attempt * self.rng.uniform(0.5, 1.5))

    def _commit(self, outcome: Outcome, fetched: bool = True) -> None:
        outcome = self.proxies.settle(outcome)
        if self.cookies is not None:
            outcome = self.cookies.store(outcome)
        request = outcome.request
        self._bytes += outcome.nbytes
        if fetched and outcome.raw is not None and not outcome.retry and self.cache is not None:
            self.cache.store(request, outcome.raw)
        if request.purpose == "robots":
            self._commit_robots(outcome, fetched)
            return
        origin = origin_of(request.url)
        if fetched:  # an answer from the cache took no network time and held no slot
            self.politeness.finished(origin)
            self.politeness.observe(origin, outcome)
            self._latencies.add(outcome.timing.ttfb + outcome.timing.download)
        if outcome.retry:
            self._retries += 1
            now = time.perf_counter()
            # a stored answer is replayed as it was, only without the waiting
            wait = self._backoff(request.attempt) if fetched else 0.0
            if outcome.retry_after is not None and fetched:
                pause = min(outcome.retry_after, self.settings.retry_after_cap)
                self.politeness.slow_down(origin, pause, now)
                wait = max(wait, pause)
            retry = replace(request, attempt=request.attempt + 1)
            self.frontier.retry_later(retry, now + wait)
            return
        if outcome.redirect is not None:
            hop = redirect_hop(request, outcome.redirect, outcome.status)
            self._count_refused([self.frontier.offer_redirect(request, hop)])
        self._commit_page(outcome)

    def _commit_page(self, outcome: Outcome) -> None:
        if self.observer is not None:
            self.observer(outcome)
        if outcome.error is None:
            self._ok += 1
        else:
            self._failed += 1
            self._errors[outcome.error] += 1
        if outcome.traceback is not None:
            reason = outcome.error or outcome.traceback.rstrip().rpartition("\n")[2]
            if reason not in self._tracebacks:
                self._tracebacks[reason] = outcome.traceback
                if self.on_spider_error is not None:
                    self.on_spider_error(reason, outcome.traceback)
        write = self.sink.write
        for item in outcome.items:
            write(item)
        self._items += len(outcome.items)
        self._dropped += outcome.dropped
        if self.state is not None:
            self.state.done.append(outcome.request)
        frontier = self.frontier
        self._count_refused(frontier.offer_links(outcome.follow, outcome.request.depth + 1))
        if frontier.flush_each_page:
            self.sink.flush()
        frontier.complete(outcome.request, outcome.error is None, len(outcome.items),
                          outcome.error)

    def _commit_robots(self, outcome: Outcome, fetched: bool = True) -> None:
        request = outcome.request
        origin = origin_of(request.hops[0] if request.hops else request.url)
        politeness = self.politeness
        if outcome.retry:
            self._retries += 1
            # a stored answer is replayed as it was, only without the waiting
            wait = self._backoff(request.attempt) if fetched else 0.0
            if outcome.retry_after is not None and fetched:
                wait = max(wait, min(outcome.retry_after, self.settings.retry_after_cap))
            retry = replace(request, attempt=request.attempt + 1)
            heapq.heappush(self._robots_later,
                           (time.perf_counter() + wait, next(self._tiebreak), retry))
        elif outcome.redirect is not None:
            if politeness.robots_redirect(origin):
                hop = Request(outcome.redirect, purpose="robots", hops=(*request.hops, request.url))
                self._robots_now.append(hop)
            else:  # RFC 9309: after five redirects robots.txt may be taken as unavailable
                politeness.set_robots(origin, 404, None)
        else:
            status = outcome.status if outcome.error is None else None
            politeness.set_robots(origin, status, outcome.text, outcome.error)
