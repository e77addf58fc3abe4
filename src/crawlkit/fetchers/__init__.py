"""Fetch strategies, by name: one registry. A strategy's module is imported only
when it is chosen or one of its facts is asked for.

Built-in strategies are listed in :data:`STRATEGIES`; a distribution adds its own
under the ``crawlkit.fetchers`` entry-point group (``name = "module:Class"``); and
any ``"module:Class"`` works as a mode without registration.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from ..errors import UnknownMode
from .base import Fetcher

ENTRY_POINT_GROUP = "crawlkit.fetchers"

STRATEGIES: dict[str, str] = {
    "sync": "crawlkit.fetchers.sync:SyncFetcher",
    "threaded": "crawlkit.fetchers.threaded:ThreadedFetcher",
    "threadpool": "crawlkit.fetchers.threadpool:ThreadPoolFetcher",
    "multiprocess": "crawlkit.fetchers.multiprocess:MultiprocessFetcher",
    "async": "crawlkit.fetchers.aio:AsyncFetcher",
    "gevent": "crawlkit.fetchers.green:GeventFetcher",
}
"""The built-in strategies: name -> ``"module:Class"``."""

MODES: tuple[str, ...] = tuple(STRATEGIES)
"""Every built-in fetch strategy, by the name the CLI and :func:`crawlkit.crawl` accept."""


@cache
def _registered() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in STRATEGIES:
            found.setdefault(ep.name, ep.value)
    return found


def registry() -> dict[str, str]:
    """Every strategy by name: the built-ins, then those of installed distributions."""
    return {**STRATEGIES, **_registered()}


def known_modes() -> tuple[str, ...]:
    """The names :func:`get_fetcher` accepts (``"module:Class"`` aside)."""
    return tuple(registry())


def strategy_class(mode: str) -> type[Fetcher]:
    """The class behind ``mode`` (a name, or ``"module:Class"``), its module imported.

    Raises:
        UnknownMode: no such strategy, or it cannot be imported.
    """
    ref = registry().get(mode, mode)
    module_name, sep, class_name = ref.partition(":")
    if not sep:
        raise UnknownMode(f"unknown mode {mode!r}; choose one of {', '.join(known_modes())}")
    try:
        cls: type[Fetcher] = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownMode(f"cannot load the strategy {mode!r}: {exc}") from exc
    return cls


def modes_where(fact: str, value: object = True) -> tuple[str, ...]:
    """The registered modes whose class declares ``fact == value`` (imports each)."""
    return tuple(m for m in known_modes() if getattr(strategy_class(m), fact, None) == value)


def get_fetcher(mode: str) -> Fetcher:
    """A new, unstarted fetcher for ``mode`` (a name, or ``"module:Class"``).

    Raises:
        UnknownMode: ``mode`` is not a known strategy.
    """
    return strategy_class(mode)()


__all__ = ["MODES", "STRATEGIES", "Fetcher", "get_fetcher", "known_modes", "modes_where",
           "registry", "strategy_class"]
