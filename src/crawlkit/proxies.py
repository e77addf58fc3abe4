"""Proxies: which proxy each request goes through, chosen in one place.

The engine asks a :class:`ProxyPool` for every request it dispatches
(:meth:`ProxyPool.dispatch`) and hands it every outcome (:meth:`ProxyPool.settle`);
the HTTP clients only obey the proxy the dispatched :class:`~crawlkit.models.Request`
carries in its ``proxy`` field. The choice, in order:

1. ``Request(meta={"proxy": URL})``: that proxy; ``{"proxy": None}`` (or ``""``):
   none, whatever the crawl's settings say;
2. ``--proxy`` (``settings.proxy``): the proxies rotate round-robin over origins,
   and an origin keeps its proxy (sticky) until that proxy fails for it; then the
   origin moves to the next proxy in the list, and the failed request is retried
   through it (a proxy failure is a transient :attr:`~crawlkit.errors.Reason.PROXY`);
3. ``--proxy-env`` (``settings.proxy_env``): ``HTTP_PROXY`` for http targets,
   ``HTTPS_PROXY`` for https ones, none for a host ``NO_PROXY`` names (read once,
   when the pool is made);
4. otherwise no proxy.

The chosen proxy is per-dispatch bookkeeping: :meth:`ProxyPool.settle` strips it
from the outcome's request, so a retry, a redirect hop and the frontier (memory,
journal, Redis) never carry it; the next dispatch chooses again.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .errors import Reason, UsageError
from .urls import _DEFAULT_PORTS, origin_of

if TYPE_CHECKING:  # models and settings import this module
    from .models import Outcome, Request
    from .settings import CrawlSettings

__all__ = ["Proxy", "ProxyPool", "bypassed", "parse_proxy", "proxy_problem"]


@dataclass(frozen=True, slots=True)
class Proxy:
    """One HTTP proxy, parsed from ``http://[user:password@]host:port``.

    Attributes:
        url: the URL as given (credentials included: never show it, see :attr:`label`).
        host: the host name or address (an IPv6 address without brackets).
        port: the port.
        username: the user name, percent-decoded, or None.
        password: the password, percent-decoded, or None.
    """

    url: str
    host: str
    port: int
    username: str | None
    password: str | None

    @property
    def label(self) -> str:
        """The proxy as shown in stats and messages: no password, ever."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username}@" if self.username else ""
        return f"http://{user}{host}:{self.port}"

    @property
    def address(self) -> str:
        """``http://host:port``, without credentials (what a client connects to)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value for the credentials, or None."""
        if self.username is None and self.password is None:
            return None
        userinfo = f"{self.username or ''}:{self.password or ''}"
        return "Basic " + base64.b64encode(userinfo.encode("utf-8")).decode("ascii")


@lru_cache(maxsize=256)
def parse_proxy(url: str) -> Proxy:
    """``url`` as a :class:`Proxy`.

    Raises:
        UsageError: not ``http://[user:password@]host:port`` (one line, without the
            password).
    """
    problem = _problem(url)
    if problem is not None:
        raise UsageError(problem)
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(url, parts.hostname, parts.port, username, password)


def proxy_problem(value: Any) -> str | None:
    """Why ``value`` is not a proxy URL crawlkit can use, or None (a settings check)."""
    if not isinstance(value, str):
        return f"a proxy URL must be a string, got {type(value).__name__}"
    return _problem(value)


def _problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"invalid proxy URL {_hidden(url)!r}: {exc}"
    shown = _hidden(url)
    if parts.scheme != "http":
        return (f"invalid proxy URL {shown!r}: only http:// proxies are supported "
                "(https targets go through them with CONNECT)")
    if not parts.hostname:
        return f"invalid proxy URL {shown!r}: no host"
    if port is None:
        return f"invalid proxy URL {shown!r}: give the port (http://host:port)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"invalid proxy URL {shown!r}: no path, query or fragment allowed"
    if any(c in url for c in "\r\n\0 "):
        return f"invalid proxy URL {shown!r}: spaces and control characters are not allowed"
    return None


