"""Small immutable values passed between the stages of a crawl.

All of them pickle, because the ``multiprocess`` and ``gevent`` strategies move
them between processes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import orjson

from .cookies import META_KEY as JAR_KEY
from .cookies import jar_key_problem
from .errors import FormError, InvalidURL, UsageError
from .proxies import proxy_problem
from .urls import canonicalize, safe_url

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from parsel import Selector, SelectorList

_NO_JSON: Any = object()
"""``Request(json=None)`` sends ``null``; this marks "no json= given"."""

Item = dict[str, Any]
"""What a spider yields and a sink writes: a JSON-serialisable dict."""


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """One request to send: a URL, and what to do with its response.

    Create one in a spider callback (or :meth:`Page.follow`) and yield it::

        yield Request(url, callback=self.parse_product, meta={"category": "books"})
        yield Request(url + "/search", data={"q": "lamp"})        # a POST form
        yield Request(api_url, json={"page": 2})                 # a POST of JSON

    Args:
        url: absolute http(s) URL. It is sent as given, only made safe:
            characters that must be are percent-encoded, the host is IDNA-encoded,
            the fragment is dropped. Query order, ``?flag`` and ``%2F`` are kept.
        callback: the spider method that gets the response (a bound method or its
            name; stored by name, so the request pickles and persists). Default:
            ``parse``.
        method: HTTP method, upper-cased. Default ``GET``, or ``POST`` when
            ``data`` or ``json`` is given.
        headers: extra request headers (a mapping or pairs).
        body: the request body (bytes, or str sent as UTF-8).
        data: a form (a mapping or pairs), sent urlencoded with its Content-Type.
        json: a value sent as JSON with its Content-Type.
        meta: a JSON-serialisable dict handed to the callback as ``page.meta``.
        priority: higher runs first within the URL's origin. Default 0.
        dont_filter: fetch even when the same request was seen (skip de-duplication).
        errback: the spider method that gets a :class:`Failure`. Default: ``failed``.

    Raises:
        InvalidURL: ``url`` is not an absolute http(s) URL.
        UsageError: ``meta`` is not JSON-serialisable (or its ``cookiejar`` is not
            a str or an int), or ``body``, ``data`` and ``json`` are combined.

    The remaining attributes are the crawl's own bookkeeping: ``depth`` (links from a
    seed), ``hops`` (the redirect chain that led here), ``queued_at``, ``attempt``
    (0, then 1, 2... for retries), ``purpose`` (``"page"``, ``"robots"``) and
    ``jar_cookie``: the ``Cookie`` value the engine's jar adds to this one dispatch
    (with ``cookies`` on). ``jar_cookie`` is not part of the fingerprint, is never
    persisted, and is cleared before the request is retried or redirected.
    ``proxy`` is the proxy URL the engine chose for one dispatch (see
    :mod:`crawlkit.proxies`): not part of equality or the fingerprint, never
    persisted, never carried to a retry or a redirect hop. ``meta["proxy"]`` asks
    for a proxy (``None`` for none); a bad proxy URL there raises UsageError.
    """

    url: str
    callback: str | None
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    meta: dict[str, Any] | None
    priority: int
    dont_filter: bool
    errback: str | None
    depth: int
    hops: tuple[str, ...]
    queued_at: float
    attempt: int
    purpose: str
    jar_cookie: str
    proxy: str | None = field(default=None, compare=False, repr=False)

    def __init__(
        self,
        url: str,
        callback: str | Callable[..., Any] | None = None,
        *,
        method: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | str | None = None,
        data: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json: Any = _NO_JSON,
        meta: Mapping[str, Any] | None = None,
        priority: int = 0,
        dont_filter: bool = False,
        errback: str | Callable[..., Any] | None = None,
        depth: int = 0,
        hops: tuple[str, ...] = (),
        queued_at: float = 0.0,
        attempt: int = 0,
        purpose: str = "page",
        jar_cookie: str = "",
        proxy: str | None = None,
    ) -> None:
        pairs = _header_pairs(headers)
        if sum(x is not None for x in (body, data)) + (json is not _NO_JSON) > 1:
            raise UsageError("a Request takes one of body=, data= and json=")
        if data is not None:
            form = urlencode(list(data.items()) if isinstance(data, Mapping) else list(data),
                             doseq=True)
            method = (method or "POST").upper()
            if method in ("GET", "HEAD"):  # a GET form goes in the query, as browsers send it
                url = _with_query(url, form)
            else:
                body = form
                pairs = _with_default(pairs, "Content-Type", "application/x-www-form-urlencoded")
        elif json is not _NO_JSON:
            body = _dumps(json, "json")
            pairs = _with_default(pairs, "Content-Type", "application/json")
            method = method or "POST"
        if isinstance(body, str):
            body = body.encode("utf-8")
        if meta is not None:
            if not isinstance(meta, Mapping):
                raise UsageError(f"Request meta must be a dict, not {type(meta).__name__}")
            meta = dict(meta)
            _dumps(meta, "meta")
            if meta.get("proxy"):
                problem = proxy_problem(meta["proxy"])
                if problem is not None:
                    raise UsageError(f"Request meta proxy: {problem}")
            problem = jar_key_problem(meta.get(JAR_KEY))
            if problem is not None:
                raise UsageError(f"Request {problem}")
        setattr_ = object.__setattr__
        setattr_(self, "url", url if purpose != "page" else safe_url(url))
        setattr_(self, "callback", _method_name(callback, "callback"))
        method = (method or "GET").upper()
        if method != "GET" and not _TOKEN.fullmatch(method):
            raise UsageError(f"invalid HTTP method {method!r}")
        setattr_(self, "method", method)
        setattr_(self, "headers", pairs)
        setattr_(self, "body", body or b"")
        setattr_(self, "meta", meta or None)
        setattr_(self, "priority", int(priority))
        setattr_(self, "dont_filter", bool(dont_filter))
        setattr_(self, "errback", _method_name(errback, "errback"))
        setattr_(self, "depth", depth)
        setattr_(self, "hops", hops)
        setattr_(self, "queued_at", queued_at)
        setattr_(self, "attempt", attempt)
        setattr_(self, "purpose", purpose)
        setattr_(self, "jar_cookie", jar_cookie)
        setattr_(self, "proxy", proxy)

    @classmethod
    def link(cls, url: str, depth: int = 0, queued_at: float = 0.0) -> Request:
        """A plain GET of ``url`` found at ``depth``, every other field at its default:
        ``Request(url, depth=depth, queued_at=queued_at)`` without its checks.

        For the crawl's own hot path only: ``url`` must already be in its
        :func:`~crawlkit.urls.safe_url` form (as every link the parse stage resolves is).
        """
        self = object.__new__(cls)
        setattr_ = object.__setattr__
        for name, value in _LINK_DEFAULTS:
            setattr_(self, name, value)
        setattr_(self, "url", url)
        setattr_(self, "depth", depth)
        setattr_(self, "queued_at", queued_at)
        return self

    def __hash__(self) -> int:
        # the generated hash would fail on ``meta`` (a dict): hash what identifies the
        # request; equal requests still hash alike (eq compares every field)
        return hash((self.url, self.method, self.body, self.callback, self.errback,
                     self.depth, self.hops, self.attempt, self.purpose))

    @property
    def fingerprint(self) -> str:
        """The de-duplication key: the canonical URL, plus the method and a digest of
        the body for anything but a body-less GET (a POST of another form to the same
        URL is another request)."""
        canonical = canonicalize(self.url)
        if self.method == "GET" and not self.body:
            return canonical
        digest = hashlib.sha1(self.body, usedforsecurity=False).hexdigest()
        return f"{self.method} {canonical} {digest}"

    @property
    def plain(self) -> bool:
        """A body-less GET with no headers, callback, meta or priority of its own:
        the kind every followed link makes, stored and shipped as just its URL."""
        return (self.method == "GET" and not self.body and not self.headers
                and self.callback is None and self.errback is None and self.meta is None
                and self.priority == 0 and not self.dont_filter)

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON-ready values (for the journal and the Redis frontier);
        :meth:`from_dict` reads it back. Fields at their default are left out."""
        out: dict[str, Any] = {"url": self.url}
        for name, default in _PERSISTED:
            value = getattr(self, name)
            if value != default:
                out[name] = value
        if self.headers:
            out["headers"] = [list(pair) for pair in self.headers]
        if self.body:
            out["body"] = base64.b64encode(self.body).decode("ascii")
        if self.hops:
            out["hops"] = list(self.hops)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], **extra: Any) -> Request:
        """The request :meth:`to_dict` gave (``extra`` sets bookkeeping such as
        ``queued_at``)."""
        kwargs: dict[str, Any] = {name: raw[name] for name, _ in _PERSISTED if name in raw}
        if "headers" in raw:
            kwargs["headers"] = [tuple(pair) for pair in raw["headers"]]
        if "body" in raw:
            kwargs["body"] = base64.b64decode(raw["body"])
        kwargs["hops"] = tuple(raw.get("hops", ()))
        kwargs.update(extra)
        return cls(raw["url"], **kwargs)


