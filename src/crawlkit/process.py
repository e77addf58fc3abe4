"""The per-page work every strategy runs: fetch result -> page -> spider -> outcome.

:class:`Processor` is pure (no I/O, no shared state), so a strategy may call it
in whichever thread or process suits it; the ``multiprocess`` and ``gevent``
strategies pickle it into their workers.

Each response goes to the spider method its request's ``callback`` names (``parse``
by default), each failure to the one its ``errback`` names (``failed``). Items go
through the spider's ``process_item`` here, in whichever process runs the spider.

Spider code never breaks a crawl: an exception it raises, ``SystemExit``
included (a spider calling ``sys.exit()``), makes the page a failed record
(``spider error: Type: message (file.py:42 in callback)``, the formatted traceback
in :attr:`Outcome.traceback`) in every strategy, and an item no sink could write (see
:func:`crawlkit.sinks.item_problem`) makes it a failed record whose reason starts
with ``item not serialisable:``; the page's other items and links are kept.
``KeyboardInterrupt`` is never caught here: it belongs to whoever runs the crawl.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .cache import raw_response
from .errors import Reason
from .models import Failure, FetchResult, Item, Outcome, Page, Request, Timing, is_textual
from .parse import content_type_of, decode_body, decode_html, extract, is_html
from .settings import CrawlSettings
from .sinks import item_problem
from .sitemaps import SitemapError
from .spiders import (
    SITEMAP_CALLBACK,
    DefaultSpider,
    Spider,
    check_callbacks,
    find_callback,
    has_pipeline,
    spider_name,
)
from .urls import resolve_link

__all__ = ["Processor", "check_callbacks", "describe_spider_error", "parse_retry_after",
           "spider_error"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
FINAL_ERRORS = frozenset(reason.value for reason in Reason if reason.final)
"""Fetch errors that another attempt cannot cure (:attr:`Reason.final`); every other
error is retried."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Processor:
    """Turns one :class:`FetchResult` into an :class:`Outcome`.

    Args:
        spider: the spider whose callbacks (``parse`` unless a request names another)
            and errbacks (``failed``) produce items, URLs and Requests, and whose
            ``process_item`` sees every item.
        settings: the crawl's settings (``follow``, ``max_redirects`` and ``retries``
            are used).
    """

    def __init__(self, spider: Spider, settings: CrawlSettings) -> None:
        self.spider = spider
        self.follow = settings.follow
        self.max_redirects = settings.max_redirects
        self.retries = settings.retries
        self.max_bytes = settings.max_bytes
        # the default records are built here from strings and ints the parse stage
        # made: nothing in them can be unwritable, so they skip the item check
        self._trusted = type(spider) is DefaultSpider
        # a response cache is written (and not only read): each outcome carries the
        # response back to the engine, which stores it
        self.keep_raw = settings.cache is not None and settings.cache_mode != "only"

    def __call__(self, result: FetchResult) -> Outcome:
        outcome = self._outcome(result)
        if result.set_cookies:  # for the engine's jar, whatever became of the page
            outcome = replace(outcome, set_cookies=result.set_cookies)
        if self.keep_raw and result.error is None and result.status is not None:
            return replace(outcome, raw=raw_response(result))
        return outcome

    def _outcome(self, result: FetchResult) -> Outcome:
        request = result.request
        timing = Timing(
            queued=max(0.0, result.started - request.queued_at) if request.queued_at else 0.0,
            ttfb=max(0.0, result.first_byte - result.started),
            download=max(0.0, result.finished - result.first_byte),
        )
        may_retry = request.attempt < self.retries
        if result.error is not None:
            if may_retry and not Reason.is_final(result.error):
                return self._retry(result, timing)
            if request.purpose == "robots":
                return Outcome(request, request.url, result.status, result.error, timing=timing)
            return self._failure(result, result.error, timing)
        status = result.status or 0
        if status in RETRY_STATUSES and may_retry:
            return self._retry(result, timing)
        if request.purpose == "robots":
            return self._robots(result, timing)
        if status in REDIRECT_STATUSES and "location" in result.headers:
            return self._redirect(result, timing)
        if status >= 400:
            return self._failure(result, f"http {status}", timing)
        return self._page(result, timing)

    def _retry(self, result: FetchResult, timing: Timing) -> Outcome:
        request = result.request
        error = result.error or f"http {result.status}"
        return Outcome(
            request, request.url, result.status, error, retry=True,
            retry_after=parse_retry_after(result.headers.get("retry-after")),
            nbytes=len(result.body), timing=timing,
        )

    def _robots(self, result: FetchResult, timing: Timing) -> Outcome:
        request = result.request
        status = result.status or 0
        target = None
        if status in REDIRECT_STATUSES and "location" in result.headers:
            target = resolve_link(request.url, result.headers["location"])
        text = decode_body(result.body, result.headers) if 200 <= status < 300 else None
        return Outcome(request, request.url, result.status, None, redirect=target, text=text,
                       nbytes=len(result.body), timing=timing)

    def refused(self, request: Request, reason: str) -> Outcome:
        """The outcome of a page the crawl refused to fetch (robots.txt, for one)."""
        return self._failure(FetchResult(request, None, {}, b"", reason), reason, Timing())

    def _redirect(self, result: FetchResult, timing: Timing) -> Outcome:
        request = result.request
        target = resolve_link(request.url, result.headers["location"])
        if target is None:
            return self._failure(result, Reason.BAD_REDIRECT.value, timing)
        if target == request.url or target in request.hops:
            return self._failure(result, Reason.REDIRECT_LOOP.value, timing)
        if len(request.hops) >= self.max_redirects:
            return self._failure(result, Reason.TOO_MANY_REDIRECTS.value, timing)
        page = Page(
            url=request.url,
            final_url=target,
            status=result.status or 0,
            headers=result.headers,
            text="",
            title=None,
            links=(),
            depth=request.depth,
            content_type=content_type_of(result.headers),
            body=result.body,
            request=request,
            base_url=request.url,
        )
        out = self._call("redirected", "callback", page, request.url)
        if out.error is not None:
            failed = self._failure(result, out.error, timing, traceback=out.traceback)
            return replace(failed, final_url=target, redirect=target)  # the target lives on
        if out.problem is not None:
            failed = self._failure(result, out.problem, timing, page.content_type,
                                   tuple(out.items), tuple(out.follow), dropped=out.dropped)
            return replace(failed, final_url=target, redirect=target)
        return Outcome(
            request=request,
            final_url=target,
            status=result.status,
            error=None,
            items=tuple(out.items),
            follow=tuple(out.follow),
            redirect=target,
            content_type=page.content_type,
            nbytes=len(result.body),
            timing=timing,
            dropped=out.dropped,
        )

    def _page(self, result: FetchResult, timing: Timing) -> Outcome:
        request = result.request
        started = time.perf_counter()
        headers = result.headers
        body = result.body
        content_type = content_type_of(headers)
        text = ""
        title: str | None = None
        links: tuple[str, ...] = ()
        base_url = request.url
        if is_html(content_type, body):
            text, utf8 = decode_html(body, headers)
            extracted = extract(text, request.url, utf8)
            title, links = extracted
            base_url = extracted.base_url
        elif is_textual(content_type):
            text = decode_body(body, headers)
        page = Page(
            url=request.url,
            final_url=request.url,
            status=result.status or 0,
            headers=headers,
            text=text,
            title=title,
            links=links,
            depth=request.depth,
            content_type=content_type,
            body=body,
            request=request,
            base_url=base_url,
        )
        out = self._call(request.callback or "parse", "callback", page, base_url)
        if out.error is not None:  # a spider bug is a failed page, not a crashed crawl
            return self._failure(result, out.error, timing, content_type=content_type,
                                 traceback=out.traceback)
        follow: tuple[str | Request, ...] = tuple(out.follow)
        if self.follow:
            follow = links + follow
        if out.problem is not None:
            return self._failure(result, out.problem, timing, content_type, tuple(out.items),
                                 follow, dropped=out.dropped)
        parse_time = time.perf_counter() - started
        return Outcome(
            request=request,
            final_url=request.url,
            status=result.status,
            error=None,
            items=tuple(out.items),
            follow=follow,
            content_type=content_type,
            nbytes=len(body),
            timing=Timing(timing.queued, timing.ttfb, timing.download, parse_time),
            dropped=out.dropped,
        )

    def _failure(
        self, result: FetchResult, error: str, timing: Timing, content_type: str = "",
        kept: tuple[Item, ...] = (), follow: tuple[str | Request, ...] = (), *,
        traceback: str | None = None, dropped: int = 0,
    ) -> Outcome:
        """A failed page: the errback's output, after ``kept`` items and ``follow``
        URLs the spider produced before the page failed (an unwritable item)."""
        request = result.request
        failure = Failure(
            url=request.url,
            final_url=request.url,
            status=result.status,
            error=error,
            depth=request.depth,
            request=request,
            traceback=traceback,
        )
        out = self._call(request.errback or "failed", "errback", failure, request.url)
        if out.error is not None:
            error = f"{error}; {out.error}"
            traceback = traceback or out.traceback
        elif out.problem is not None:
            error = f"{error}; {out.problem}"
        return Outcome(
            request=request,
            final_url=request.url,
            status=result.status,
            error=error,
            items=kept + tuple(out.items),
            follow=follow + tuple(out.follow),
            content_type=content_type,
            nbytes=len(result.body),
            timing=timing,
            traceback=traceback,
            dropped=dropped + out.dropped,
        )

    def _call(self, name: str, kind: str, arg: Page | Failure, base: str) -> _Output:
        """Run the spider's method ``name`` on ``arg`` and collect what it yields
        (``base`` resolves relative URLs). Whatever spider code raises (but
        ``KeyboardInterrupt``) becomes the output's ``error``, and the output
        gathered so far is dropped."""
        spider = self.spider
        out = _Output()
        handler = find_callback(spider, name)
        if handler is None:
            out.error = f"spider error: no {kind} {name!r} on {spider_name(spider)}"
            return out
        pipeline = spider.process_item if has_pipeline(spider) else None
        if name == SITEMAP_CALLBACK:  # a gzip sitemap inflates within the crawl's limit
            handler = functools.partial(handler, max_bytes=self.max_bytes)
        try:
            _collect(handler(arg), out, base, pipeline,
                     None if self._trusted and pipeline is None else item_problem)
        except BaseException as exc:
            if not _catchable(exc):
                raise
            out.items.clear()
            out.follow.clear()
            out.dropped = 0
            out.error, out.traceback = describe_spider_error(exc)
        return out


