"""Spiders: what to do with each page.

A spider receives every downloaded page (:class:`crawlkit.Page`) in
:meth:`Spider.parse` and every failed one (:class:`crawlkit.Failure`) in
:meth:`Spider.failed`. Both yield *items* (dicts, written to the output) and
*URLs* (strings, offered to the frontier; relative URLs are resolved against the
page).

With the ``multiprocess`` and ``gevent`` strategies the spider runs in worker
processes, so it must be picklable and importable: define it at module level.

Items are JSON values (see :mod:`crawlkit.sinks` for exactly which); an item
that is not, ``NaN`` included, is dropped and its page becomes a failed record
(``item not serialisable: ...``). An exception a spider raises, ``SystemExit``
from ``sys.exit()`` included, makes the page a failed record
(``spider error: ...``) in every strategy; it never stops the crawl.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import SpiderLoadError
from .models import Failure, Item, Page

SpiderOutput = Iterable["Item | str"]


class Spider:
    """Base class for spiders. Override :meth:`parse`, and :meth:`failed` if needed.

    Attributes:
        start_urls: seeds used when the spider is passed to :func:`crawlkit.crawl`
            without URLs.
    """

    start_urls: Sequence[str] = ()

    def parse(self, page: Page) -> SpiderOutput:
        """Yield items (dicts) and URLs to follow (strings) found on ``page``."""
        return ()

    def failed(self, failure: Failure) -> SpiderOutput:
        """Yield items or URLs for a page that failed. The default yields nothing."""
        return ()

    def redirected(self, page: Page) -> SpiderOutput:
        """Yield items or URLs for a 3xx response. ``page.final_url`` is the target,
        which is crawled as a page of its own. The default yields nothing."""
        return ()


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
    """Wraps a class that has ``parse`` (and maybe ``failed``) but does not subclass Spider."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.start_urls = tuple(getattr(inner, "start_urls", ()))

    def parse(self, page: Page) -> SpiderOutput:
        return self.inner.parse(page)  # type: ignore[no-any-return]

    def failed(self, failure: Failure) -> SpiderOutput:
        handler = getattr(self.inner, "failed", None)
        return handler(failure) if handler is not None else ()

    def redirected(self, page: Page) -> SpiderOutput:
        handler = getattr(self.inner, "redirected", None)
        return handler(page) if handler is not None else ()


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
        except ImportError as exc:
            raise SpiderLoadError(f"cannot import spider module {module_name!r}: {exc}") from exc
        except SyntaxError as exc:
            raise SpiderLoadError(f"cannot import spider module {module_name!r}: {exc}") from None
        except (TypeError, ValueError) as exc:  # e.g. a relative name: '.spiders'
            raise SpiderLoadError(f"cannot import spider module {module_name!r}: {exc}") from None
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
    except ImportError as exc:
        raise SpiderLoadError(f"cannot import spider file {path_text!r}: {exc}") from exc
    except SyntaxError as exc:
        raise SpiderLoadError(f"cannot import spider file {path_text!r}: {exc}") from None
    if Path(getattr(module, "__file__", None) or "").resolve() != resolved:
        raise SpiderLoadError(f"spider file {path_text!r}: the name {name!r} is taken by "
                              "another module; rename the file")
    return module
