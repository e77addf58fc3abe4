"""The exceptions crawlkit raises.

Every exception the library raises on purpose derives from one root::

    CrawlkitError
    ├── UsageError (ValueError)          bad options, bad input from the caller
    │   ├── InvalidURL                   a seed that is not an absolute http(s) URL
    │   ├── UnknownMode                  a strategy name crawlkit does not know
    │   ├── SeedFileError (OSError)      a seed file that is missing or unreadable
    │   ├── FormError                    ``page.form()`` found no form, or more than one
    │   ├── SpiderLoadError (ImportError) a ``module:Name`` spider that cannot be loaded
    │   └── CacheError                   a ``--cache`` that is corrupt, truncated or in use
    ├── FetcherError                     a strategy's machinery broke (a dead worker process)
    ├── StorageError (OSError)           the output or the state file cannot be written
    └── FrontierUnavailable              Redis stayed unreachable longer than ``--redis-wait``

A page that fails to download is *not* an exception: it becomes a record with an
``error`` reason. The fixed reasons are the members of :class:`Reason`
("timeout", "connection refused", ...); a few carry details and are built from
one ("http 404", "spider error: ...", "blocked by robots.txt (it answered 500)").
"""

from __future__ import annotations

from enum import Enum


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


class FormError(UsageError):
    """:meth:`crawlkit.Page.form` found no form matching, or more than one (raised in
    a callback, it makes the page a failed record: ``spider error: FormError: ...``)."""


class SpiderLoadError(UsageError, ImportError):
    """A ``module:Name`` spider reference that cannot be imported or is not a spider."""


class CacheError(UsageError):
    """A ``--cache`` directory that cannot be used: not a cache, corrupt, truncated,
    missing in ``only`` mode, or written by another crawl at the same time."""


class FetcherError(CrawlkitError):
    """A fetch strategy's own machinery failed (for example a worker process died)."""


class StorageError(CrawlkitError, OSError):
    """The output or the ``--state`` file could not be written (disk full, I/O error).

    The message names the file and the operating system's error. The crawl stops;
    what was committed before stays consistent, so the same command resumes it once
    the cause is fixed.
    """


class FrontierUnavailable(CrawlkitError):
    """The Redis frontier stayed unreachable longer than the worker was told to wait.

    The worker's leases expire and go to the other workers.
    """


class Reason(str, Enum):
    """Why a page failed: the one list of the fixed reasons a record can carry.

    A member *is* its string (``Reason.TIMEOUT == "timeout"``): records, stats
    and JSON output see the plain text, and it pickles between processes.
    :attr:`final` says whether another attempt may cure it; the retry policy
    reads nothing else.
    """

    _value_: str
    final: bool

    def __new__(cls, value: str, final: bool) -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.final = final
        return member

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    # the network: often passing, so retried
    TIMEOUT = "timeout", False
    REFUSED = "connection refused", False
    RESET = "connection reset", False
    DNS = "dns error", False
    TLS = "ssl error", False
    TRUNCATED = "truncated body", False
    DISCONNECTED = "server disconnected", False
    CONNECTION = "connection error", False
    WORKER_DIED = "worker process died", False  # the page may be fine: try it again
    # the proxy failed (unreachable, 407, CONNECT refused): retried through the next one
    PROXY = "proxy error", False
    # the response or the URL itself: the same again on every attempt
    TOO_LARGE = "too large", True
    TOO_MANY_ENCODINGS = "too many content encodings", True
    BAD_ENCODING = "bad content encoding", True
    INVALID_URL = "invalid url", True
    BLOCKED_PRIVATE = "blocked: private address", True
    TOO_MANY_REDIRECTS = "too many redirects", True
    REDIRECT_LOOP = "redirect loop", True
    BAD_REDIRECT = "redirect to a non-http(s) or malformed URL", True
    ROBOTS = "blocked by robots.txt", True
    NOT_IN_CACHE = "not in cache", True  # --cache-mode only: the network is not used

    @classmethod
    def is_final(cls, error: str) -> bool:
        """True when ``error`` is a reason another attempt cannot cure."""
        reason = cls._value2member_map_.get(error)
        # not a member ("http 503", "internal error: ..."): the caller decides
        return isinstance(reason, Reason) and reason.final


def storage_error(what: str, name: object, exc: OSError) -> StorageError:
    """The one line a failed write becomes, e.g.
    ``cannot write --out 'pages.jsonl': [Errno 28] No space left on device``."""
    detail = f"[Errno {exc.errno}] {exc.strerror}" if exc.errno else str(exc)
    if name == "<stdout>":
        return StorageError(f"cannot write the output (stdout): {detail}")
    return StorageError(f"cannot write {what} {str(name)!r}: {detail}")
