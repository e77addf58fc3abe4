"""Sitemap parsing: urlsets, indexes, gzip, robots.txt lines, and what is refused."""

from __future__ import annotations

import gzip

import pytest

from crawlkit.sitemaps import SitemapError, parse_sitemap, sitemaps_in_robots

URLSET = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
          b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
          b"<url><loc> http://h/a </loc><lastmod>2024-01-01</lastmod></url>"
          b"<url><loc>http://h/b?x=1&amp;y=2</loc></url></urlset>")
INDEX = (b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         b"<sitemap><loc>http://h/s1.xml.gz</loc></sitemap></sitemapindex>")


def test_urlset_and_index() -> None:
    assert parse_sitemap(URLSET, 10_000).locs == ("http://h/a", "http://h/b?x=1&y=2")
    assert parse_sitemap(URLSET, 10_000).kind == "urlset"
    index = parse_sitemap(INDEX, 10_000)
    assert index.kind == "sitemapindex" and index.locs == ("http://h/s1.xml.gz",)


def test_gzip_body_is_inflated_within_the_budget() -> None:
    assert parse_sitemap(gzip.compress(URLSET), 10_000).locs[0] == "http://h/a"
    big = URLSET.replace(b"</urlset>", b"<!--" + b"x" * 100_000 + b"--></urlset>")
    with pytest.raises(SitemapError, match="max_bytes"):
        parse_sitemap(gzip.compress(big), 50_000)
    with pytest.raises(SitemapError, match="truncated|bad gzip"):
        parse_sitemap(gzip.compress(URLSET)[:-30], 10_000)


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><urlset><url><loc>oops</url>',
    b"<html><body>not a sitemap</body></html>",
    b"",
    b"plain text",
])
def test_malformed_is_a_sitemap_error(body: bytes) -> None:
    with pytest.raises(SitemapError):
        parse_sitemap(body, 10_000)


def test_entities_are_not_resolved() -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b"<urlset><url><loc>http://h/&e;</loc></url></urlset>")
    try:
        result = parse_sitemap(xxe, 10_000)
    except SitemapError:
        return
    assert all("root:" not in loc for loc in result.locs)


def test_robots_sitemap_lines() -> None:
    text = "User-agent: *\nDisallow: /x\nSitemap: http://h/a.xml\nsitemap:http://h/b.xml.gz\n"
    assert sitemaps_in_robots(text) == ["http://h/a.xml", "http://h/b.xml.gz"]