_PERSISTED: tuple[tuple[str, Any], ...] = (
    ("callback", None), ("method", "GET"), ("meta", None), ("priority", 0),
    ("dont_filter", False), ("errback", None), ("depth", 0), ("attempt", 0),
    ("purpose", "page"),
)


def _method_name(value: str | Callable[..., Any] | None, what: str) -> str | None:
    """A spider method stored by name, so the request pickles and persists."""
    if value is None or isinstance(value, str):
        return value or None
    name = getattr(value, "__name__", None)
    if not callable(value) or not isinstance(name, str) or name == "<lambda>":
        raise UsageError(f"a Request {what} must be a spider method or its name, got {value!r}")
    return name


def _header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = tuple((str(k), str(v)) for k, v in items)
    for name, value in pairs:
        if not _TOKEN.fullmatch(name):
            raise UsageError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise UsageError(f"header {name!r}: a value may not hold CR, LF or NUL")
    return pairs


def _with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended to its query string (before any fragment)."""
    if not query:
        return url
    head, hash_, fragment = url.partition("#")
    joiner = "" if head.endswith(("?", "&")) else ("&" if "?" in head else "?")
    return f"{head}{joiner}{query}{hash_}{fragment}"


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name or method (RFC 9110 token)."""


def _with_default(
    pairs: tuple[tuple[str, str], ...], name: str, value: str
) -> tuple[tuple[str, str], ...]:
    if any(k.lower() == name.lower() for k, _ in pairs):
        return pairs
    return (*pairs, (name, value))


