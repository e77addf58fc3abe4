"""The crawl's cookie jars (``--cookies``): kept by the engine, the same in every strategy.

The HTTP clients keep no cookies: each reports the raw ``Set-Cookie`` lines of a
response (:attr:`FetchResult.set_cookies`), the processing stage copies them into
the :class:`~crawlkit.models.Outcome`, and the engine, in its own thread, hands
them to :meth:`CookieJars.store`. At dispatch :meth:`CookieJars.prepare` puts the
cookies due to the request's URL into :attr:`Request.jar_cookie`, which the
clients send as the ``Cookie`` line (see :mod:`crawlkit.http.outgoing`). Which
cookie is kept, and which is sent where, is decided by the standard library's
:mod:`http.cookiejar` (RFC 6265 domain and path matching, ``Secure``, ``Expires``
and ``Max-Age``); nothing here re-implements those rules.

A request's ``meta["cookiejar"]`` names its jar, as in Scrapy; without one (or
with ``None``), the default jar is used. A jar key is a name: a ``str``, or an
``int`` standing for its decimal digits, so ``1`` and ``"1"`` are one jar, in
this run and after a ``--state`` resume, whatever a JSON round trip made of the
type. Any other key (``True``, ``1.0``, a list...) is refused when the
:class:`~crawlkit.models.Request` is made (:func:`jar_key_problem`): Python
counts ``1``, ``1.0`` and ``True`` as one dict key and JSON as three, and a jar
should not depend on which of the two a reader assumed. A redirect hop keeps its
request's meta, so it stays in the same jar; a request a spider yields is in the
jar its ``meta`` names, whichever page it was found on.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # models imports this module (jar_key_problem)
    from .models import Outcome, Request

META_KEY = "cookiejar"
"""The ``Request.meta`` key naming the jar a request belongs to."""

_DEFAULT = "null"
"""The default jar's name: ``json.dumps(None)``, the name of a request with no key."""

_FIELDS = ("version", "name", "value", "port", "port_specified", "domain",
           "domain_specified", "domain_initial_dot", "path", "path_specified", "secure",
           "expires", "discard", "comment", "comment_url", "rfc2109")
"""The attributes of an :class:`http.cookiejar.Cookie`, in its constructor's order
(``rest``, its other attributes such as ``HttpOnly``, is kept beside them)."""


def jar_key_problem(key: Any) -> str | None:
    """Why ``key`` cannot be a ``meta["cookiejar"]`` value, or None: a key is a
    ``str`` or an ``int`` (not a ``bool``), or None for the default jar."""
    if key is None or isinstance(key, str) or (isinstance(key, int)
                                                and not isinstance(key, bool)):
        return None
    return (f"meta cookiejar must be a str or an int naming the jar, "
            f"got {type(key).__name__} {key!r}")


def jar_name(request: Request) -> str:
    """The name of the jar ``request`` uses: its ``meta["cookiejar"]`` as a JSON
    string (``1`` and ``"1"`` are both ``'"1"'``), or ``"null"``, the default jar,
    when it has none."""
    meta = request.meta
    return _DEFAULT if not meta else _name_of(meta.get(META_KEY))


def _name_of(key: Any) -> str:
    if key is None:
        return _DEFAULT
    if isinstance(key, bool) or not isinstance(key, int | str):
        # only a meta changed after its Request was made gets here: a jar of its own
        return "invalid " + repr(key)
    text = str(int(key)) if isinstance(key, int) else str.__str__(key)  # enums: their value
    return json.dumps(text)


def _current_name(name: str) -> str:
    """A jar name from a ``--state`` journal, as :func:`jar_name` makes it now:
    journals written before the key rule name an int key's jar ``1``, not ``"1"``."""
    try:
        key = json.loads(name)
    except ValueError:
        return name
    return _name_of(key) if isinstance(key, int) and not isinstance(key, bool) else name


