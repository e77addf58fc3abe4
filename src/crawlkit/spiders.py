"""Spiders: what to do with each page.

A request's response goes to the spider method its ``callback`` names
(:meth:`Spider.parse` by default) as a :class:`crawlkit.Page`; a request that
fails goes to the method its ``errback`` names (:meth:`Spider.failed` by
default) as a :class:`crawlkit.Failure`. Callbacks yield *items* (dicts,
dataclass or ``attrs`` instances, written to the output), *URLs* (strings,
followed with the default callback; relative URLs are resolved against the page)
and :class:`crawlkit.Request` objects. Each item goes through
:meth:`Spider.process_item` before it is written.

With the ``multiprocess`` and ``gevent`` strategies the spider runs in worker
processes, so it must be picklable and importable: define it at module level.

Items are JSON values (see :mod:`crawlkit.sinks` for exactly which); an item
that is not, ``NaN`` included, is dropped and its page becomes a failed record
(``item not serialisable: ...``). An exception a spider raises, ``SystemExit``
from ``sys.exit()`` included, makes the page a failed record
(``spider error: ...``, with where it was raised) in every strategy; it never
stops the crawl.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidURL, SpiderLoadError, UsageError
from .models import Failure, Item, Page, Request
from .sitemaps import parse_sitemap, sitemaps_in_robots

SpiderOutput = Iterable["Item | str | Request | Any"]
"""What a callback returns: items, URLs and Requests (or ``None`` for nothing)."""

SITEMAP_CALLBACK = "_parse_sitemap"
"""The callback of sitemap requests (robots.txt files, sitemaps and indexes)."""

SITEMAP_MAX_BYTES = 50 * 1024 * 1024
"""The largest sitemap read, once inflated, when no crawl says otherwise (the
sitemaps.org limit); a crawl passes its ``max_bytes``."""


class Spider:
    """Base class for spiders. Override :meth:`parse`, and :meth:`failed` if needed;
    any other method can be a request's ``callback`` or ``errback``.

    Attributes:
        start_urls: seeds used when the spider is passed to :func:`crawlkit.crawl`
            without URLs.
        sitemap_urls: sitemaps (or robots.txt files, whose ``Sitemap:`` lines are
            read) whose pages are crawled, after ``start_urls``.
        sitemap_rules: ``(regex, callback)`` pairs routing sitemap entries: an entry
            goes to the callback of the first regex found in its URL, and is skipped
            when none matches. No rules: every entry goes to :meth:`parse`.
    """

    start_urls: Sequence[str] = ()
    sitemap_urls: Sequence[str] = ()
    sitemap_rules: Sequence[tuple[str | re.Pattern[str], str | Callable[..., Any]]] = ()

    def start_requests(self) -> Iterable[Request]:
        """The requests a crawl starts from when it is given no URLs: one per
        ``start_urls`` entry, then one per ``sitemap_urls`` entry (read by
        :meth:`_parse_sitemap`)."""
        for url in self.start_urls:
            yield Request(url)
        for url in self.sitemap_urls:
            yield Request(url, callback=SITEMAP_CALLBACK)

    def parse(self, page: Page) -> SpiderOutput:
        """Yield items and URLs or Requests to follow found on ``page``."""
        return ()

    def failed(self, failure: Failure) -> SpiderOutput:
        """Yield items or URLs for a page that failed. The default yields nothing."""
        return ()

    def process_item(self, item: Item) -> Item | None:
        """Every item before it is written: return it, a changed item, or ``None``
        to drop it (counted in ``stats.dropped``). Runs wherever the spider runs."""
        return item

    def _parse_sitemap(self, page: Page, max_bytes: int = SITEMAP_MAX_BYTES) -> Iterator[Request]:
        """The callback of sitemap requests: a robots.txt yields a request per
        ``Sitemap:`` line, an index a request per sitemap, a urlset a request per
        page routed by ``sitemap_rules``. A gzip sitemap inflates to ``max_bytes``
        at most.

        Raises:
            SitemapError: the body is not a readable sitemap (the page's reason).
        """
        if urlsplit(page.url).path.endswith("/robots.txt"):
            for url in sitemaps_in_robots(page.text):
                yield from _request(page.urljoin(url), SITEMAP_CALLBACK)
            return
        sitemap = parse_sitemap(page.body, max_bytes)
        if sitemap.kind == "sitemapindex":
            for url in sitemap.locs:
                yield from _request(page.urljoin(url), SITEMAP_CALLBACK)
            return
        rules = _compiled_rules(self.sitemap_rules)
        for url in sitemap.locs:
            if not rules:
                yield from _request(page.urljoin(url), None)
                continue
            for pattern, callback in rules:
                if pattern.search(url):
                    yield from _request(page.urljoin(url), callback)
                    break

    def redirected(self, page: Page) -> SpiderOutput:
        """Yield items or URLs for a 3xx response. ``page.final_url`` is the target,
        which is crawled as a page of its own. The default yields nothing."""
        return ()


def _request(url: str, callback: str | Callable[..., Any] | None) -> Iterator[Request]:
    """A request for a sitemap entry; none for an entry that is not an http(s) URL."""
    try:
        yield Request(url, callback)
    except InvalidURL:
        return


def _compiled_rules(
    rules: Sequence[tuple[str | re.Pattern[str], str | Callable[..., Any]]],
) -> list[tuple[re.Pattern[str], str | Callable[..., Any]]]:
    # re.compile keeps its own cache, so a sitemap of 50,000 entries compiles each rule once
    return [(re.compile(regex), callback) for regex, callback in rules]


class DefaultSpider(Spider):
    """One record per URL tried, failed ones included.

    Each record has ``url`` (as requested), ``final_url`` (the redirect target for
    a 3xx response, which gets a record of its own, else ``url``),
    ``status``, ``title``, ``depth``, ``content_type``, ``links`` (how many) and
    ``error`` (``None`` on success, a short reason otherwise).
    """

    def parse(self, page: Page) -> SpiderOutput:
        yield {
            "url": page.url,
            "final_url": page.final_url,
            "status": page.status,
            "title": page.title,
            "depth": page.depth,
            "content_type": page.content_type,
            "links": len(page.links),
            "error": None,
        }

    def redirected(self, page: Page) -> SpiderOutput:
        return self.parse(page)

    def failed(self, failure: Failure) -> SpiderOutput:
        yield {
            "url": failure.url,
            "final_url": failure.final_url,
            "status": failure.status,
            "title": None,
            "depth": failure.depth,
            "content_type": None,
            "links": 0,
            "error": failure.error,
        }


class FunctionSpider(Spider):
    """Adapts a plain function ``f(page) -> iterable of items/URLs`` to a spider.

    The function may also return a single dict, or ``None``.
    """

    def __init__(self, func: Callable[[Page], Any]) -> None:
        self.func = func

    def parse(self, page: Page) -> SpiderOutput:
        out = self.func(page)
        if out is None:
            return ()
        if isinstance(out, (dict, str)):
            return (out,)
        return out  # type: ignore[no-any-return]


def as_spider(obj: object) -> Spider:
    """Turn a spider instance, spider class, or function into a :class:`Spider`.

    Raises:
        SpiderLoadError: ``obj`` is none of those.
    """
    if obj is None:
        return DefaultSpider()
    if isinstance(obj, Spider):
        return obj
    if inspect.isclass(obj) and issubclass(obj, Spider):
        return obj()
    if inspect.isclass(obj) and callable(getattr(obj, "parse", None)):
        instance = obj()
        return _DuckSpider(instance)
    if callable(obj):
        return FunctionSpider(obj)
    raise SpiderLoadError(f"{obj!r} is not a spider: pass a Spider subclass or a function")


class _DuckSpider(Spider):
    """Wraps a class that has ``parse`` (and maybe ``failed``, ``process_item``,
    ``start_requests`` and other callbacks) but does not subclass Spider."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.start_urls = tuple(getattr(inner, "start_urls", ()))
        self.sitemap_urls = tuple(getattr(inner, "sitemap_urls", ()))
        self.sitemap_rules = tuple(getattr(inner, "sitemap_rules", ()))

    def __getattr__(self, name: str) -> Any:
        # only for names the wrapper lacks: the inner spider's own callbacks
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def start_requests(self) -> Iterable[Request]:
        handler = getattr(self.inner, "start_requests", None)
        return handler() if handler is not None else super().start_requests()

    def process_item(self, item: Item) -> Item | None:
        handler = getattr(self.inner, "process_item", None)
        return handler(item) if handler is not None else item

    def parse(self, page: Page) -> SpiderOutput:
        return self.inner.parse(page)  # type: ignore[no-any-return]

    def failed(self, failure: Failure) -> SpiderOutput:
        handler = getattr(self.inner, "failed", None)
        return handler(failure) if handler is not None else ()

    def redirected(self, page: Page) -> SpiderOutput:
        handler = getattr(self.inner, "redirected", None)
        return handler(page) if handler is not None else ()


def spider_name(spider: Spider) -> str:
    """The class name of a spider as its author wrote it (a wrapped one's own name)."""
    if isinstance(spider, _DuckSpider):
        return type(spider.inner).__name__
    if isinstance(spider, FunctionSpider):
        return getattr(spider.func, "__name__", type(spider).__name__)
    return type(spider).__name__


def has_pipeline(spider: Spider) -> bool:
    """True when ``spider`` changes or drops items (its ``process_item`` is its own),
    so a crawl without one pays nothing per item."""
    if isinstance(spider, _DuckSpider):
        return callable(getattr(spider.inner, "process_item", None))
    return getattr(type(spider), "process_item", None) is not Spider.process_item


def find_callback(spider: Spider, name: str) -> Callable[..., Any] | None:
    """The spider method called ``name``, or ``None`` when there is none."""
    if name.startswith("__"):
        return None
    handler = getattr(spider, name, None)
    return handler if callable(handler) else None


def check_callbacks(spider: Spider, request: Request) -> None:
    """Check that ``spider`` has the callback and errback ``request`` names.

    Raises:
        UsageError: a method the request names is not on the spider.
    """
    for kind, name in (("callback", request.callback or "parse"),
                       ("errback", request.errback or "failed")):
        if find_callback(spider, name) is None:
            raise UsageError(f"no {kind} {name!r} on {spider_name(spider)} "
                             f"(requested for {request.url})")


def load_spider(ref: str) -> Spider:
    """Load a spider from ``"package.module:Name"`` or ``"path/to/file.py:Name"``.

    A module is looked up on ``sys.path``, then in the current directory (so the
    installed ``crawlkit`` command finds ``myspiders:Name`` as ``python -m
    crawlkit`` does). A file is imported as a module named after it, from its
    directory, which joins ``sys.path`` so that worker processes (the
    ``multiprocess`` and ``gevent`` strategies) import it the same way.

    Raises:
        SpiderLoadError: the reference is malformed, the module or file cannot be
            imported, or the name is missing or not a spider.
    """
    import os

    module_name, sep, attr = ref.rpartition(":")
    if not sep or not module_name or not attr:
        raise SpiderLoadError(f"spider must look like 'module:Name' or 'file.py:Name', "
                              f"got {ref!r}")
    if module_name.endswith(".py") or "/" in module_name or os.sep in module_name:
        module = _import_file(module_name)
    else:
        _importable(os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except (ImportError, SyntaxError, TypeError, ValueError) as exc:
            # TypeError and ValueError: a name import_module refuses, e.g. '.spiders'
            raise SpiderLoadError(f"cannot import spider module {module_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError as exc:
        raise SpiderLoadError(f"{module_name!r} has no attribute {attr!r}") from exc
    return as_spider(obj)


def _importable(directory: str) -> None:
    """Put ``directory`` (absolute) at the end of ``sys.path``, where worker processes
    find it too; last, so that its files never shadow a module of the standard
    library or of an installed package."""
    import sys

    if directory not in sys.path:
        sys.path.append(directory)


def _import_file(path_text: str) -> Any:
    """Import ``path_text`` (a ``.py`` file) as the module named after the file."""
    import sys
    from pathlib import Path

    path = Path(path_text)
    if path.suffix != ".py":
        raise SpiderLoadError(f"spider file {path_text!r} must end in .py")
    if not path.is_file():
        raise SpiderLoadError(f"spider file {path_text!r} does not exist")
    name = path.stem
    if not name.isidentifier():
        raise SpiderLoadError(f"spider file {path_text!r}: {name!r} is not a module name; "
                              "rename the file")
    resolved = path.resolve()
    known = sys.modules.get(name)
    if known is not None:
        if Path(getattr(known, "__file__", None) or "").resolve() != resolved:
            raise SpiderLoadError(f"spider file {path_text!r}: a module named {name!r} is "
                                  "already imported; rename the file")
        return known
    _importable(str(resolved.parent))
    try:
        module = importlib.import_module(name)
    except (ImportError, SyntaxError) as exc:
        raise SpiderLoadError(f"cannot import spider file {path_text!r}: {exc}") from exc
    if Path(getattr(module, "__file__", None) or "").resolve() != resolved:
        raise SpiderLoadError(f"spider file {path_text!r}: the name {name!r} is taken by "
                              "another module; rename the file")
    return module
