"""A crawlkit Spider that walks a paginated listing, one "next page" at a time.

Starts the demo site on 127.0.0.1 and treats /page/i as page i of a listing: the
spider yields every <li> under <section> as an item tagged with its page number,
and yields only the URL of /page/{i+1} until --pages pages have been read.
Run: python examples/paginated_listing_spider.py [--pages N] [--mode async|sync|...]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Spider
from crawlkit.lab.demo import DemoSite, SiteSpec

_PAGE_NUMBER = re.compile(r"/page/(\d+)$")


class ListingSpider(Spider):
    """Reads listing pages 0 .. last_page - 1, following "next" only."""

    def __init__(self, base_url: str, last_page: int) -> None:
        self.base_url = base_url
        self.last_page = last_page
        self.start_urls = [f"{base_url}/page/0"]

    def parse(self, page: Page) -> Iterator[dict[str, Any] | str]:
        match = _PAGE_NUMBER.search(page.url)
        if match is None:
            return
        number = int(match.group(1))
        for li in page.soup.select("section li"):
            yield {"page": number, "item": li.get_text(strip=True)}
        if number + 1 < self.last_page:
            yield f"/page/{number + 1}"  # relative: resolved against page.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    args = parser.parse_args()

    # The site has more pages than the listing reads, so stopping is the spider's job.
    with DemoSite(SiteSpec(pages=args.pages + 10)) as site:
        spider = ListingSpider(site.url, last_page=args.pages)
        result = crawlkit.crawl(spider, mode=args.mode)

    # Each page is requested only after the previous one was parsed, so items
    # arrive in listing order whatever the mode.
    order = [item["page"] for item in result]
    listing_pages = sorted(set(order))
    in_order = order == sorted(order) and listing_pages == list(range(args.pages))
    print(f"first items: {[item['item'] for item in result[:3]]}")
    print(result.stats.summary())
    print(f"items: {len(result)}")
    print(f"listing pages in order: {in_order}")
    print(f"pages: {len(listing_pages)}")


if __name__ == "__main__":
    # Run main() from this file imported under its own name, not as __main__: the
    # spider is pickled by reference, and the gevent mode's child process can import
    # "paginated_listing_spider" (this directory is on its path) but not this script's __main__.
    import paginated_listing_spider

    paginated_listing_spider.main()