class _Output:
    """What one spider call produced (lives within one :meth:`Processor._call`)."""

    __slots__ = ("items", "follow", "problem", "error", "traceback", "dropped")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.follow: list[str | Request] = []
        self.problem: str | None = None
        """Why the first unwritable item was left out."""
        self.error: str | None = None
        """The spider error that failed the call (its output is then dropped)."""
        self.traceback: str | None = None
        self.dropped = 0
        """Items ``process_item`` dropped."""


_SINGLE = (dict, str, Request)


def _collect(
    output: Any, out: _Output, base: str, pipeline: Callable[[Item], Any] | None,
    check: Callable[[Item], str | None] | None = item_problem,
) -> None:
    """Sort a callback's output into ``out``: items (through ``pipeline``, then
    ``check``ed unless it is ``None``), URLs resolved against ``base``, Requests."""
    if output is None:
        return
    if isinstance(output, _SINGLE) or not hasattr(type(output), "__iter__"):
        output = (output,)  # a single value returned (a dataclass is not iterable)
    for value in output:
        if isinstance(value, dict):
            item: Item | None = value
        elif isinstance(value, str):
            url = resolve_link(base, value)
            if url is not None:
                out.follow.append(url)
            continue
        elif isinstance(value, Request):
            out.follow.append(value)
            continue
        elif value is None:
            continue
        else:
            item = _as_item(value)
        if item is None:
            out.error = _bad_yield(value, output)
            out.items.clear()
            out.follow.clear()
            out.dropped = 0
            return
        if pipeline is not None:
            processed = pipeline(item)
            if processed is None:
                out.dropped += 1
                continue
            item = processed if isinstance(processed, dict) else _as_item(processed)
            if item is None:
                raise TypeError(f"process_item returned {type(processed).__name__}, "
                                "not a dict, a dataclass or attrs instance, or None")
        reason = None if check is None else check(item)
        if reason is None:
            out.items.append(item)
        elif out.problem is None:
            out.problem = reason


