"""crawlkit: one crawl, seven concurrency strategies, measured side by side."""

from __future__ import annotations

from ._version import __version__  # noqa: F401 - re-exported
from .api import CrawlResult, crawl  # noqa: E402
from .crawler import Crawler  # noqa: E402
from .errors import (  # noqa: E402
    CacheError,
    CrawlkitError,
    FetcherError,
    FormError,
    FrontierUnavailable,
    InvalidURL,
    Reason,
    SeedFileError,
    SpiderLoadError,
    StorageError,
    UnknownMode,
    UsageError,
)
from .fetchers import MODES, Fetcher  # noqa: E402
from .frontiers.base import Frontier  # noqa: E402
from .models import (  # noqa: E402
    Failure,
    FetchResult,
    Form,
    Item,
    Outcome,
    Page,
    Request,
    Timing,
)
from .process import Processor  # noqa: E402
from .settings import CrawlOptions, CrawlSettings  # noqa: E402
from .sinks import Sink  # noqa: E402
from .spiders import DefaultSpider, FunctionSpider, Spider, load_spider  # noqa: E402
from .stats import Stats  # noqa: E402
from .urls import canonicalize  # noqa: E402

__all__ = [
    "MODES",
    "CacheError",
    "CrawlOptions",
    "CrawlResult",
    "CrawlSettings",
    "Crawler",
    "CrawlkitError",
    "DefaultSpider",
    "Failure",
    "FetchResult",
    "Fetcher",
    "FetcherError",
    "Form",
    "FormError",
    "Frontier",
    "FrontierUnavailable",
    "FunctionSpider",
    "InvalidURL",
    "Item",
    "Outcome",
    "Page",
    "Processor",
    "Reason",
    "Request",
    "SeedFileError",
    "Sink",
    "Spider",
    "SpiderLoadError",
    "Stats",
    "StorageError",
    "Timing",
    "UnknownMode",
    "UsageError",
    "__version__",
    "canonicalize",
    "crawl",
    "load_spider",
]