def _dumps(value: Any, what: str) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise UsageError(f"Request {what} is not JSON-serialisable: {exc}") from None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a strategy got back for one :class:`Request`.

    ``error`` is ``None`` when an HTTP response arrived (whatever its status) and a
    short reason otherwise. ``headers`` keys are lower-case (repeated lines joined
    with ``", "``); ``set_cookies`` holds every ``Set-Cookie`` line as received, one
    string per line, never joined.
    """

    request: Request
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None
    started: float = 0.0
    first_byte: float = 0.0
    finished: float = 0.0
    set_cookies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RawResponse:
    """An HTTP response as a fetch got it, kept for the response cache (``--cache``).

    ``headers`` are the :attr:`FetchResult.headers` items in order; ``set_cookies``
    every ``Set-Cookie`` line as received (when the client kept them apart);
    ``body`` is decompressed. ``ttfb`` and ``download`` are the fetch's timings.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ttfb: float = 0.0
    download: float = 0.0
    set_cookies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Timing:
    """Where one page's time went, in seconds.

    Attributes:
        queued: from entering the frontier to the start of its fetch.
        ttfb: from the start of the fetch to the response headers.
        download: from the headers to the last byte of the body.
        parse: decoding, title and link extraction and the spider.
        transfer: moving the page to a worker process and the outcome back
            (``multiprocess``), or the outcome back (``processes``); 0 elsewhere.
    """

    queued: float = 0.0
    ttfb: float = 0.0
    download: float = 0.0
    parse: float = 0.0
    transfer: float = 0.0


