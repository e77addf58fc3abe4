"""Listing pages, then detail pages carrying data from the listing, exported as CSV.

Starts the loopback shop (crawlkit.lab.shop), walks each category's paginated
listing ("next" links), follows every product to its page with the category and
the listing page in ``meta``, and writes one CSV row per product.
Run: python examples/shop_listing_detail.py [--mode async|sync|...] [--out products.csv]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crawlkit
from crawlkit import Page, Request, Spider
from crawlkit.lab.shop import PRODUCTS, ShopSite, product

FIELDS = ("sku", "name", "price", "in_stock", "category", "listing_page")


class ShopSpider(Spider):
    """Home -> categories -> listing pages -> product pages."""

    def __init__(self, base_url: str = "") -> None:
        self.start_urls = [base_url + "/"]

    def parse(self, page: Page) -> Iterator[Request]:
        # the home page: one listing per category
        yield from page.follow_all(css="ul.categories a", callback=self.parse_listing,
                                   meta={"listing_page": 1})

    def parse_listing(self, page: Page) -> Iterator[Request]:
        category = page.url.rsplit("/", 1)[1].split("?")[0]
        number = page.meta["listing_page"]
        for link in page.css("li.product a"):
            yield page.follow(link, callback=self.parse_product,
                              meta={"category": category, "listing_page": number})
        for link in page.css("a.next"):
            yield page.follow(link, callback=self.parse_listing,
                              meta={"listing_page": number + 1})

    def parse_product(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {
            "sku": page.css(".sku::text").get(),
            "name": page.css("h1.name::text").get(),
            "price": page.css(".price::text").get(),
            "in_stock": page.css(".stock::text").get() == "in stock",
            "category": page.meta["category"],
            "listing_page": page.meta["listing_page"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    parser.add_argument("--out", help="CSV file (default: a temporary file)")
    parser.add_argument("--pages", type=int, default=0, help="ignored (the shop is fixed)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ShopSite() as site:
        out = Path(args.out or Path(tmp) / "products.csv")
        result = crawlkit.crawl(ShopSpider(site.url), mode=args.mode, out=str(out),
                                fields=FIELDS)
        with out.open(newline="", encoding="utf-8") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda row: row["sku"])

    expected = [product(i) for i in range(PRODUCTS)]
    matches = [(r["sku"], r["name"], r["price"], r["category"]) for r in rows] == [
        (p.sku, p.name, p.price, p.category) for p in expected]
    print(result.stats.summary())
    print(f"csv header: {','.join(FIELDS)}")
    print(f"products: {len(rows)}")
    print(f"matches the shop: {matches}")
    print(f"first row: {dict(rows[0]) if rows else None}")


if __name__ == "__main__":
    # imported under its own name so worker processes can unpickle the spider
    import shop_listing_detail

    shop_listing_detail.main()
