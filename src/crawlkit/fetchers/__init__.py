"""Fetch strategies, by name. A strategy's module is imported only when chosen."""

from __future__ import annotations

import importlib

from ..errors import UnknownMode
from ..settings import MODES
from .base import Fetcher

STRATEGIES: dict[str, str] = {
    "sync": "crawlkit.fetchers.sync:SyncFetcher",
    "threaded": "crawlkit.fetchers.threaded:ThreadedFetcher",
    "threadpool": "crawlkit.fetchers.threadpool:ThreadPoolFetcher",
    "multiprocess": "crawlkit.fetchers.multiprocess:MultiprocessFetcher",
    "async": "crawlkit.fetchers.aio:AsyncFetcher",
    "gevent": "crawlkit.fetchers.green:GeventFetcher",
}
assert tuple(STRATEGIES) == MODES


def get_fetcher(mode: str) -> Fetcher:
    """A new, unstarted fetcher for ``mode``.

    Raises:
        UnknownMode: ``mode`` is not one of :data:`crawlkit.MODES`.
    """
    try:
        module_name, _, class_name = STRATEGIES[mode].partition(":")
    except KeyError:
        raise UnknownMode(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    fetcher: Fetcher = cls()
    return fetcher


__all__ = ["STRATEGIES", "Fetcher", "get_fetcher"]
