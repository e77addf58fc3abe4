"""A built-in demo site served on loopback: a link graph with tunable latency and size.

Used by the README's first command, by the tests and by the benchmarks. Every
page is generated from its number, so the site is the same on every run.

Routes:
    ``/``                 index linking into the graph
    ``/page/{i}``         page *i* of ``pages``: title, links, filler text
    ``/redirect/{i}``     302 to ``/page/{i}``
    ``/missing/{i}``      404
    ``/file.pdf``         a small non-HTML document
    ``/robots.txt``       allows everything
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from .servers import LoopbackServer

_FILLER = (
    "Crawlers fetch pages, parse them and follow their links; the way requests "
    "run concurrently decides how fast that goes and how much it costs. "
)


@dataclass(frozen=True)
class SiteSpec:
    """Shape of the demo site.

    Attributes:
        pages: number of pages in the link graph.
        links: graph links per page (a few extra special links are added on some pages).
        latency: seconds every response waits before it is sent.
        page_bytes: approximate size of each page's HTML.
    """

    pages: int = 300
    links: int = 8
    latency: float = 0.0
    page_bytes: int = 2048


def page_hrefs(spec: SiteSpec, i: int) -> list[str]:
    """The hrefs on page ``i``: relative, absolute-path and full URLs, unordered
    queries and fragments, plus (every tenth page) links that must be refused or fail."""
    n = spec.pages
    hrefs = [
        f"/page/{(i + 1) % n}",
        f"../page/{(i * 7 + 3) % n}",
        f"/page/{(i * 13 + 5) % n}?b=2&a=1#top",
        f"/page/{(i * 13 + 5) % n}?a=1&b=2",
    ]
    hrefs += [f"/page/{(i * 31 + k * 17 + 11) % n}" for k in range(max(0, spec.links - 4))]
    if i % 10 == 0:
        hrefs += [
            f"/missing/{i}",
            f"/redirect/{(i + 2) % n}",
            "/file.pdf",
            "http://offsite.invalid/elsewhere",
            "mailto:someone@example.invalid",
            "javascript:void(0)",
            "#section-2",
        ]
    return hrefs


def page_title(i: int) -> str:
    """The title of page ``i``."""
    return f"Demo page {i} \u2014 crawlkit"


def render_page(spec: SiteSpec, i: int) -> bytes:
    """The HTML of page ``i``, about ``spec.page_bytes`` long."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{page_title(i)}</title></head><body>\n"
        f'<h1 id="top">Page {i}</h1>\n<nav><ul>\n'
    )
    hrefs = page_hrefs(spec, i)
    nav = "".join(f'<li><a href="{h}">link {k}</a></li>\n' for k, h in enumerate(hrefs))
    parts = [head, nav, "</ul></nav>\n<main>\n"]
    size = sum(len(p) for p in parts)
    section = 0
    while size < spec.page_bytes:
        section += 1
        chunk = (
            f'<section><h2 id="s{section}">Section {section}</h2>\n'
            f"<p>{_FILLER * 3}</p>\n<ul><li>item {section}.1</li><li>item {section}.2</li></ul>"
            "</section>\n"
        )
        parts.append(chunk)
        size += len(chunk)
    parts.append("</main></body></html>\n")
    return "".join(parts).encode("utf-8")


def _index(spec: SiteSpec) -> bytes:
    count = min(spec.links, spec.pages)
    links = "".join(f'<a href="/page/{k}">page {k}</a>\n' for k in range(count))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>crawlkit demo site</title>'
        f"</head><body><h1>crawlkit demo site</h1>\n{links}</body></html>\n"
    ).encode()


def reachable_urls(spec: SiteSpec, base: str) -> set[str]:
    """Canonical URLs a same-host ``--follow`` crawl from ``base + "/"`` must try."""
    from ..urls import canonicalize, resolve_link

    start = canonicalize(base + "/")
    seen = {start}
    queue = [start]
    while queue:
        url = queue.pop()
        path = url[len(base):].split("?", 1)[0]
        if path == "/":
            hrefs = [f"/page/{k}" for k in range(min(spec.links, spec.pages))]
        elif path.startswith("/page/"):
            hrefs = page_hrefs(spec, int(path.rsplit("/", 1)[1]))
        else:
            continue
        for href in hrefs:
            target = resolve_link(url, href)
            if target is not None:
                target = canonicalize(target)
            if target is not None and target.startswith(base) and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


PRERENDER_PAGES = 5000


class DemoSite(LoopbackServer):
    """Serves the demo site on 127.0.0.1.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with DemoSite(SiteSpec(pages=500, latency=0.1)) as site:
            crawlkit.crawl(site.url + "/", follow=True)
    """

    def __init__(self, spec: SiteSpec | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.spec = spec or SiteSpec()
        # small sites are rendered once; big ones (benchmarks) page by page, on demand
        self._pages = ([render_page(self.spec, i) for i in range(self.spec.pages)]
                       if self.spec.pages <= PRERENDER_PAGES else None)
        self._index = _index(self.spec)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if self.spec.latency:
            await asyncio.sleep(self.spec.latency)
        path = request.path
        html = "text/html; charset=utf-8"
        if path.startswith("/page/"):
            tail = path[6:]
            if tail.isdigit() and int(tail) < self.spec.pages:
                i = int(tail)
                body = self._pages[i] if self._pages is not None else render_page(self.spec, i)
                return web.Response(body=body, content_type="text/html", charset="utf-8")
        elif path == "/":
            return web.Response(body=self._index, headers={"Content-Type": html})
        elif path.startswith("/redirect/"):
            raise web.HTTPFound(f"/page/{path[10:]}")
        elif path == "/file.pdf":
            return web.Response(body=b"%PDF-1.4\n%demo\n", content_type="application/pdf")
        elif path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")
        return web.Response(status=404, body=b"<html><title>Not found</title></html>",
                            headers={"Content-Type": html})
