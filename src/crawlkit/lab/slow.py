"""A loopback site whose every page is slow, to hold hundreds of connections open.

``bench``'s memory workload crawls it with the concurrency as high as the page
count, so every request is in flight at once for seconds, and the crawl
process's memory at that moment shows what each in-flight request costs.

Routes: ``/page/{i}`` (a small page after a delay between ``latency_min`` and
``latency_max``, fixed per page), ``/robots.txt`` (allows everything, at once);
anything else is a 404.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from .servers import LoopbackServer


@dataclass(frozen=True)
class SlowSpec:
    """Shape of the slow site.

    Attributes:
        pages: number of pages (``/page/0`` ... ``/page/{pages-1}``).
        latency_min: seconds the fastest page waits before it is sent.
        latency_max: seconds the slowest page waits.
        page_bytes: approximate size of each page.
    """

    pages: int = 500
    latency_min: float = 2.0
    latency_max: float = 5.0
    page_bytes: int = 1024

    def latency(self, i: int) -> float:
        """The delay of page ``i``: spread evenly over the range, the same every run."""
        share = (i * 7919) % 1000 / 999
        return self.latency_min + share * (self.latency_max - self.latency_min)


class SlowSite(LoopbackServer):
    """Serves :class:`SlowSpec` pages on 127.0.0.1 and counts requests in flight.

    :attr:`peak_in_flight` is the most page requests the server held open at once
    since the last :meth:`reset_peak`: the concurrency the crawl really reached.
    """

    def __init__(self, spec: SlowSpec | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.spec = spec or SlowSpec()
        # both counters are touched only by handlers on the server's event loop
        self.in_flight = 0
        self.peak_in_flight = 0
        filler = b"<p>" + b"slow " * max(1, self.spec.page_bytes // 5) + b"</p>"
        self._body = b"<!DOCTYPE html><html><head><title>slow</title></head><body>" + filler

    def urls(self) -> list[str]:
        """Every page's URL."""
        return [f"{self.url}/page/{i}" for i in range(self.spec.pages)]

    def reset_peak(self) -> None:
        """Start counting the peak afresh (between two measured crawls)."""
        self.peak_in_flight = self.in_flight

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        path = request.path
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")
        tail = path[6:] if path.startswith("/page/") else ""
        if not (tail.isdigit() and int(tail) < self.spec.pages):
            return web.Response(status=404, body=b"<html><title>Not found</title></html>",
                                content_type="text/html")
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.spec.latency(int(tail)))
        finally:
            self.in_flight -= 1
        return web.Response(body=self._body + f"<p>{tail}</p></body></html>".encode(),
                            content_type="text/html", charset="utf-8")