def _as_item(value: Any) -> Item | None:
    """A dataclass or ``attrs`` instance as a dict (``None`` for anything else)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    attr = sys.modules.get("attr")  # attrs is optional: only a spider that uses it loads it
    if attr is not None and not isinstance(value, type) and attr.has(type(value)):
        return attr.asdict(value)  # type: ignore[no-any-return]
    return None


def _bad_yield(value: Any, output: Any) -> str:
    """The reason for a value a callback may not yield, and where it was yielded."""
    reason = (f"spider error: TypeError: a spider yields dicts, URLs, Requests, dataclass "
              f"or attrs instances or None, not {type(value).__name__}")
    frame = getattr(output, "gi_frame", None)  # a generator stands where it yielded
    if frame is not None:
        reason += f" ({os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno} " \
                  f"in {frame.f_code.co_name})"
    return reason


def _catchable(exc: BaseException) -> bool:
    """False for what spider code must never swallow: Ctrl-C, and a greenlet's kill."""
    if isinstance(exc, KeyboardInterrupt):
        return False
    greenlet = sys.modules.get("greenlet")
    return greenlet is None or not isinstance(exc, greenlet.GreenletExit)


_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    os.path.abspath(path) + os.sep
    for path in {_HERE, *(sysconfig.get_paths()[key] for key in ("stdlib", "purelib",
                                                                  "platlib"))}
)


