"""The registry of fetch strategies: one table of names, the entry points of
installed distributions, and the facts each strategy class declares.

Built-in strategies are listed in :data:`STRATEGIES`, and ``auto`` (which picks
one of them while the crawl runs) in :data:`CHOOSERS`; a distribution adds its own
under the ``crawlkit.fetchers`` entry-point group (``name = "module:Class"``); and
any ``"module:Class"`` works as a mode without registration. A strategy's module
is imported only when it is chosen or one of its facts is asked for, so this
module imports nothing of crawlkit's but its errors.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from .errors import UnknownMode

ENTRY_POINT_GROUP = "crawlkit.fetchers"

STRATEGIES: dict[str, str] = {
    "sync": "crawlkit.fetchers.sync:SyncFetcher",
    "threaded": "crawlkit.fetchers.threaded:ThreadedFetcher",
    "threadpool": "crawlkit.fetchers.threadpool:ThreadPoolFetcher",
    "multiprocess": "crawlkit.fetchers.multiprocess:MultiprocessFetcher",
    "processes": "crawlkit.fetchers.processes:ProcessesFetcher",
    "async": "crawlkit.fetchers.aio:AsyncFetcher",
    "gevent": "crawlkit.fetchers.green:GeventFetcher",
}
"""The built-in strategies: name -> ``"module:Class"``."""

MODES: tuple[str, ...] = tuple(STRATEGIES)
"""Every built-in fetch strategy, by the name the CLI and :func:`crawlkit.crawl` accept."""

CHOOSERS: dict[str, str] = {
    "auto": "crawlkit.fetchers.auto:AutoFetcher",
}
"""Built-in modes that run one of the strategies above, chosen while the crawl runs:
name -> ``"module:Class"``. Accepted wherever a mode is; not in :data:`MODES`, which
lists the strategies themselves (every one is measured and tested on its own)."""


@cache
def _registered() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in STRATEGIES and ep.name not in CHOOSERS:
            found.setdefault(ep.name, ep.value)
    return found


def registry() -> dict[str, str]:
    """Every mode by name: the built-in strategies, ``auto``, then the strategies of
    installed distributions."""
    return {**STRATEGIES, **CHOOSERS, **_registered()}


def known_modes() -> tuple[str, ...]:
    """The names :func:`get_fetcher` accepts (``"module:Class"`` aside)."""
    return tuple(registry())


def strategy_class(mode: str) -> type:
    """The strategy class (a :class:`~crawlkit.fetchers.Fetcher`) behind ``mode`` (a
    name, or ``"module:Class"``), its module imported.

    Raises:
        UnknownMode: no such strategy, or it cannot be imported.
    """
    ref = registry().get(mode, mode)
    module_name, sep, class_name = ref.partition(":")
    if not sep:
        raise UnknownMode(f"unknown mode {mode!r}; choose one of {', '.join(known_modes())}")
    try:
        cls: type = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownMode(f"cannot load the strategy {mode!r}: {exc}") from exc
    return cls


def modes_where(fact: str, value: object = True) -> tuple[str, ...]:
    """The registered modes whose class declares ``fact == value`` (imports each)."""
    return tuple(m for m in known_modes() if getattr(strategy_class(m), fact, None) == value)
