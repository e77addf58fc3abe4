"""The library object that runs a crawl for scripts and the CLI alike: :class:`Crawler`.

It owns everything around the engine: where the crawl is kept (in memory, in a
SQLite state file that makes it resumable, or in a Redis frontier shared by many
workers), the output file, the sink, the progress display and the graceful stop.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from .cache import ResponseCache
from .engine import Engine
from .errors import UsageError, storage_error
from .fetchers.procutil import leave_if_reimporting
from .frontiers.journal import CrawlState, Resume
from .frontiers.redis_conn import DEFAULT_WAIT
from .models import Request
from .process import Processor
from .progress import Snapshot, progress_for
from .settings import CrawlSettings
from .sinks import (
    ListSink,
    ProjectingSink,
    Sink,
    open_sink,
    output_format,
    parse_fields,
    read_csv_header,
)
from .spiders import DefaultSpider, FunctionSpider, Spider, as_spider, load_spider
from .stats import Stats
from .urls import safe_url

ProgressArg = bool | Callable[[Snapshot], None] | None
Seed = str | Request
"""A seed: a URL (fetched with the spider's ``parse``) or a :class:`Request`."""
SITEMAP_CALLBACK = "_parse_sitemap"
"""The spider method a sitemap (or robots.txt) seed is parsed by."""

DEFAULT_LEASE = 60.0
"""Seconds a worker holds a leased URL by default (longer when ``timeout`` is)."""


class Crawler:
    """Runs one crawl, optionally durable (``state=``) or shared (``frontier=``).

    Args:
        settings: the crawl options.
        spider: a spider instance, class or function, or a ``"module:Name"``
            reference; default: one record per page (:class:`DefaultSpider`).
        sink: where items go. Default: the ``out`` file, or, without ``out``, a
            list kept in :attr:`items`.
        out: write items to this file (required with ``state``), in the format its
            extension names: ``.jsonl``/``.ndjson`` JSON lines, ``.json`` one JSON
            array, ``.csv`` CSV; JSON lines for any other.
        format: ``"jsonl"``, ``"json"`` or ``"csv"``: overrides ``out``'s extension.
        fields: keys to write, in order (a list or ``"a,b,c"``): the CSV header
            (default: the first item's keys), or for JSON the only keys kept.
        state: a SQLite file that keeps the crawl; the same crawl run again with
            the same file resumes it, and the output holds each record once.
        frontier: ``"redis://HOST:PORT/DB"``: share the crawl with every worker
            pointed at this Redis under the same ``job`` name.
        job: the shared crawl's name (with ``frontier``).
        lease: seconds a worker may hold a URL before others take it (``frontier``);
            it must be longer than ``settings.timeout`` (a lease must outlast a
            fetch). Default: 60, or twice the timeout when that is longer.
        redis_wait: seconds a worker waits for Redis when it becomes unreachable
            during the crawl (restart, failover, network) before it stops with
            :class:`~crawlkit.errors.FrontierUnavailable`.
        progress: ``True`` for the live display the CLI shows (a rich line on a
            terminal, log lines elsewhere), or a callable receiving each
            :class:`Snapshot` about twice a second; default: none.
        processor: replaces the default processing stage (for recording).
        notify: called with a line for humans when a durable crawl resumes
            (``"resuming: N done, M queued"``) or has nothing left to do.
        sitemaps: sitemap (or robots.txt) URLs whose pages are crawled: each adds
            the seed ``Request(url, callback="_parse_sitemap")``.
        on_spider_error: called with ``(reason, traceback)`` the first time each
            distinct spider error happens (the CLI prints them).

    After :meth:`run`, :attr:`resumed` holds what an earlier run had committed
    (``None`` for a fresh crawl) and :attr:`already_complete` says whether there
    was nothing left to do.
    """

    def __init__(
        self,
        settings: CrawlSettings,
        spider: Spider | type | Callable[..., Any] | str | None = None,
        sink: Sink | None = None,
        *,
        out: str | os.PathLike[str] | None = None,
        state: str | os.PathLike[str] | None = None,
        frontier: str | None = None,
        job: str | None = None,
        lease: float | None = None,
        redis_wait: float = DEFAULT_WAIT,
        progress: ProgressArg = None,
        processor: Processor | None = None,
        notify: Callable[[str], None] | None = None,
        format: str | None = None,
        fields: str | Sequence[str] | None = None,
        sitemaps: Iterable[str] = (),
        on_spider_error: Callable[[str, str], None] | None = None,
    ) -> None:
        if state is not None and frontier is not None:
            raise UsageError("--state and --frontier are exclusive: Redis keeps the crawl")
        if frontier is not None and not job:
            raise UsageError("--frontier needs --job NAME (the same in every worker)")
        if job and frontier is None:
            raise UsageError("--job needs --frontier redis://HOST:PORT/DB")
        if state is not None and out is None:
            raise UsageError("--state needs --out FILE (the output is resumed with the crawl)")
        if sink is not None and out is not None:
            raise UsageError("pass sink= or out=, not both")
        if lease is not None and not lease > 0:
            raise UsageError(f"--lease must be positive, got {lease}")
        lease = _lease_for(settings.timeout, lease) if frontier is not None else lease
        if not redis_wait > 0:
            raise UsageError(f"--redis-wait must be positive, got {redis_wait}")
        if format is not None and out is None:
            raise UsageError("format= chooses the format of out=: pass out= too")
        self.format = output_format(out, format)
        self.fields = parse_fields(fields)
        self._fields_chosen = self.fields is not None  # else a resumed CSV's header sets them
        if state is not None and self.format == "json":
            raise UsageError("--state cannot resume a .json array (a killed crawl leaves it "
                             "unclosed): write .jsonl or .csv")
        self.sitemaps = tuple(Request(url, callback=SITEMAP_CALLBACK) for url in sitemaps)
        self.on_spider_error = on_spider_error
        self._header_written = False  # the resumed CSV output holds its header
        self.settings = settings
        self.spider_ref = spider if isinstance(spider, str) else _spider_ref(spider)
        self.spider = load_spider(spider) if isinstance(spider, str) else (
            DefaultSpider() if spider is None else as_spider(spider))
        self.items: list[Any] = []
        self.sink = sink
        self.out = None if out is None else Path(out)
        self.state = None if state is None else Path(state)
        self.frontier = frontier
        self.job = job
        self.lease = DEFAULT_LEASE if lease is None else lease
        self.redis_wait = redis_wait
        self.progress = progress
        self.processor = processor
        self.notify = notify
        self.resumed: Resume | None = None
        self.pending = 0
        self.already_complete = False
        # guards _engine and _stop: request_stop() may come from a signal handler
        # or another thread while run() creates the engine
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._stop = False

    def request_stop(self) -> None:
        """Take no new URL; finish the requests in flight, commit, and return (thread-safe)."""
        with self._lock:
            self._stop = True
            engine = self._engine
        if engine is not None:
            engine.request_stop()

    def _stop_requested(self) -> bool:
        # no lock: this runs in the main thread, where request_stop() may run as a
        # signal handler that takes the lock; reading one bool is atomic
        return self._stop

    def fingerprint(self, seeds: Sequence[Seed]) -> str:
        """What makes two runs the same crawl (mode, concurrency and limits may change)."""
        s = self.settings
        listed = [seed if isinstance(seed, str) else seed.to_dict() for seed in seeds]
        ident = {"seeds": listed, "follow": s.follow, "allow": list(s.allow),
                 "deny": list(s.deny), "any_host": not s.same_host, "max_depth": s.max_depth,
                 "spider": self.spider_ref}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def start_requests(self, seeds: Iterable[Seed] | None = None) -> list[Seed]:
        """The seeds a run starts from: ``seeds`` (URLs or Requests) or, when
        ``None``, the spider's ``start_requests()`` (its ``start_urls``, and its
        ``sitemap_urls`` parsed as sitemaps); then the ``sitemaps`` seeds.

        Raises:
            UsageError: no seed at all, or a seed's callback or errback is not a
                method of the spider.
            InvalidURL: a seed is not an absolute http(s) URL.
        """
        if seeds is not None:
            urls: list[Seed] = list(seeds)
        else:
            urls = list(_spider_start(self.spider))
        urls.extend(self.sitemaps)
        if not urls:
            raise UsageError("no URL to crawl: pass URLs, a sitemap, or a spider with "
                             "start_urls or sitemap_urls")
        for url in urls:
            if isinstance(url, Request):
                self._check_handlers(url)
            elif isinstance(url, str):
                safe_url(url)  # InvalidURL now, before a state or output file is touched
            else:
                raise UsageError(f"a seed is a URL or a Request, got {type(url).__name__}")
        return urls

    def _check_handlers(self, request: Request) -> None:
        for kind, name in (("callback", request.callback), ("errback", request.errback)):
            if name is not None and not callable(_handler(self.spider, name)):
                raise UsageError(f"start request {request.url!r}: the spider has no "
                                 f"{kind} method {name!r}")

    def run(self, seeds: Iterable[Seed] | None = None) -> Stats:
        """Crawl from ``seeds``: URLs or :class:`Request` objects (default: the
        spider's start requests, see :meth:`start_requests`).

        Raises:
            UsageError: no seed, a start request's callback is missing, or the
                state, frontier or output cannot be used (checked before any fetch;
                nothing is created or changed then).
            InvalidURL: a seed is not an absolute http(s) URL.
            FetcherError: the strategy's machinery failed.
            StorageError: the output or the state file could not be written (disk
                full, I/O error); with ``state`` the crawl resumes from its last commit.
            FrontierUnavailable: Redis stayed unreachable longer than ``redis_wait``.
        """
        leave_if_reimporting()  # a worker process re-running an unguarded script ends here
        urls = self.start_requests(seeds)
        self.resumed, self.pending, self.already_complete = None, 0, False
        with contextlib.ExitStack() as stack:
            cache = ResponseCache.open(self.settings)  # a bad cache fails before files change
            if cache is not None:
                stack.callback(cache.close)
            state = self._open_state(urls, stack)
            redis = self._open_frontier(urls)
            stream = self._open_output(state, stack)
            sink = self._sink(stream)
            if self.resumed is not None and self.notify is not None:
                c = self.resumed.counters
                done = c.get("ok", 0) + c.get("failed", 0)
                self.notify(f"already complete: {done} pages done; nothing to do"
                            if self.already_complete else
                            f"resuming: {done} done, {self.pending} queued")
            if self.already_complete:
                sink.close()
                assert self.resumed is not None
                return _stats_of(self.settings.mode, self.resumed)
            show = self._progress(stack)
            hooks: dict[str, Any] = {}
            if self.on_spider_error is not None and _ENGINE_REPORTS_SPIDER_ERRORS:
                hooks["on_spider_error"] = self.on_spider_error
            engine = Engine(self.settings, self.spider, sink, processor=self.processor,
                            state=state, state_stream=stream if state is not None else None,
                            frontier=redis, progress=show, cache=cache, **hooks)
            with self._lock:
                self._engine = engine
                if self._stop:
                    engine.request_stop()
            try:
                return engine.run(urls)  # type: ignore[arg-type,unused-ignore]
            finally:
                with self._lock:
                    self._engine = None
        raise AssertionError("unreachable")  # pragma: no cover

    def run_pages(self, stats: Stats) -> int:
        """Pages tried by this run alone (``stats`` also counts earlier runs')."""
        before = 0
        if self.resumed is not None:
            before = self.resumed.counters.get("ok", 0) + self.resumed.counters.get("failed", 0)
        return stats.pages - before

    def summary(self, stats: Stats) -> str:
        """:meth:`Stats.summary`, or for a resumed crawl this run's rate beside the totals."""
        if self.resumed is None:
            return stats.summary()
        pages = self.run_pages(stats)
        rate = pages / stats.elapsed if stats.elapsed > 0 else 0.0
        line = (f"crawlkit [{stats.mode}]: this run {pages} pages in {stats.elapsed:.2f}s "
                f"({rate:.1f} pages/s); crawl total {stats.pages_ok} ok, "
                f"{stats.pages_failed} failed, {stats.items} items")
        _, _, tail = stats.summary().partition(";")
        return line + (";" + tail if tail else "")

    def _open_state(self, seeds: Sequence[Seed], stack: contextlib.ExitStack) -> CrawlState | None:
        if self.state is None:
            return None
        assert self.out is not None
        if _same_file(self.state, self.out):
            raise UsageError(f"--out {str(self.out)!r} is the state file; use another file")
        fresh_file = not self.state.exists()
        if fresh_file:
            # the output must be writable before a state file is created for it
            try:
                with open(self.out, "ab"):
                    pass
            except OSError as exc:
                raise UsageError(f"cannot write --out {str(self.out)!r}: {exc.strerror}") from None
        state = CrawlState(self.state, self.fingerprint(seeds))
        stack.callback(state.close)
        resume = state.resume()
        if not resume.fresh:
            self.resumed = resume
            self.pending = state.pending_count()
            limit = self.settings.max_pages
            done = resume.counters.get("ok", 0) + resume.counters.get("failed", 0)
            self.already_complete = self.pending == 0 or (limit is not None and done >= limit)
        return state

    def _open_output(
        self, state: CrawlState | None, stack: contextlib.ExitStack
    ) -> IO[bytes] | None:
        self._header_written = False
        if self.out is None:
            return None
        out = self.out
        stream: IO[bytes]
        if state is not None and self.resumed is not None:
            try:
                stream = open(out, "r+b")  # noqa: SIM115 - closed by the sink
            except FileNotFoundError:
                raise UsageError(f"--state has progress but --out {str(out)!r} is gone") from None
            except OSError as exc:
                raise UsageError(f"cannot write --out {str(out)!r}: {exc.strerror}") from None
            try:
                state.check_output(out, stream)
                self._resume_header(stream, self.resumed.out_offset)
            except BaseException:
                stream.close()
                raise
            try:
                stream.truncate(self.resumed.out_offset)  # drop records not committed as done
                stream.seek(self.resumed.out_offset)
            except OSError as exc:
                stream.close()
                raise storage_error("--out", out, exc) from None
        else:
            try:
                stream = open(out, "w+b")  # noqa: SIM115 - closed by the sink; read to hash
            except OSError as exc:
                raise UsageError(f"cannot write --out {str(out)!r}: {exc.strerror}") from None
        stack.callback(stream.close)  # the sink closes it too; closing twice is harmless
        if state is not None:
            state.bind_output(out, stream)
        return stream

    def _open_frontier(self, seeds: Sequence[Seed]) -> Any:
        if self.frontier is None:
            return None
        from .frontiers.redis import RedisFrontier, connect, job_prefix
        from .frontiers.redis_conn import watch_job

        assert self.job is not None
        client = connect(self.frontier, self.redis_wait, self.notify)
        shared = RedisFrontier(self.settings, client, self.job, self.fingerprint(seeds),
                               lease=self.lease)
        watch_job(client, job_prefix(self.job) + "meta", self.job, stopping=self._stop_requested)
        return shared

    def _resume_header(self, stream: IO[bytes], offset: int) -> None:
        """A resumed CSV output keeps the header it has; ``fields`` must match it."""
        if self.format != "csv" or offset == 0:
            return
        stream.seek(0)
        header = read_csv_header(stream, offset)
        if header is None:
            raise UsageError(f"--out {str(self.out)!r} has no CSV header; use a new state file")
        if self.fields is not None and self.fields != header:
            raise UsageError(f"--fields {','.join(self.fields)} differ from the header of "
                             f"--out {str(self.out)!r} ({','.join(header)}); pass the same "
                             "fields or use a new state file")
        self.fields, self._header_written = header, True

    def _sink(self, stream: IO[bytes] | None) -> Sink:
        if self.sink is not None:
            return self.sink if self.fields is None else ProjectingSink(self.sink, self.fields)
        if stream is not None:
            return open_sink(stream, self.format, self.fields, owned=True,
                             header_written=self._header_written,
                             report=not self._fields_chosen)
        collected = ListSink()
        self.items = collected.items
        return collected if self.fields is None else ProjectingSink(collected, self.fields)

    def _progress(self, stack: contextlib.ExitStack) -> Callable[[Snapshot], None] | None:
        if self.progress is None or self.progress is False:
            return None
        if self.progress is True:
            shown = progress_for(quiet=False)
            stack.enter_context(shown)
            return shown
        return self.progress


_ENGINE_REPORTS_SPIDER_ERRORS = "on_spider_error" in inspect.signature(Engine).parameters
"""Whether the engine calls an ``on_spider_error(reason, traceback)`` hook."""


def _handler(spider: Spider, name: str) -> Any:
    """The spider method ``name`` (looked up on a wrapped spider object too)."""
    found = getattr(spider, name, None)
    if found is None:
        inner = getattr(spider, "inner", None)
        found = getattr(inner, name, None) if inner is not None else None
    return found


def _spider_start(spider: Spider) -> Iterable[Seed]:
    """The spider's own seeds: ``start_requests()`` when it has one, else its
    ``start_urls`` and its ``sitemap_urls`` (as sitemap requests)."""
    start = getattr(spider, "start_requests", None)
    if callable(start):
        out: Iterable[Seed] | None = start()
        return () if out is None else out
    urls: list[Seed] = list(spider.start_urls)
    urls += [Request(url, callback=SITEMAP_CALLBACK)
             for url in getattr(spider, "sitemap_urls", ())]
    return urls


def _lease_for(timeout: float, lease: float | None) -> float:
    """The lease a shared crawl uses; one shorter than a fetch may last is refused,
    since it would hand a page still being fetched to a second worker."""
    if lease is None:
        return max(DEFAULT_LEASE, 2 * timeout)
    if not lease > 0:
        raise UsageError(f"--lease must be positive, got {lease}")
    if lease <= timeout:
        raise UsageError(f"--lease {lease:g} must be longer than --timeout {timeout:g}: "
                         "a lease must outlast a fetch")
    return lease


def _same_file(a: Path, b: Path) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _spider_ref(spider: object) -> str | None:
    """A stable name for the spider, part of a durable crawl's identity."""
    if spider is None or isinstance(spider, DefaultSpider) or spider is DefaultSpider:
        return None
    if isinstance(spider, FunctionSpider):
        spider = spider.func
    is_named = isinstance(spider, type) or (callable(spider) and not isinstance(spider, Spider))
    target = spider if is_named else type(spider)
    module = getattr(target, "__module__", "?")
    return f"{module}:{getattr(target, '__qualname__', type(target).__qualname__)}"


def _stats_of(mode: str, resume: Resume) -> Stats:
    """The totals an earlier run committed, for a crawl with nothing left to do."""
    c = resume.counters
    return Stats(mode=mode, pages_ok=c.get("ok", 0), pages_failed=c.get("failed", 0),
                 items=c.get("items", 0), bytes=c.get("bytes", 0), retries=c.get("retries", 0),
                 errors=dict(c.get("errors", {})), refused=dict(c.get("refused", {})))
