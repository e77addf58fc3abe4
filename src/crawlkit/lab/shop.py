"""A small shop served on loopback: what real scraping jobs look like, for examples and tests.

Every page is generated from numbers, so the shop is the same on every run and a
test can compute what a spider must find (:func:`product`, :func:`category_of`).

Routes:
    ``/``                           home: links to the categories, the search form, login
    ``/category/{slug}?page=N``     a listing, :data:`PER_PAGE` products a page, "next" link
    ``/product/{i}``                name, price, SKU, stock and breadcrumbs of product *i*
    ``/api/products?page=N``        the same products as JSON, paginated, with a ``next`` URL
    ``/search?q=...``               results for a query (GET)
    ``/search`` (POST form)         the same results, the query in an urlencoded body
    ``/search-form``                the form above, with a hidden ``token`` field
    ``/login`` (GET, POST)          a login form with a CSRF token; POST sets a session cookie
    ``/members/``, ``/members/{k}`` members-only pages (redirect to /login without a session)
    ``/robots.txt``                 allows everything, lists ``/sitemap_index.xml``
    ``/sitemap_index.xml``          a sitemap index of the three sitemaps below
    ``/sitemap-pages.xml``          home and category listings (plain XML)
    ``/sitemap-products.xml.gz``    every product, a gzip file (no Content-Encoding)
    ``/sitemap-api.xml.gz``         the API pages, gzip served with ``Content-Encoding: gzip``
    ``/sitemap-broken.xml``         malformed XML, for error handling
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import html
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from aiohttp import web

from .servers import LoopbackServer

CATEGORIES = ("books", "games", "tools")
"""Category slugs, in the order the home page lists them."""
PRODUCTS = 75
"""Products in the shop; product *i* belongs to ``CATEGORIES[i % 3]``."""
PER_PAGE = 10
"""Products per listing or API page."""
USER, PASSWORD = "ada", "lovelace"
"""The one account the login form accepts."""
MEMBER_PAGES = 5


@dataclass(frozen=True)
class Product:
    """One product as its page shows it."""

    id: int
    name: str
    price: str
    sku: str
    in_stock: bool
    category: str


def product(i: int) -> Product:
    """Product ``i`` (0 <= i < :data:`PRODUCTS`)."""
    return Product(
        id=i,
        name=f"Product {i}",
        price=f"{5 + (i * 37) % 9000 / 100:.2f}",
        sku=f"SKU-{i:05d}",
        in_stock=i % 4 != 0,
        category=category_of(i),
    )


def category_of(i: int) -> str:
    """The category slug of product ``i``."""
    return CATEGORIES[i % len(CATEGORIES)]


def category_products(slug: str) -> list[int]:
    """Ids of the products listed under ``slug``, in listing order."""
    return [i for i in range(PRODUCTS) if category_of(i) == slug]


def search(query: str) -> list[int]:
    """Ids of the products whose name contains ``query`` (case-insensitive)."""
    q = query.strip().lower()
    return [i for i in range(PRODUCTS) if q and q in product(i).name.lower()]


def _pages(count: int) -> int:
    return max(1, -(-count // PER_PAGE))


def _doc(title: str, body: str) -> web.Response:
    text = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)} \u2014 crawlkit shop</title></head>\n"
            f"<body>\n{body}\n</body></html>\n")
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def _listing(ids: list[int]) -> str:
    rows = "".join(
        f'<li class="product"><a href="/product/{i}">{product(i).name}</a> '
        f'<span class="price">{product(i).price}</span></li>\n' for i in ids)
    return f'<ul class="products">\n{rows}</ul>'


def _page_number(request: web.BaseRequest) -> int:
    raw = request.query.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) >= 1 else 0


def _token(seed: str) -> str:
    return hashlib.sha256(f"shop:{seed}".encode()).hexdigest()[:32]


def _urlset(base: str, paths: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{base}{p}</loc></url>\n" for p in paths)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{urls}</urlset>\n").encode()


class ShopSite(LoopbackServer):
    """Serves the shop on 127.0.0.1; see the module docstring for its routes.

    Attributes:
        posts: the bodies of every POST to ``/search`` (for tests).
        latency: seconds each response waits before it is sent.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        super().__init__(host, port)
        self.latency = latency
        self.posts: list[bytes] = []
        self._sessions: set[str] = set()

    def _csrf(self, request: web.BaseRequest) -> str:
        """A token bound to the client's ``csrf`` cookie (set with the form)."""
        return _token(request.cookies.get("csrf", ""))

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        path = request.path
        if path == "/":
            cats = "".join(f'<li><a href="/category/{c}">{c.title()}</a></li>' for c in CATEGORIES)
            return _doc("Home", f'<h1>crawlkit shop</h1>\n<ul class="categories">{cats}</ul>\n'
                                '<a href="/search-form">Search</a> <a href="/login">Log in</a>')
        if path.startswith("/category/"):
            return self._category(request, path[len("/category/"):])
        if path.startswith("/product/"):
            return self._product(path[len("/product/"):])
        if path == "/api/products":
            return self._api(request)
        if path == "/search-form":
            return _doc("Search", '<form id="search" action="/search" method="post">'
                                  '<input type="hidden" name="token" value="s3arch">'
                                  '<input type="text" name="q" value="">'
                                  '<input type="submit" value="Search"></form>')
        if path == "/search":
            return await self._search(request)
        if path == "/login":
            return await self._login(request)
        if path.startswith("/members/"):
            return self._members(request, path[len("/members/"):])
        if path == "/robots.txt":
            return web.Response(text=f"User-agent: *\nAllow: /\n\nSitemap: {self.url}"
                                     "/sitemap_index.xml\n", content_type="text/plain")
        return self._sitemap(path)

    def _category(self, request: web.BaseRequest, slug: str) -> web.StreamResponse:
        if slug not in CATEGORIES:
            raise web.HTTPNotFound()
        ids = category_products(slug)
        page, pages = _page_number(request), _pages(len(ids))
        if not 1 <= page <= pages:
            raise web.HTTPNotFound()
        chunk = ids[(page - 1) * PER_PAGE:page * PER_PAGE]
        nxt = (f'<a class="next" rel="next" href="/category/{slug}?page={page + 1}">Next</a>'
               if page < pages else "")
        return _doc(f"{slug.title()}, page {page}",
                    f'<h1>{slug.title()}</h1>\n{_listing(chunk)}\n<nav class="pages">{nxt}</nav>')

    def _product(self, tail: str) -> web.StreamResponse:
        if not tail.isdigit() or int(tail) >= PRODUCTS:
            raise web.HTTPNotFound()
        p = product(int(tail))
        stock = "in stock" if p.in_stock else "out of stock"
        return _doc(p.name, (
            f'<nav class="breadcrumbs"><a href="/">Home</a> &gt; '
            f'<a href="/category/{p.category}">{p.category.title()}</a> &gt; '
            f"<span>{p.name}</span></nav>\n"
            f'<div class="product" data-id="{p.id}"><h1 class="name">{p.name}</h1>\n'
            f'<p>Price: <span class="price">{p.price}</span></p>\n'
            f'<p>SKU: <span class="sku">{p.sku}</span></p>\n'
            f'<p class="stock">{stock}</p></div>'))

    def _api(self, request: web.BaseRequest) -> web.StreamResponse:
        page, pages = _page_number(request), _pages(PRODUCTS)
        if not 1 <= page <= pages:
            return web.json_response({"error": "no such page"}, status=404)
        ids = range((page - 1) * PER_PAGE, min(PRODUCTS, page * PER_PAGE))
        data = {
            "page": page,
            "pages": pages,
            "products": [{"id": i, "name": product(i).name, "price": product(i).price,
                          "sku": product(i).sku, "url": f"/product/{i}"} for i in ids],
            "next": f"/api/products?page={page + 1}" if page < pages else None,
        }
        return web.json_response(data)

    async def _search(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "POST":
            raw = await request.read()
            self.posts.append(raw)
            form = parse_qs(raw.decode("utf-8", "replace"))
            if form.get("token") != ["s3arch"]:
                return _doc("Search", "<p class=\"error\">missing form token</p>")
            query = form.get("q", [""])[0]
        else:
            query = request.query.get("q", "")
        ids = search(query)
        return _doc(f"Search: {query}", f'<h1>Results for <q>{html.escape(query)}</q></h1>\n'
                                        f'<p class="count">{len(ids)}</p>\n{_listing(ids)}')

    async def _login(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "POST":
            form = parse_qs((await request.read()).decode("utf-8", "replace"))
            ok = (form.get("csrf") == [self._csrf(request)]
                  and form.get("user") == [USER] and form.get("password") == [PASSWORD])
            if not ok:
                return _doc("Log in", '<p class="error">wrong user, password or token</p>')
            session = secrets.token_hex(8)
            self._sessions.add(session)
            found = web.HTTPFound("/members/")
            found.set_cookie("session", session, path="/", httponly=True)
            raise found
        seed = request.cookies.get("csrf") or secrets.token_hex(8)
        token = _token(seed)
        response = _doc("Log in", (
            '<form id="login" action="/login" method="post">'
            f'<input type="hidden" name="csrf" value="{token}">'
            '<input type="text" name="user"><input type="password" name="password">'
            '<input type="submit" value="Log in"></form>'))
        response.set_cookie("csrf", seed, path="/")
        return response

    def _members(self, request: web.BaseRequest, tail: str) -> web.StreamResponse:
        if request.cookies.get("session") not in self._sessions:
            raise web.HTTPFound("/login")
        if tail == "":
            links = "".join(f'<li><a href="/members/{k}">Report {k}</a></li>'
                            for k in range(MEMBER_PAGES))
            return _doc("Members", f'<h1>Members</h1><ul class="reports">{links}</ul>')
        if not tail.isdigit() or int(tail) >= MEMBER_PAGES:
            raise web.HTTPNotFound()
        return _doc(f"Report {tail}", f'<h1 class="report">Members report {tail}</h1>')

    def _sitemap(self, path: str) -> web.StreamResponse:
        base = self.url
        if path == "/sitemap_index.xml":
            maps = "".join(f"<sitemap><loc>{base}{p}</loc></sitemap>\n" for p in
                           ("/sitemap-pages.xml", "/sitemap-products.xml.gz",
                            "/sitemap-api.xml.gz"))
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                    f"{maps}</sitemapindex>\n").encode()
            return web.Response(body=body, content_type="application/xml")
        if path == "/sitemap-pages.xml":
            paths = ["/"] + [f"/category/{c}" for c in CATEGORIES]
            return web.Response(body=_urlset(base, paths), content_type="application/xml")
        if path == "/sitemap-products.xml.gz":
            body = gzip.compress(_urlset(base, [f"/product/{i}" for i in range(PRODUCTS)]),
                                 mtime=0)
            return web.Response(body=body, content_type="application/gzip")
        if path == "/sitemap-api.xml.gz":
            paths = [f"/api/products?page={k}" for k in range(1, _pages(PRODUCTS) + 1)]
            return web.Response(body=gzip.compress(_urlset(base, paths), mtime=0),
                                headers={"Content-Type": "application/xml",
                                         "Content-Encoding": "gzip"})
        if path == "/sitemap-broken.xml":
            return web.Response(body=b'<?xml version="1.0"?><urlset><url><loc>oops</url>',
                                content_type="application/xml")
        raise web.HTTPNotFound(body=json.dumps({"path": path}).encode())