def _without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``, which would otherwise read as part of the
    host to :mod:`http.cookiejar`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class _Received:
    """The response side :meth:`http.cookiejar.CookieJar.extract_cookies` reads: only
    the ``Set-Cookie`` lines (``Set-Cookie2`` is obsolete and ignored)."""

    def __init__(self, lines: tuple[str, ...]) -> None:
        self._lines = list(lines)

    def info(self) -> _Received:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self._lines if name.lower() == "set-cookie" else default


class CookieJars:
    """Every jar of one crawl, by name (see :func:`jar_name`).

    Only the engine's thread calls it, so it holds no lock of its own (each
    :class:`~http.cookiejar.CookieJar` has an internal one, uncontended here).
    """

    def __init__(self) -> None:
        self._jars: dict[str, http.cookiejar.CookieJar] = {}

    def _jar(self, name: str) -> http.cookiejar.CookieJar:
        jar = self._jars.get(name)
        if jar is None:
            jar = self._jars[name] = http.cookiejar.CookieJar(
                http.cookiejar.DefaultCookiePolicy())
        return jar

    def cookie_header(self, url: str, name: str = _DEFAULT) -> str:
        """The ``Cookie`` value jar ``name`` sends to ``url`` (``""`` for none)."""
        jar = self._jars.get(name)
        if jar is None:
            return ""
        probe = urllib.request.Request(_without_userinfo(url))
        jar.add_cookie_header(probe)
        return str(probe.get_header("Cookie", ""))

    def prepare(self, request: Request) -> Request:
        """``request`` with the cookies its jar holds for its URL in ``jar_cookie``."""
        value = self.cookie_header(request.url, jar_name(request))
        if value == request.jar_cookie:
            return request
        return replace(request, jar_cookie=value)

    def store(self, outcome: Outcome) -> Outcome:
        """Keep the cookies ``outcome``'s response set (in its request's jar); returns
        the outcome with the dispatch's ``jar_cookie`` cleared, so that it is never
        persisted nor carried to a retry or a redirect hop."""
        request = outcome.request
        if outcome.set_cookies:
            self.receive(request.url, outcome.set_cookies, jar_name(request))
        if request.jar_cookie:
            outcome = replace(outcome, request=replace(request, jar_cookie=""))
        return outcome

    def receive(self, url: str, lines: tuple[str, ...], name: str = _DEFAULT) -> None:
        """Keep the cookies of ``Set-Cookie`` ``lines`` received from ``url`` in jar
        ``name``, as :mod:`http.cookiejar` accepts them."""
        probe = urllib.request.Request(_without_userinfo(url))
        self._jar(name).extract_cookies(_Received(lines), probe)  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Cookies held, in all jars."""
        return sum(len(jar) for jar in self._jars.values())

    def dump(self) -> str:
        """Every jar as JSON, session cookies included (for the ``--state`` journal);
        :meth:`load` reads it back."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, jar in self._jars.items():
            jar.clear_expired_cookies()
            cookies = [_cookie_dict(cookie) for cookie in jar]
            if cookies:
                out[name] = cookies
        return json.dumps(out, sort_keys=True, separators=(",", ":"))

    def load(self, text: str) -> None:
        """Add the jars :meth:`dump` wrote (expired cookies are dropped)."""
        for name, cookies in json.loads(text).items():
            jar = self._jar(_current_name(name))
            for raw in cookies:
                jar.set_cookie(_cookie_of(raw))
            jar.clear_expired_cookies()


def _cookie_dict(cookie: http.cookiejar.Cookie) -> dict[str, Any]:
    raw = {name: getattr(cookie, name) for name in _FIELDS}
    raw["rest"] = dict(getattr(cookie, "_rest", {}))  # HttpOnly and such: no public accessor
    return raw


def _cookie_of(raw: Mapping[str, Any]) -> http.cookiejar.Cookie:
    values: list[Any] = [raw[name] for name in _FIELDS[:-1]]
    values += [dict(raw.get("rest", {})), bool(raw.get("rfc2109", False))]
    return http.cookiejar.Cookie(*values)
