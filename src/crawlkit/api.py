"""The library entry point: :func:`crawl`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast, overload

from .engine import Engine
from .errors import UsageError
from .models import Item
from .settings import DEFAULT_USER_AGENT, CrawlSettings
from .sinks import ListSink, Sink
from .spiders import Spider, as_spider
from .stats import Stats


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
    urls_or_spider: str | Iterable[str] | Spider | type | Any = None,
    mode: str = "async",
    *,
    spider: Any = None,
    follow: bool = False,
    max_pages: int | None = None,
    max_depth: int | None = None,
    concurrency: int = 16,
    allow: Iterable[str] = (),
    deny: Iterable[str] = (),
    same_host: bool = True,
    timeout: float = 30.0,
    max_redirects: int = 10,
    max_bytes: int = 10 * 1024 * 1024,
    user_agent: str = DEFAULT_USER_AGENT,
    per_host: int = 8,
    delay: float = 0.0,
    jitter: bool = False,
    obey_robots: bool = True,
    retries: int = 2,
    retry_backoff: float = 0.5,
    retry_after_cap: float = 60.0,
    block_private: bool = False,
    sink: Sink | None = None,
) -> CrawlResult:
    """Crawl and return what the spider produced.

    Args:
        urls_or_spider: one URL, an iterable of URLs, or a spider (instance, class
            or function) whose ``start_urls`` are the seeds.
        mode: the fetch strategy, one of :data:`crawlkit.MODES`.
        spider: the spider, when the first argument holds the URLs. Default: one
            record per page (:class:`crawlkit.DefaultSpider`).
        follow: follow every link found, subject to the rules below.
        max_pages, max_depth, concurrency, allow, deny, same_host, timeout,
            max_redirects, max_bytes, user_agent, per_host, delay, jitter,
            obey_robots, retries, retry_backoff, retry_after_cap, block_private:
            as in :class:`CrawlSettings`.
        sink: where items go; by default they are collected and returned.

    Returns:
        A :class:`CrawlResult`: the items (empty when ``sink`` is given) and the stats.

    Raises:
        UsageError: bad options or no seed URL (``InvalidURL`` for a malformed seed).
        FetcherError: the strategy's machinery failed.
    """
    seeds: list[str]
    if isinstance(urls_or_spider, str):
        seeds = [urls_or_spider]
    elif urls_or_spider is None or _is_spider_like(urls_or_spider):
        if urls_or_spider is not None:
            if spider is not None:
                raise UsageError("pass the spider once: positionally or as spider=")
            spider = urls_or_spider
        seeds = []
    else:
        seeds = list(cast(Iterable[str], urls_or_spider))
    the_spider = as_spider(spider)
    if not seeds:
        seeds = list(the_spider.start_urls)
    if not seeds:
        raise UsageError("no URL to crawl: pass URLs or a spider with start_urls")
    settings = CrawlSettings(
        mode=mode,
        concurrency=concurrency,
        follow=follow,
        max_pages=max_pages,
        max_depth=max_depth,
        allow=tuple(allow),
        deny=tuple(deny),
        same_host=same_host,
        timeout=timeout,
        max_redirects=max_redirects,
        max_bytes=max_bytes,
        user_agent=user_agent,
        per_host=per_host,
        delay=delay,
        jitter=jitter,
        obey_robots=obey_robots,
        retries=retries,
        retry_backoff=retry_backoff,
        retry_after_cap=retry_after_cap,
        block_private=block_private,
    )
    collected = ListSink()
    stats = Engine(settings, the_spider, sink if sink is not None else collected).run(seeds)
    return CrawlResult(collected.items, stats)


def _is_spider_like(obj: object) -> bool:
    return isinstance(obj, (Spider, type)) or (callable(obj) and not isinstance(obj, Iterable))
