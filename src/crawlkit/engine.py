"""The crawl engine: frontier -> fetcher -> processor -> sink, the same for every strategy.

The engine runs in the caller's thread and is the only code that touches the
frontier, the sink and the counters, so none of them needs a lock. It keeps the
fetcher fed up to the concurrency limit and commits each outcome as it arrives:
items to the sink, URLs and redirect targets to the frontier.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from .fetchers import Fetcher, get_fetcher
from .frontier import Frontier
from .models import Outcome
from .process import Processor
from .settings import CrawlSettings
from .sinks import Sink
from .spiders import Spider
from .stats import Stats


class Engine:
    """Runs one crawl.

    Args:
        settings: validated crawl settings (the mode picks the fetcher).
        spider: the spider run on every page.
        sink: receives every item, from this thread only.
        fetcher: a strategy instance; by default the one ``settings.mode`` names.
        observer: called with every outcome as it is committed (for measurements).
        processor: replaces the default ``Processor(spider, settings)`` (for recording).
    """

    def __init__(
        self,
        settings: CrawlSettings,
        spider: Spider,
        sink: Sink,
        fetcher: Fetcher | None = None,
        observer: Callable[[Outcome], None] | None = None,
        processor: Processor | None = None,
    ) -> None:
        self.settings = settings
        self.spider = spider
        self.sink = sink
        self.fetcher = fetcher if fetcher is not None else get_fetcher(settings.mode)
        self.frontier = Frontier(settings)
        self.observer = observer
        self.processor = processor if processor is not None else Processor(spider, settings)
        self._errors: Counter[str] = Counter()
        self._ok = 0
        self._failed = 0
        self._items = 0
        self._bytes = 0
        self._latencies: list[float] = []

    def run(self, seeds: Iterable[str]) -> Stats:
        """Crawl from ``seeds`` until the frontier is empty or a limit is reached.

        Raises:
            InvalidURL: a seed is not an absolute http(s) URL (checked before any fetch).
            FetcherError: the strategy's machinery failed.
        """
        for seed in seeds:
            self.frontier.add_seed(seed)
        processor = self.processor
        fetcher = self.fetcher
        limit = self.settings.effective_concurrency
        in_flight = 0
        begun = time.perf_counter()
        fetcher.start(self.settings, processor)
        started = time.perf_counter()
        try:
            while True:
                while in_flight < limit:
                    request = self.frontier.pop()
                    if request is None:
                        break
                    fetcher.submit(request)
                    in_flight += 1
                if in_flight == 0:
                    break
                for outcome in fetcher.completed():
                    in_flight -= 1
                    self._commit(outcome)
        finally:
            fetcher.close()
            self.sink.close()
        return Stats(
            mode=self.settings.mode,
            pages_ok=self._ok,
            pages_failed=self._failed,
            items=self._items,
            bytes=self._bytes,
            elapsed=time.perf_counter() - started,
            startup=started - begun,
            errors=dict(self._errors),
            refused=dict(self.frontier.refused),
            left_queued=self.frontier.left_behind(),
            fetch_latencies=tuple(self._latencies),
        )

    def _commit(self, outcome: Outcome) -> None:
        request = outcome.request
        if self.observer is not None:
            self.observer(outcome)
        self._bytes += outcome.nbytes
        self._latencies.append(outcome.timing.ttfb + outcome.timing.download)
        if outcome.redirect is not None:
            self.frontier.add_redirect(request, outcome.redirect)
        if outcome.error is None:
            self._ok += 1
        else:
            self._failed += 1
            self._errors[outcome.error] += 1
        write = self.sink.write
        for item in outcome.items:
            write(item)
        self._items += len(outcome.items)
        depth = request.depth + 1
        add = self.frontier.add_link
        for url in outcome.follow:
            add(url, depth)
