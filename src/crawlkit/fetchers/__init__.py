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
    """A new, unstarted fetcher for ``mode`` (a name, or ``"module:Class"``).

    Raises:
        UnknownMode: ``mode`` is not one of :data:`crawlkit.MODES`.
    """
    ref = STRATEGIES.get(mode, mode)
    module_name, sep, class_name = ref.partition(":")
    if not sep:
        raise UnknownMode(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownMode(f"cannot load the strategy {mode!r}: {exc}") from exc
    fetcher: Fetcher = cls()
    return fetcher


__all__ = ["STRATEGIES", "Fetcher", "get_fetcher"]
