"""The library entry point: :func:`crawl`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast, overload

from .crawler import Crawler, ProgressArg, Seed
from .errors import UsageError
from .models import Item, Request
from .settings import OPTIONS, CrawlOptions, CrawlSettings
from .sinks import Sink
from .spiders import Spider, as_spider
from .stats import Stats

if TYPE_CHECKING:
    from typing_extensions import Unpack


@dataclass(frozen=True)
class CrawlResult(Sequence[Item]):
    """The items a crawl produced (a sequence of dicts) and its :class:`Stats`."""

    items: list[Item]
    stats: Stats

    @overload
    def __getitem__(self, index: int) -> Item: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Item]: ...
    def __getitem__(self, index: int | slice) -> Item | Sequence[Item]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)


def crawl(
    urls_or_spider: Seed | Iterable[Seed] | Spider | type | Any = None,
    mode: str = "async",
    *,
    spider: Any = None,
    sink: Sink | None = None,
    out: str | os.PathLike[str] | None = None,
    state: str | os.PathLike[str] | None = None,
    frontier: str | None = None,
    job: str | None = None,
    lease: float | None = None,
    redis_wait: float = 60.0,
    progress: ProgressArg = None,
    format: str | None = None,
    fields: str | Sequence[str] | None = None,
    sitemaps: Iterable[str] = (),
    **options: Unpack[CrawlOptions],
) -> CrawlResult:
    """Crawl and return what the spider produced.

    Args:
        urls_or_spider: one URL or :class:`Request`, an iterable of them, or a
            spider (instance, class or function) whose start requests (its
            ``start_urls`` and ``sitemap_urls``) are the seeds.
        mode: the fetch strategy, one of :data:`crawlkit.MODES` (or a registered
            or ``"module:Class"`` strategy).
        spider: the spider, when the first argument holds the URLs. Default: one
            record per page (:class:`crawlkit.DefaultSpider`).
        sink: where items go; by default they are collected and returned.
        out, state, frontier, job, lease, redis_wait, progress, format, fields,
            sitemaps: as in
            :class:`crawlkit.Crawler` (``out="items.csv", fields=["url", "title"]``
            writes CSV; ``state="crawl.db", out="items.jsonl"`` makes the crawl
            resumable; ``sitemaps=[url]`` crawls the pages a sitemap lists).
        **options: any :class:`CrawlSettings` field (:class:`CrawlOptions`), e.g.
            ``follow=True, max_pages=100``.

    Returns:
        A :class:`CrawlResult`: the items (empty when ``sink`` or ``out`` is given)
        and the stats.

    Raises:
        UsageError: bad options or no seed URL (``InvalidURL`` for a malformed seed).
        FetcherError: the strategy's machinery failed.
    """
    seeds: list[Seed]
    if isinstance(urls_or_spider, (str, Request)):
        seeds = [urls_or_spider]
    elif urls_or_spider is None or _is_spider_like(urls_or_spider):
        if urls_or_spider is not None:
            if spider is not None:
                raise UsageError("pass the spider once: positionally or as spider=")
            spider = urls_or_spider
        seeds = []
    else:
        seeds = list(cast(Iterable[Seed], urls_or_spider))
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(sorted(unknown))}")
    settings = CrawlSettings(mode=mode, **cast(dict[str, Any], options))
    the_spider = as_spider(spider)
    crawler = Crawler(settings, the_spider, sink, out=out, state=state, frontier=frontier,
                      job=job, lease=lease, redis_wait=redis_wait, progress=progress,
                      format=format, fields=fields, sitemaps=sitemaps)
    stats = crawler.run(seeds or None)
    return CrawlResult(crawler.items, stats)


def _is_spider_like(obj: object) -> bool:
    return isinstance(obj, (Spider, type)) or (callable(obj) and not isinstance(obj, Iterable))
