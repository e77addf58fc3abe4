"""Connecting to the Redis of a shared crawl, riding out its outages, hiding its password.

* :func:`redact` is the only form in which a Redis URL reaches a message: the
  password (in the user part or a ``password=`` query argument) becomes ``***``.
* :func:`open_client` builds the redis-py client for ``redis://``, ``rediss://``
  (TLS, verified; the CA bundle named by ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``
  or ``SSL_CERT_FILE`` is trusted as for HTTP, unless the URL names its own with
  ``?ssl_ca_certs=``) and ACL users (``redis://user:pass@host``), and checks it
  with a PING: a wrong password, an unreachable server or a malformed URL is a
  :class:`~crawlkit.errors.UsageError` before the crawl starts.
* :class:`WaitForRedis` is the client's retry policy: a command that fails because
  the connection broke, timed out or the server is still loading its data
  (``ConnectionError``, ``TimeoutError``, ``BusyLoadingError``) is sent again,
  with exponential backoff, until Redis answers or the outage has lasted ``wait``
  seconds; then :class:`~crawlkit.errors.FrontierUnavailable`. The first failure
  of an outage and the recovery are each announced once (``notify``).

A command sent again after the server ran it but before its reply arrived runs
twice. The frontier's commands are safe to repeat (a lease taken twice expires
and is reclaimed, links are de-duplicated by the seen set) except that a repeated
acknowledgement adds that page to the job's counters twice.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ..errors import FrontierUnavailable, UsageError
from ..tls import ca_bundle

T = TypeVar("T")

DEFAULT_WAIT = 60.0
"""Seconds a worker waits for an unreachable Redis before it gives up."""

BACKOFF_BASE = 0.05
BACKOFF_CAP = 2.0

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)
_SECRET_KEY = re.compile(r"pass|secret|token", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages.

    The user part ends at the *last* ``@`` of the URL, so a password holding
    ``/``, ``?`` or ``@`` is hidden whole even where a URL parser would split it
    elsewhere. A user part without ``:`` is hidden too (some write the password
    there). Query arguments whose name speaks of a secret are hidden as well.
    """
    match = _SCHEME.match(url)
    if match is None:
        return "***" if "@" in url else url
    scheme, rest = match.groups()
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = (f"{user}:***" if colon else "***") + rest[at:]
    head, mark, query = rest.partition("?")
    if mark:
        query = "&".join(
            f"{part.partition('=')[0]}=***" if _SECRET_KEY.search(part.partition("=")[0])
            else part
            for part in query.split("&"))
        rest = head + mark + query
    return scheme + rest


def _secrets(url: str) -> list[str]:
    """Every piece of ``url`` that may be a secret, longest first (to scrub messages)."""
    found: list[str] = []
    match = _SCHEME.match(url)
    rest = match.group(2) if match else url
    at = rest.rfind("@")
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        found.append(password if colon else user)
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found.extend(value for key, value in parse_qsl(parts.query) if _SECRET_KEY.search(key))
    except ValueError:
        pass
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(message: str, url: str) -> str:
    """``message`` with every secret of ``url`` in it replaced by ``***``."""
    message = message.replace(url, redact(url))
    for secret in _secrets(url):
        message = message.replace(secret, "***")
    return message


