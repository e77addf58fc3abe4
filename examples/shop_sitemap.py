"""A sitemap spider: robots.txt -> sitemap index -> gzip sitemaps, routed by rules.

Starts the loopback shop; the spider has only ``sitemap_urls`` (robots.txt, whose
``Sitemap:`` line names the index) and ``sitemap_rules``: product URLs go to
``parse_product``, API URLs to ``parse_api``; entries matching no rule are skipped.
Run: python examples/shop_sitemap.py [--mode async|sync|...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Spider
from crawlkit.lab.shop import PRODUCTS, ShopSite


class SitemapShopSpider(Spider):
    """Everything from the sitemaps; no other seed."""

    sitemap_rules = [(r"/product/\d+$", "parse_product"), (r"/api/products", "parse_api")]

    def __init__(self, base_url: str = "") -> None:
        self.sitemap_urls = [base_url + "/robots.txt"]

    def parse_product(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {"kind": "product", "sku": page.css(".sku::text").get()}

    def parse_api(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {"kind": "api", "page": page.json()["page"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    parser.add_argument("--pages", type=int, default=0, help="ignored (the shop is fixed)")
    args = parser.parse_args()

    with ShopSite() as site:
        result = crawlkit.crawl(SitemapShopSpider(site.url), mode=args.mode)
    products = sorted(i["sku"] for i in result if i["kind"] == "product")
    api_pages = sorted(i["page"] for i in result if i["kind"] == "api")
    print(result.stats.summary())
    print(f"products: {len(products)}")
    print(f"all products: {products == [f'SKU-{k:05d}' for k in range(PRODUCTS)]}")
    print(f"api pages: {api_pages}")


if __name__ == "__main__":
    import shop_sitemap

    shop_sitemap.main()