def _hidden(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{hostport}{slash}{path}"


class ProxyPool:
    """The proxy choice for one crawl (see the module docstring), and the counts
    per proxy. Used by the engine's thread only: no lock.

    Args:
        settings: ``proxy`` (the rotation) and ``proxy_env``.

    Raises:
        UsageError: an environment proxy that is not a usable proxy URL.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self._rotation: tuple[str, ...] = tuple(settings.proxy)
        for url in self._rotation:
            parse_proxy(url)
        self._env: dict[str, str] = {}
        if settings.proxy_env:
            found = urllib.request.getproxies_environment()
            self._env = {k: v for k, v in found.items() if k in ("http", "https", "no")}
            for scheme in ("http", "https"):
                if scheme in self._env:
                    problem = _problem(self._env[scheme])
                    if problem is not None:
                        raise UsageError(f"{_variable(scheme)}: {problem}")
        self._active = bool(self._rotation) or "http" in self._env or "https" in self._env
        self._sticky: dict[str, int] = {}  # origin -> index in the rotation
        self._turn = 0  # the rotation index the next new origin gets
        self._requests: Counter[str] = Counter()  # fetches sent, by proxy label
        self._failures: Counter[str] = Counter()  # proxy failures, by proxy label

    def choose(self, request: Request) -> str | None:
        """The proxy URL ``request`` goes through now, or None for a direct fetch."""
        meta = request.meta
        if meta and "proxy" in meta:
            return meta["proxy"] or None
        if not self._active:
            return None
        if self._rotation:
            origin = origin_of(request.url)
            index = self._sticky.get(origin)
            if index is None:
                index = self._sticky[origin] = self._turn
                self._turn = (self._turn + 1) % len(self._rotation)
            return self._rotation[index]
        return self._from_env(request.url)

    def _from_env(self, url: str) -> str | None:
        parts = urlsplit(url)
        proxy = self._env.get(parts.scheme)
        if proxy is None:
            return None
        no_proxy = self._env.get("no")
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        if no_proxy and bypassed(parts.hostname or "", port, no_proxy):
            return None
        return proxy

    def dispatch(self, request: Request) -> Request:
        """``request`` carrying the proxy chosen for it (the same object when none)."""
        proxy = self.choose(request)
        if proxy == request.proxy:
            return request
        return replace(request, proxy=proxy)

    def settle(self, outcome: Outcome) -> Outcome:
        """Count ``outcome`` for its proxy; after a proxy failure, move the origin to
        the next proxy. Returns the outcome with the proxy stripped from its request."""
        request = outcome.request
        proxy = request.proxy
        if proxy is None:
            return outcome
        label = parse_proxy(proxy).label
        self._requests[label] += 1
        if outcome.error == Reason.PROXY:
            self._failures[label] += 1
            self._fail_over(request, proxy)
        return replace(outcome, request=replace(request, proxy=None))

    def _fail_over(self, request: Request, proxy: str) -> None:
        rotation = self._rotation
        if proxy not in rotation:
            return
        origin = origin_of(request.url)
        failed = rotation.index(proxy)
        if self._sticky.get(origin, failed) == failed:
            # idempotent for the requests that were in flight through the same proxy
            self._sticky[origin] = (failed + 1) % len(rotation)

    def restore(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Add the counts of the earlier runs of a resumed ``--state`` crawl (what
        :meth:`counts` gave when the engine committed its last batch), so that the
        totals are the whole crawl's, as the engine's other counters are."""
        for label, n in counts.items():
            self._requests[label] += int(n.get("requests", 0))
            self._failures[label] += int(n.get("failures", 0))

    def counts(self) -> dict[str, dict[str, int]]:
        """Per proxy (by :attr:`Proxy.label`; the ``--proxy`` list in its order, then
        the others as first used): ``requests`` sent through it and ``failures`` of
        the proxy itself."""
        listed = [parse_proxy(url).label for url in self._rotation]
        labels = dict.fromkeys([*(x for x in listed if x in self._requests), *self._requests])
        return {label: {"requests": self._requests[label], "failures": self._failures[label]}
                for label in labels}


def _variable(scheme: str) -> str:
    """The environment variable a ``scheme`` proxy came from: the lower-case name
    when it is set, as :func:`urllib.request.getproxies_environment` prefers it."""
    lower = f"{scheme}_proxy"
    return lower if os.environ.get(lower) else lower.upper()


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """True when ``NO_PROXY`` (``no_proxy``) names ``host``.

    The entries, separated by commas or spaces, case-insensitive, as curl reads
    them: ``*`` (every host); a host name, which also names every host in its
    domain (``example.com``, ``.example.com`` and ``*.example.com`` all match
    ``example.com`` and ``www.example.com``, never ``badexample.com``); an IP
    address, IPv6 with or without brackets (``::1``, ``[::1]``); a network
    (``10.0.0.0/8``, ``fd00::/8``), as requests also accepts for IPv4. Each may
    end in ``:port`` (an IPv6 address then in brackets: ``[::1]:8080``), and then
    names that port only; ``port`` is the target's port, the scheme's default
    when the URL gives none. An entry that is none of these names nothing.
    """
    host = host.lower().strip("[]").rstrip(".")
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, want = _split_entry(entry)
        if want and (not want.isdigit() or int(want) != port):
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if not name:
            continue
        if host == name or host.endswith("." + name):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            continue
    return False


def _split_entry(entry: str) -> tuple[str, str]:
    """A ``NO_PROXY`` entry as (host, port or ""): ``[::1]:8080``, ``[::1]``,
    ``host:80``; an entry with several colons and no brackets is an IPv6 address
    (or network) without a port."""
    if entry.startswith("["):
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return "", ""  # malformed: names nothing
        return inside, rest[1:]
    if entry.count(":") == 1:
        name, _, want = entry.partition(":")
        return name, want
    return entry, ""
