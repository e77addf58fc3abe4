"""A deliberately broken strategy: it silently loses the items of every fifth page."""

from __future__ import annotations

from dataclasses import replace

from crawlkit.fetchers.sync import SyncFetcher


class LosingFetcher(SyncFetcher):
    name = "losing"

    def start(self, settings, processor):
        super().start(settings, processor)
        self.count = 0

    def completed(self, timeout=None):
        outcomes = super().completed(timeout)
        self.count += 1
        if self.count % 5 == 0:
            return [replace(o, items=()) for o in outcomes]
        return outcomes
