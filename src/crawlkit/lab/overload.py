"""A demo site that overloads: 503 beyond a fixed number of requests in flight, and
slower the more requests it is serving. For ``--autothrottle`` tests and benchmarks.

Routes:
    ``/``              index linking to every page
    ``/page/{i}``      page *i* of ``pages``, linking to its two neighbours
    ``/robots.txt``    allows everything (never refused: a 5xx there would block the crawl)
    ``/_stats``        the counters as JSON (for a crawl in another process)
    ``/_reset``        zero the counters

A request for a page or the index that arrives while ``capacity`` of them are served is
answered ``503`` after ``latency`` seconds (with ``Retry-After`` when ``retry_after``
is set); any other is served after ``latency + per_request * n`` seconds, ``n`` being
the requests then served, itself included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .servers import LoopbackServer


@dataclass(frozen=True)
class OverloadSpec:
    """Shape of the overload site.

    Attributes:
        pages: pages linked from the index.
        capacity: requests served at once; one more is refused with 503.
        latency: seconds every served request waits, at the least.
        per_request: seconds added per request in service (itself included).
        retry_after: the ``Retry-After`` seconds sent with a 503 (none when ``None``).
    """

    pages: int = 200
    capacity: int = 4
    latency: float = 0.02
    per_request: float = 0.005
    retry_after: float | None = None


class OverloadSite(LoopbackServer):
    """Serves the overload site on 127.0.0.1 and counts what it saw.

    The counters are written by the server's event loop only and read after the
    crawl (or, roughly, during it): no lock.

    Attributes:
        served: requests answered 200 (pages and the index).
        refused: requests answered 503.
        in_service: requests being served now (those being refused not counted).
        open: requests being answered now, served or refused: the crawler's pressure.
        peak: the most requests ever open at once.
        arrivals: for each request, in order, how many were open as it arrived,
            itself included.
    """

    def __init__(self, spec: OverloadSpec | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        super().__init__(host, port)
        self.spec = spec or OverloadSpec()
        self.served = 0
        self.refused = 0
        self.in_service = 0
        self.open = 0
        self.peak = 0
        self.arrivals: list[int] = []

    def reset(self) -> None:
        """Zero the counters (between crawls of the same site)."""
        self.served = self.refused = self.peak = self.requests = 0
        self.arrivals = []

    def counters(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict (what ``/_stats`` answers)."""
        return {"served": self.served, "refused": self.refused, "peak": self.peak,
                "arrivals": list(self.arrivals)}

    def page_urls(self) -> list[str]:
        """The absolute URL of every page."""
        return [f"{self.url}/page/{i}" for i in range(self.spec.pages)]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        path = request.path
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")
        if path == "/_stats":
            return web.json_response(self.counters())
        if path == "/_reset":
            self.reset()
            return web.json_response(self.counters())
        spec = self.spec
        if path == "/":
            body = "".join(f'<a href="/page/{i}">page {i}</a>\n' for i in range(spec.pages))
        elif path.startswith("/page/") and path[6:].isdigit() and int(path[6:]) < spec.pages:
            i = int(path[6:])
            body = (f"<h1>Page {i}</h1>\n<a href=\"/page/{(i + 1) % spec.pages}\">next</a>\n"
                    f"<a href=\"/page/{(i - 1) % spec.pages}\">previous</a>\n")
        else:
            return web.Response(status=404, text="not found")
        self.open += 1
        self.arrivals.append(self.open)
        self.peak = max(self.peak, self.open)
        try:
            if self.in_service >= spec.capacity:
                self.refused += 1
                await asyncio.sleep(spec.latency)
                headers = ({} if spec.retry_after is None
                           else {"Retry-After": f"{spec.retry_after:g}"})
                return web.Response(status=503, text="overloaded", headers=headers)
            self.in_service += 1
            try:
                await asyncio.sleep(spec.latency + spec.per_request * self.in_service)
            finally:
                self.in_service -= 1
        finally:
            self.open -= 1
        self.served += 1
        html = f"<!DOCTYPE html><html><head><title>Page</title></head><body>{body}</body></html>"
        return web.Response(text=html, content_type="text/html")
