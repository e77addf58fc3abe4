"""A crawlkit Spider that collects the <h2> section headings of every page.

Starts the demo site on 127.0.0.1 and crawls it with crawlkit.crawl(follow=True),
staying on /page/N URLs; the spider reads headings through page.soup (BeautifulSoup)
and yields one item per page: url, title and its list of headings.
Run: python examples/docs_headings_spider.py [--pages N] [--mode async|threadpool|...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Spider
from crawlkit.lab.demo import DemoSite, SiteSpec


class HeadingsSpider(Spider):
    """One item per page; the engine follows the links itself (follow=True)."""

    def parse(self, page: Page) -> Iterator[dict[str, Any]]:
        headings = [h2.get_text(strip=True) for h2 in page.soup.select("h2")]
        yield {"url": page.url, "title": page.title, "headings": headings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    args = parser.parse_args()

    with DemoSite(SiteSpec(pages=args.pages)) as site:
        result = crawlkit.crawl(
            [f"{site.url}/page/0"],
            mode=args.mode,
            spider=HeadingsSpider(),
            follow=True,
            # Only plain /page/N links: skips the demo's 404s, redirects, PDF and
            # the ?a=1&b=2 variants of pages.
            allow=[r"/page/\d+$"],
            max_pages=args.pages,
        )

    headings = sum(len(item["headings"]) for item in result)
    example = result[0] if len(result) else None
    if example is not None:
        print(f"e.g. {example['url']}: {example['headings']}")
    print(result.stats.summary())
    print(f"headings: {headings}")
    print(f"pages: {len(result)}")


if __name__ == "__main__":
    # Run main() from this file imported under its own name, not as __main__: the
    # spider is pickled by reference, and the gevent mode's child process can import
    # "docs_headings_spider" (this directory is on its path) but not this script's __main__.
    import docs_headings_spider

    docs_headings_spider.main()
