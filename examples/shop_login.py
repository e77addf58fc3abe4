"""Log in through a form (CSRF cookie + hidden token), then scrape the members' area.

Starts the loopback shop, reads /login, fills the login form with
``page.form(...).fill(...)`` (the hidden ``csrf`` field comes with it), and follows
the redirect to /members/ and its reports. The crawl keeps cookies
(``cookies=True``): the shop's ``csrf`` cookie goes back with the POST and its
``session`` cookie with every members' page. The same crawl without cookies is
refused at the login, as a browser without cookies would be.
Run: python examples/shop_login.py [--mode async|sync|...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import crawlkit
from crawlkit import Page, Request, Spider
from crawlkit.lab.shop import MEMBER_PAGES, PASSWORD, USER, ShopSite


class LoginSpider(Spider):
    """Logs in, then yields one item per members' report."""

    def __init__(self, base_url: str = "", user: str = USER, password: str = PASSWORD) -> None:
        self.start_urls = [base_url + "/login"]
        self.user = user
        self.password = password

    def parse(self, page: Page) -> Iterator[Request]:
        form = page.form(formid="login")
        yield form.fill({"user": self.user, "password": self.password},
                        callback=self.after_login)

    def after_login(self, page: Page) -> Iterator[Request | dict[str, Any]]:
        # the POST answered 302 to /members/: this is the members' index
        error = page.css("p.error::text").get()
        if error is not None:
            yield {"login": "refused", "why": error}
            return
        yield {"login": "ok", "at": page.url.partition("://")[2].partition("/")[2]}
        yield from page.follow_all(css="ul.reports a", callback=self.parse_report)

    def parse_report(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {"report": page.css("h1.report::text").get()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="async", choices=crawlkit.MODES)
    parser.add_argument("--pages", type=int, default=0, help="ignored (the shop is fixed)")
    args = parser.parse_args()

    with ShopSite() as site:
        result = crawlkit.crawl(LoginSpider(site.url), mode=args.mode, cookies=True)
        stateless = crawlkit.crawl(LoginSpider(site.url), mode=args.mode)
    logins = [item for item in result if "login" in item]
    reports = sorted(item["report"] for item in result if "report" in item)
    print(result.stats.summary())
    print(f"login: {logins[0]['login']} (at /{logins[0].get('at', '')})")
    print(f"reports: {len(reports)}")
    print(f"all reports: {reports == [f'Members report {k}' for k in range(MEMBER_PAGES)]}")
    refused = [item for item in stateless if "login" in item]
    print(f"without cookies: login {refused[0]['login']}, "
          f"reports {sum('report' in item for item in stateless)}")


if __name__ == "__main__":
    import shop_login

    shop_login.main()
