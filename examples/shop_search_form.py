"""A search form sent by POST, with the form's hidden field, and the same search by GET.

Starts the loopback shop, reads /search-form, builds a POST Request from the
form (its action, its hidden ``token`` and a query), and parses the results;
then asks the same question with a GET and checks both agree.
Run: python examples/shop_search_form.py [--mode async|sync|...] [--query "product 1"]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Request, Spider
from crawlkit.lab.shop import ShopSite, search


class SearchSpider(Spider):
    """Fills the search form, POSTs it, and also sends the GET version."""

    def __init__(self, base_url: str = "", query: str = "") -> None:
        self.start_urls = [base_url + "/search-form"]
        self.query = query

    def parse(self, page: Page) -> Iterator[Request]:
        # the form's hidden fields (its token) go with the query, as a browser sends them
        yield page.form(css="form#search").fill(
            {"q": self.query}, callback=self.parse_results, meta={"how": "POST"})
        action = page.urljoin(page.css("form#search").attrib["action"])
        yield Request(action, callback=self.parse_results, data={"q": self.query},
                      method="GET", meta={"how": "GET"})

    def parse_results(self, page: Page) -> Iterator[dict[str, Any]]:
        names = page.css("li.product a::text").getall()
        yield {"how": page.meta["how"], "count": int(page.css("p.count::text").get("0")),
               "names": names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    parser.add_argument("--query", default="product 1")
    parser.add_argument("--pages", type=int, default=0, help="ignored (the shop is fixed)")
    args = parser.parse_args()

    with ShopSite() as site:
        result = crawlkit.crawl(SearchSpider(site.url, args.query), mode=args.mode)
        posts = len(site.posts)
    by_how = {item["how"]: item for item in result}
    expected = len(search(args.query))
    print(result.stats.summary())
    print(f"POST results: {by_how['POST']['count']}")
    print(f"GET results: {by_how['GET']['count']}")
    print(f"as expected: {by_how['POST']['count'] == by_how['GET']['count'] == expected}")
    print(f"posts seen by the server: {posts}")


if __name__ == "__main__":
    import shop_search_form

    shop_search_form.main()