def describe_spider_error(exc: BaseException) -> tuple[str, str | None]:
    """The record reason for an exception raised by spider code, saying where it was
    raised, and its formatted traceback (``None`` for a :class:`SitemapError`, whose
    message is the whole story)."""
    if isinstance(exc, SitemapError):
        return str(exc), None
    tb = exc.__traceback__
    here = __file__
    while tb is not None and tb.tb_frame.f_code.co_filename == here:
        tb = tb.tb_next  # the processing stage's own frames are no help to the spider's author
    frames = traceback.extract_tb(tb)
    reason = spider_error(exc)
    where = _spider_frame(frames)
    if where is not None:
        reason += f" ({os.path.basename(where.filename)}:{where.lineno} in {where.name})"
    return reason, "".join(traceback.format_exception(type(exc), exc, tb))


def _spider_frame(frames: traceback.StackSummary) -> traceback.FrameSummary | None:
    """The frame to name in a reason: the innermost one in the spider author's own
    code (not crawlkit, the standard library or installed packages), else the
    outermost outside crawlkit (the callback), else the innermost."""
    for frame in reversed(frames):
        if not os.path.abspath(frame.filename).startswith(_LIBRARY_DIRS):
            return frame
    for frame in frames:
        if not os.path.abspath(frame.filename).startswith(_HERE + os.sep):
            return frame
    return frames[-1] if frames else None


def spider_error(exc: BaseException) -> str:
    """The record reason for an exception raised by spider code (without where)."""
    if isinstance(exc, SystemExit):
        return f"spider error: SystemExit: {exc.code}"
    return f"spider error: {type(exc).__name__}: {exc}"