_TEXT_TYPES = ("application/javascript", "application/ecmascript")


def is_textual(content_type: str) -> bool:
    """True for media types a :class:`Page` decodes to ``text``: ``text/*``,
    ``*/xml``, ``*+xml``, ``*/json``, ``*+json`` and JavaScript (and no type at all)."""
    if not content_type:
        return True
    major, _, minor = content_type.partition("/")
    return (major == "text" or minor in ("xml", "json") or minor.endswith(("+xml", "+json"))
            or content_type in _TEXT_TYPES)


@dataclass(frozen=True)
class Page:
    """A downloaded page, as a spider callback sees it.

    ``body`` holds the bytes of every response (after decompression); ``text`` is
    the body decoded (BOM, then the Content-Type charset, then ``<meta>``, then
    UTF-8) for every textual type (see :func:`is_textual`) and empty otherwise.
    ``title`` and ``links`` are read from HTML only. Selectors (:meth:`css`,
    :meth:`xpath`) and ``soup`` are built on first use, so a spider that only
    needs ``title`` and ``links`` never pays for a tree.
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    text: str
    title: str | None
    links: tuple[str, ...]
    depth: int
    content_type: str = ""
    body: bytes = b""
    request: Request | None = None
    base_url: str = ""
    """Where relative links resolve: ``<base href>`` when the page has one, else ``url``."""

    @property
    def meta(self) -> dict[str, Any]:
        """The ``meta`` of the request that fetched this page (``{}`` when none)."""
        request = self.request
        return dict(request.meta) if request is not None and request.meta else {}

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            ValueError: the body is not JSON.
        """
        return orjson.loads(self.text if self.text else self.body)

    @cached_property
    def selector(self) -> Selector:
        """The page as a parsel :class:`~parsel.Selector` (HTML, XML or JSON by type)."""
        from parsel import Selector

        kind = "html"
        ctype = self.content_type
        if ctype.endswith(("/xml", "+xml")) and ctype != "application/xhtml+xml":
            kind = "xml"
        elif ctype.endswith(("/json", "+json")):
            kind = "json"
        return Selector(text=self.text, type=kind, base_url=self.base_url or self.url)

    def css(self, query: str) -> SelectorList[Selector]:
        """Elements matching a CSS selector (parsel: ``::text`` and ``::attr(x)`` work)."""
        return self.selector.css(query)

    def xpath(self, query: str, **variables: Any) -> SelectorList[Selector]:
        """Nodes matching an XPath expression (``$name`` variables as keywords)."""
        return self.selector.xpath(query, **variables)

    @cached_property
    def soup(self) -> BeautifulSoup:
        """The page parsed by BeautifulSoup on the lxml builder (costly: build a
        tree for every page only when :meth:`css` will not do)."""
        from .parse import make_soup

        return make_soup(self.text)

    def urljoin(self, href: str) -> str:
        """``href`` made absolute against this page (``<base href>`` respected)."""
        return urljoin(self.base_url or self.url, href.strip())

    def follow(
        self, href: str | Selector, callback: str | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> Request:
        """A :class:`Request` for a link on this page: an href, or a selector of an
        ``<a>``/``<link>``/``<area>`` element or of an attribute (``::attr(href)``).
        Keyword arguments are those of :class:`Request`.

        Raises:
            InvalidURL: the link is not an http(s) URL once resolved.
            UsageError: a selector that holds no link.
        """
        if not isinstance(href, str):
            href = _href_of(href)
        return Request(self.urljoin(href), callback, **kwargs)

    def follow_all(
        self, hrefs: Iterable[str | Selector] | None = None, *, css: str | None = None,
        xpath: str | None = None, callback: str | Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> list[Request]:
        """Requests for many links: ``hrefs`` given, or the elements a ``css`` or
        ``xpath`` query selects (``<a>`` elements or attributes). Links that are not
        http(s) (``mailto:``, ``javascript:``...) are skipped.

        Raises:
            UsageError: none, or more than one, of ``hrefs``, ``css`` and ``xpath``.
        """
        if sum(x is not None for x in (hrefs, css, xpath)) != 1:
            raise UsageError("follow_all takes one of hrefs, css= and xpath=")
        found: Iterable[str | Selector]
        if css is not None:
            found = self.css(css)
        elif xpath is not None:
            found = self.xpath(xpath)
        else:
            assert hrefs is not None
            found = hrefs
        out: list[Request] = []
        for href in found:
            try:
                out.append(self.follow(href, callback, **kwargs))
            except InvalidURL:
                continue
        return out

    def form(self, css: str | None = None, *, formid: str | None = None,
             formname: str | None = None) -> Form:
        """The page's one ``<form>``, or the one chosen by a CSS selector (of the form
        or of a control of it, ``form`` attribute included), its ``id`` or its
        ``name`` (all given must agree);
        :meth:`Form.fill` makes the request that submits it.

        Raises:
            FormError: no form matches, or more than one does.
        """
        if self.selector.type != "html":
            raise FormError(f"no form on {self.url}: not an HTML page")
        forms = [node.root for node in self.xpath("//form")]
        wanted: list[str] = []
        if formid is not None:
            forms = [f for f in forms if f.get("id") == formid]
            wanted.append(f"id={formid!r}")
        if formname is not None:
            forms = [f for f in forms if f.get("name") == formname]
            wanted.append(f"name={formname!r}")
        if css is not None:
            chosen = [_form_of(node.root) for node in self.css(css)]
            forms = [f for f in forms if any(f is c for c in chosen)]
            wanted.append(f"css={css!r}")
        what = f"form ({', '.join(wanted)})" if wanted else "form"
        if not forms:
            raise FormError(f"no {what} on {self.url}")
        if len(forms) > 1:
            raise FormError(f"{len(forms)} forms match on {self.url}: pass css=, formid= or "
                            "formname= to choose one")
        from .parse import default_button, form_values

        element = forms[0]
        button = default_button(element)
        method = str(element.get("method") or "GET").upper()
        action = (element.get("action") or "").strip()
        if button is not None:  # the button Enter submits with may send elsewhere
            if button.get("formmethod") is not None:
                method = str(button.get("formmethod")).upper()
            if button.get("formaction") is not None:
                action = str(button.get("formaction")).strip()
        # an empty action submits to the document's own URL (not the base href)
        url = self.urljoin(action) if action else self.url
        return Form(url, "POST" if method == "POST" else "GET", tuple(form_values(element)))


def _form_of(element: Any) -> Any:
    """The ``<form>`` ``element`` is, or belongs to (``None`` when neither)."""
    from .parse import form_owner

    return form_owner(element)


FormValue: TypeAlias = "str | int | float | Iterable[str] | None"
FormData = Mapping[str, FormValue] | Iterable[tuple[str, FormValue]]
"""What :meth:`Form.fill` takes, by name (a mapping, or name/value pairs as Scrapy's
``formdata``): a value, several values, or ``None`` to leave a field out."""


@dataclass(frozen=True, slots=True)
class Form:
    """A form found on a page (:meth:`Page.form`), as a browser would submit it.

    Attributes:
        action: the absolute URL it is sent to (``<base href>`` respected).
        method: ``"GET"`` or ``"POST"`` (any other ``method`` attribute reads as GET,
            as in browsers).
        fields: the name/value pairs it sends unchanged, in order (see
            :func:`crawlkit.parse.form_values`): hidden fields such as a CSRF token,
            default values, checked boxes, selected options and the first submit
            button when it has a name.
    """

    action: str
    method: str
    fields: tuple[tuple[str, str], ...]

    def fill(self, data: FormData | None = None,
             callback: str | Callable[..., Any] | None = None, **kwargs: Any) -> Request:
        """The :class:`Request` that submits this form with ``data`` filled in.

        A name in ``data`` replaces every value the form had for it, in the place of
        the first (new names come last); a list gives several values, ``None`` leaves
        the field out (a submit button's, say). A GET form's data replaces the
        action's query, a POST form's is the urlencoded body (multipart forms are
        sent urlencoded too). Other keyword arguments are those of
        :class:`Request` (``meta``, ``headers``, ``priority``...); ``method`` replaces
        the form's.
        """
        given: dict[str, list[str]] = {}
        for name, value in _form_pairs(data):
            values = given.setdefault(name, [])  # pairs may repeat a name: values add up
            if value is None:
                continue
            if isinstance(value, (str, int, float)):
                values.append(str(value))
            else:
                values.extend(str(one) for one in value)
        pairs: list[tuple[str, str]] = []
        for name, value in self.fields:
            if name not in given:
                pairs.append((name, value))
            elif not any(n == name for n, _ in pairs):
                pairs.extend((name, one) for one in given[name])
        seen = {name for name, _ in self.fields}
        for name, values in given.items():
            if name not in seen:
                pairs.extend((name, one) for one in values)
        method = str(kwargs.pop("method", self.method)).upper()
        url = self.action
        if method == "GET":
            url = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
        return Request(url, callback, method=method, data=pairs, **kwargs)


def _form_pairs(data: FormData | None) -> list[tuple[str, Any]]:
    """``data`` of :meth:`Form.fill` as name/value pairs.

    Raises:
        UsageError: ``data`` is neither a mapping nor name/value pairs.
    """
    if data is None:
        return []
    if isinstance(data, Mapping):
        return list(data.items())
    try:
        pairs = [(name, value) for name, value in data]
    except (TypeError, ValueError):
        raise UsageError("Form.fill takes a mapping or (name, value) pairs, got "
                         f"{type(data).__name__}") from None
    for name, _ in pairs:
        if not isinstance(name, str):
            raise UsageError(f"Form.fill: a field name is a string, got {name!r}")
    return pairs


def _href_of(selector: Selector) -> str:
    """The link a parsel selector stands for: an attribute's value, or the ``href``
    (``src`` for a few tags) of an element."""
    root = selector.root
    if isinstance(root, str):
        return root
    value = selector.attrib.get("href") or selector.attrib.get("src")
    if value is None:
        raise UsageError(f"no link in the selected element {selector.get()[:60]!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class Failure:
    """A request that could not be fetched, was refused, or whose callback failed,
    as an errback sees it.

    ``traceback`` holds the formatted traceback when the failure is a spider error.
    """

    url: str
    final_url: str
    status: int | None
    error: str
    depth: int
    request: Request | None = None
    traceback: str | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The ``meta`` of the failed request (``{}`` when none)."""
        request = self.request
        return dict(request.meta) if request is not None and request.meta else {}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one :class:`FetchResult`: what the engine commits.

    ``items`` go to the output and ``follow`` to the frontier: strings are plain
    followed links (as-sent URLs), Requests are what the spider yielded (absolute).
    For a 3xx response, ``redirect`` is the target, which the frontier queues as a
    page of its own. ``retry`` asks for another attempt (nothing was given to the
    spider), not before ``retry_after`` seconds when the server said so. ``text``
    carries a robots.txt body. ``traceback`` is the formatted traceback of a spider
    error, and ``dropped`` counts the items the spider's ``process_item`` dropped.
    ``set_cookies`` are the response's raw ``Set-Cookie`` lines, for the engine's jar.
    ``raw`` is the response as fetched, only while a response cache is written.
    """

    request: Request
    final_url: str
    status: int | None
    error: str | None
    items: tuple[Item, ...] = ()
    follow: tuple[str | Request, ...] = ()
    redirect: str | None = None
    retry: bool = False
    retry_after: float | None = None
    text: str | None = None
    content_type: str = ""
    nbytes: int = 0
    timing: Timing = field(default_factory=Timing)
    traceback: str | None = None
    dropped: int = 0
    set_cookies: tuple[str, ...] = ()
    raw: RawResponse | None = None


_LINK_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (f.name, getattr(Request("http://link.invalid/"), f.name)) for f in fields(Request)
)
"""Every field of a plain link's :class:`Request` at the value ``__init__`` gives it
(read from one built the checked way, so a field added later is covered too)."""
