"""The per-page work every strategy runs: fetch result -> page -> spider -> outcome.

:class:`Processor` is pure (no I/O, no shared state), so a strategy may call it
in whichever thread or process suits it; the ``multiprocess`` and ``gevent``
strategies pickle it into their workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timezone
from email.utils import parsedate_to_datetime

from .errors import Reason
from .models import Failure, FetchResult, Item, Outcome, Page, Request, Timing
from .parse import content_type_of, decode_body, extract, is_html
from .settings import CrawlSettings
from .spiders import Spider
from .urls import resolve_link

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
        spider: the spider whose ``parse``/``failed`` produce items and URLs.
        settings: the crawl's settings (``follow`` and ``max_redirects`` are used).
    """

    def __init__(self, spider: Spider, settings: CrawlSettings) -> None:
        self.spider = spider
        self.follow = settings.follow
        self.max_redirects = settings.max_redirects
        self.retries = settings.retries

    def __call__(self, result: FetchResult) -> Outcome:
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
        )
        try:
            items, urls = _split(self.spider.redirected(page), request.url)
        except Exception as exc:
            return self._failure(result, f"spider error: {type(exc).__name__}: {exc}", timing)
        return Outcome(
            request=request,
            final_url=target,
            status=result.status,
            error=None,
            items=items,
            follow=urls,
            redirect=target,
            content_type=page.content_type,
            nbytes=len(result.body),
            timing=timing,
        )

    def _page(self, result: FetchResult, timing: Timing) -> Outcome:
        request = result.request
        started = time.perf_counter()
        content_type = content_type_of(result.headers)
        text = ""
        title: str | None = None
        links: tuple[str, ...] = ()
        if is_html(content_type, result.body):
            text = decode_body(result.body, result.headers)
            title, links = extract(text, request.url)
        page = Page(
            url=request.url,
            final_url=request.url,
            status=result.status or 0,
            headers=result.headers,
            text=text,
            title=title,
            links=links,
            depth=request.depth,
            content_type=content_type,
        )
        try:
            items, urls = _split(self.spider.parse(page), request.url)
        except Exception as exc:  # a spider bug is a failed page, not a crashed crawl
            error = f"spider error: {type(exc).__name__}: {exc}"
            return self._failure(result, error, timing, content_type=content_type)
        follow = links + urls if self.follow else urls
        parse_time = time.perf_counter() - started
        return Outcome(
            request=request,
            final_url=request.url,
            status=result.status,
            error=None,
            items=items,
            follow=follow,
            content_type=content_type,
            nbytes=len(result.body),
            timing=Timing(timing.queued, timing.ttfb, timing.download, parse_time),
        )

    def _failure(
        self, result: FetchResult, error: str, timing: Timing, content_type: str = ""
    ) -> Outcome:
        request = result.request
        failure = Failure(
            url=request.url,
            final_url=request.url,
            status=result.status,
            error=error,
            depth=request.depth,
        )
        try:
            items, urls = _split(self.spider.failed(failure), request.url)
        except Exception as exc:
            items, urls = (), ()
            error = f"{error}; spider error: {type(exc).__name__}: {exc}"
        return Outcome(
            request=request,
            final_url=request.url,
            status=result.status,
            error=error,
            items=items,
            follow=urls,
            content_type=content_type,
            nbytes=len(result.body),
            timing=timing,
        )


def _split(output: Iterable[Item | str], base: str) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    items: list[Item] = []
    urls: list[str] = []
    for value in output or ():
        if isinstance(value, str):
            url = resolve_link(base, value)
            if url is not None:
                urls.append(url)
        elif isinstance(value, dict):
            items.append(value)
        else:
            raise TypeError(f"spiders yield dicts or URL strings, not {type(value).__name__}")
    return tuple(items), tuple(urls)
