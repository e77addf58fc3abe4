"""A JSON API, page by page: read ``page.json()``, follow its ``next`` URL.

Starts the loopback shop and reads /api/products?page=1, 2, ... until ``next``
is null, yielding one item per product.
Run: python examples/shop_json_api.py [--mode async|sync|...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Request, Spider
from crawlkit.lab.shop import PRODUCTS, ShopSite, product


class ApiSpider(Spider):
    """Yields the products of every API page; the next page comes from the body."""

    def __init__(self, base_url: str = "") -> None:
        self.start_urls = [base_url + "/api/products?page=1"]

    def parse(self, page: Page) -> Iterator[dict[str, Any] | Request]:
        data = page.json()
        for entry in data["products"]:
            yield {"id": entry["id"], "sku": entry["sku"], "price": entry["price"],
                   "api_page": data["page"]}
        if data["next"]:
            yield page.follow(data["next"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    parser.add_argument("--pages", type=int, default=0, help="ignored (the shop is fixed)")
    args = parser.parse_args()

    with ShopSite() as site:
        result = crawlkit.crawl(ApiSpider(site.url), mode=args.mode)
    items = sorted(result, key=lambda item: item["id"])
    matches = [(i["sku"], i["price"]) for i in items] == [
        (product(k).sku, product(k).price) for k in range(PRODUCTS)]
    print(result.stats.summary())
    print(f"products: {len(items)}")
    print(f"api pages: {len({item['api_page'] for item in items})}")
    print(f"matches the shop: {matches}")


if __name__ == "__main__":
    import shop_json_api

    shop_json_api.main()