class WaitForRedis:
    """A redis-py retry policy that waits out an outage of up to ``wait`` seconds.

    It stands in for :class:`redis.retry.Retry` (same ``call_with_retry``), and
    one instance is shared by every connection of a client: redis-py deep-copies
    its retry policy per connection, so :meth:`__deepcopy__` returns the instance
    itself and the outage is measured once, from its first failure, however many
    nested calls (connect inside a command) see it.

    Args:
        url: the Redis URL (shown redacted, and scrubbed from redis-py's messages).
        wait: seconds an outage may last before :class:`FrontierUnavailable`.
        notify: receives one line when an outage begins and one when it ends.
    """

    def __init__(self, url: str, wait: float,
                 notify: Callable[[str], None] | None = None) -> None:
        import redis

        self._url = url
        self.shown = redact(url)
        self.wait = wait
        self.notify = notify
        self._outage_errors: tuple[type[BaseException], ...] = (
            redis.ConnectionError, redis.TimeoutError, socket.timeout)
        self._supported: tuple[type[BaseException], ...] = self._outage_errors
        self._loading_error: type[BaseException] = redis.BusyLoadingError
        self._auth_error: type[BaseException] = redis.AuthenticationError
        # the engine's thread is the only one that talks to Redis, so no lock
        self._down_since: float | None = None
        self._rng = random.Random()
        self.after_outage: Callable[[], None] | None = None  # see watch_job()
        self.stopping: Callable[[], bool] | None = None  # see watch_job()

    def __deepcopy__(self, memo: dict[int, Any]) -> WaitForRedis:
        return self

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """While the client is first checked, wait only for a server still loading
        its data, silently: a refused or wrong address is a mistake to report at
        once, not an outage to wait out."""
        notify, self.notify = self.notify, None
        self._supported = (self._loading_error,)
        try:
            yield
        finally:
            self.notify = notify
            self._supported = self._outage_errors

    # the parts of redis.retry.Retry that redis-py calls
    def get_retries(self) -> int:
        return 1 << 30

    def update_retries(self, value: int) -> None:
        pass

    def update_supported_errors(self, errors: Any) -> None:
        self._outage_errors = tuple({*self._outage_errors, *errors})
        self._supported = self._outage_errors

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any],
                        is_retryable: Callable[[BaseException], bool] | None = None,
                        with_failure_count: bool = False) -> T:
        """Run ``do`` until it succeeds; between failures call ``fail`` and back off.

        Raises:
            FrontierUnavailable: the outage lasted more than ``wait`` seconds.
            Anything ``do`` raises that is not a broken connection, unchanged.
        """
        failures = 0
        while True:
            try:
                result = do()
            except self._supported as error:
                if isinstance(error, self._auth_error) or (
                        is_retryable is not None and not is_retryable(error)):
                    raise
                failures += 1
                if with_failure_count:
                    fail(error, failures)
                else:
                    fail(error)
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                    if self.notify is not None:
                        self.notify(f"Redis at {self.shown} is unreachable ({self._why(error)}); "
                                    f"waiting up to {self.wait:g}s for it")
                if self.stopping is not None and self.stopping():
                    raise FrontierUnavailable(
                        f"stopped while Redis at {self.shown} was unreachable "
                        f"({self._why(error)}); this worker's leases expire and go to the "
                        "other workers") from None
                if now - self._down_since > self.wait:
                    raise FrontierUnavailable(
                        f"Redis at {self.shown} unreachable for more than {self.wait:g}s "
                        f"({self._why(error)}); this worker's leases expire and go to the "
                        "other workers") from None
                pause = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures, 16))
                time.sleep(pause * self._rng.uniform(0.5, 1.0))
                continue
            if self._down_since is not None:
                down = time.monotonic() - self._down_since
                self._down_since = None
                if self.notify is not None:
                    self.notify(f"Redis at {self.shown} is back after {down:.1f}s")
                if self.after_outage is not None:
                    self.after_outage()
            return result


    def _why(self, error: BaseException) -> str:
        return scrub(_reason(error), self._url)


def watch_job(client: Any, key: str, job: str,
              stopping: Callable[[], bool] | None = None) -> None:
    """After each outage, check that ``key`` (the job's ``meta``) survived it;
    during one, give up waiting as soon as ``stopping()`` is true (Ctrl-C, SIGTERM).

    A Redis restarted without persistence comes back empty: the job's queue, seen
    set and leases are gone, and a worker that went on would find nothing to do
    and stop as if the crawl were complete. It stops with
    :class:`~crawlkit.errors.FrontierUnavailable` instead.
    """
    policy = client.get_retry()
    if not isinstance(policy, WaitForRedis):
        return

    def check() -> None:
        if not client.exists(key):
            raise FrontierUnavailable(
                f"job {job!r} is gone from Redis at {policy.shown} after it was unreachable "
                "(restarted without persistence?); its progress is lost: delete the job "
                "and start again, and keep Redis persistent (appendonly yes)")

    policy.after_outage = check
    policy.stopping = stopping


def _reason(error: BaseException) -> str:
    text = str(error).strip().rstrip(".")
    return text or type(error).__name__


def open_client(url: str, wait: float = DEFAULT_WAIT,
                notify: Callable[[str], None] | None = None) -> Any:
    """A redis-py client for ``url``, checked with a PING, that waits out outages.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...`` (TLS).
        wait: seconds an outage during the crawl may last (``--redis-wait``).
        notify: receives a line when an outage begins and when it ends.

    Raises:
        UsageError: redis-py is missing, the URL is malformed, the server does not
            answer, or it refuses the credentials. The message never holds the
            password.
    """
    shown = redact(url)
    try:
        import redis
    except ImportError:
        raise UsageError("--frontier redis:// needs redis-py: pip install 'crawlkit[redis]'") \
            from None
    if not wait > 0:
        raise UsageError(f"--redis-wait must be positive, got {wait}")
    options: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 5}
    if url.lower().startswith("rediss://") and "ssl_ca_certs=" not in url:
        bundle = ca_bundle()
        if bundle is not None:
            options["ssl_ca_certs"] = bundle
    retry = WaitForRedis(url, wait, notify)
    try:
        client = redis.Redis.from_url(url, retry=retry, **options)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid --frontier {shown}: {scrub(str(exc), url)}") from None
    try:
        with retry.starting():
            client.ping()
    except redis.AuthenticationError as exc:
        if not _secrets(url):
            raise UsageError(f"Redis at {shown} needs a password: "
                             "pass redis://[USER]:PASSWORD@HOST:PORT/DB") from None
        raise UsageError(f"Redis at {shown} refused the credentials "
                         f"({scrub(_reason(exc), url)}); check the user and password "
                         "in --frontier") from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise UsageError(f"Redis at {shown} needs a password: "
                             "pass redis://[USER]:PASSWORD@HOST:PORT/DB") from None
        raise UsageError(f"Redis at {shown} refused PING: {scrub(_reason(exc), url)}") \
            from None
    except (redis.RedisError, FrontierUnavailable, OSError) as exc:
        raise UsageError(f"cannot reach Redis at {shown}: {scrub(_reason(exc), url)}") \
            from None
    return client
