"""Fetch strategies: one module per strategy, the Fetcher protocol in :mod:`.base`,
and :func:`get_fetcher`. The registry of names lives in :mod:`crawlkit.strategies`
(re-exported here).
"""

from __future__ import annotations

from ..strategies import (
    ENTRY_POINT_GROUP,
    MODES,
    STRATEGIES,
    known_modes,
    modes_where,
    registry,
    strategy_class,
)
from .base import Fetcher


def get_fetcher(mode: str) -> Fetcher:
    """A new, unstarted fetcher for ``mode`` (a name, or ``"module:Class"``).

    Raises:
        UnknownMode: ``mode`` is not a known strategy.
    """
    fetcher: Fetcher = strategy_class(mode)()
    return fetcher


__all__ = [
    "ENTRY_POINT_GROUP",
    "MODES",
    "STRATEGIES",
    "Fetcher",
    "get_fetcher",
    "known_modes",
    "modes_where",
    "registry",
    "strategy_class",
]
