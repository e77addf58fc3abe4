"""Small immutable values passed between the stages of a crawl.

All of them pickle, because the ``multiprocess`` and ``gevent`` strategies move
them between processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

Item = dict[str, Any]
"""What a spider yields and a sink writes: a JSON-serialisable dict."""


@dataclass(frozen=True, slots=True)
class Request:
    """One URL to fetch.

    Attributes:
        url: canonical absolute URL to request.
        depth: link distance from a seed (seeds are depth 0; a redirect target
            keeps the depth of the page that redirected).
        hops: the redirect chain that led here, oldest first (empty for a link).
        queued_at: ``time.perf_counter()`` when the request entered the queue.
        attempt: 0 for the first try, then 1, 2, ... for retries.
        purpose: ``"page"``, or ``"robots"`` for a robots.txt fetch.
    """

    url: str
    depth: int = 0
    hops: tuple[str, ...] = ()
    queued_at: float = 0.0
    attempt: int = 0
    purpose: str = "page"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a strategy got back for one :class:`Request`.

    ``error`` is ``None`` when an HTTP response arrived (whatever its status) and a
    short reason otherwise. ``headers`` keys are lower-case.
    """

    request: Request
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None
    started: float = 0.0
    first_byte: float = 0.0
    finished: float = 0.0


@dataclass(frozen=True, slots=True)
class Timing:
    """Where one page's time went, in seconds.

    Attributes:
        queued: from entering the frontier to the start of its fetch.
        ttfb: from the start of the fetch to the response headers.
        download: from the headers to the last byte of the body.
        parse: decoding, title and link extraction and the spider.
        transfer: moving the page to a worker process and the outcome back
            (``multiprocess`` only).
    """

    queued: float = 0.0
    ttfb: float = 0.0
    download: float = 0.0
    parse: float = 0.0
    transfer: float = 0.0


@dataclass(frozen=True)
class Page:
    """A downloaded HTML (or other) page, as a spider sees it.

    ``soup`` is built on first access (BeautifulSoup with the lxml builder), so a
    spider that only needs ``title`` and ``links`` never pays for the tree.
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

    @cached_property
    def soup(self) -> BeautifulSoup:
        """The page parsed by BeautifulSoup on the lxml builder."""
        from bs4 import BeautifulSoup

        return BeautifulSoup(self.text, "lxml")


@dataclass(frozen=True, slots=True)
class Failure:
    """A page that could not be fetched or was refused, as a spider sees it."""

    url: str
    final_url: str
    status: int | None
    error: str
    depth: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one :class:`FetchResult`: what the engine commits.

    ``items`` go to the output and ``follow`` URLs to the frontier. For a 3xx
    response, ``redirect`` is the target, which the frontier queues as a page of
    its own. ``retry`` asks for another attempt (nothing was given to the spider),
    not before ``retry_after`` seconds when the server said so. ``text`` carries
    a robots.txt body.
    """

    request: Request
    final_url: str
    status: int | None
    error: str | None
    items: tuple[Item, ...] = ()
    follow: tuple[str, ...] = ()
    redirect: str | None = None
    retry: bool = False
    retry_after: float | None = None
    text: str | None = None
    content_type: str = ""
    nbytes: int = 0
    timing: Timing = field(default_factory=Timing)
