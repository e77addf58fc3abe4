"""The exceptions crawlkit raises.

Every exception the library raises on purpose derives from one root::

    CrawlkitError
    ├── UsageError (ValueError)          bad options, bad input from the caller
    │   ├── InvalidURL                   a seed that is not an absolute http(s) URL
    │   ├── UnknownMode                  a strategy name crawlkit does not know
    │   ├── SeedFileError (OSError)      a seed file that is missing or unreadable
    │   └── SpiderLoadError (ImportError) a ``module:Name`` spider that cannot be loaded
    └── FetcherError                     a strategy's machinery broke (a dead worker process)

A page that fails to download is *not* an exception: it becomes a record with an
``error`` reason ("timeout", "connection refused", "http 404", ...).
"""

from __future__ import annotations


class CrawlkitError(Exception):
    """Root of every exception crawlkit raises on purpose."""


class UsageError(CrawlkitError, ValueError):
    """The caller asked for something crawlkit cannot do (bad option or input)."""


class InvalidURL(UsageError):
    """A seed URL that is not an absolute http:// or https:// URL."""


class UnknownMode(UsageError):
    """A fetch strategy name that is not one of :data:`crawlkit.MODES`."""


class SeedFileError(UsageError, OSError):
    """A seed file that cannot be read."""


class SpiderLoadError(UsageError, ImportError):
    """A ``module:Name`` spider reference that cannot be imported or is not a spider."""


class FetcherError(CrawlkitError):
    """A fetch strategy's own machinery failed (for example a worker process died)."""
