"""The values a spider builds and receives: Request, Page, Failure."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from crawlkit import Request
from crawlkit.errors import InvalidURL, UsageError
from crawlkit.models import Failure, Page, is_textual
from crawlkit.urls import canonicalize, safe_url


class Shop:
    def parse_item(self, page: Page) -> None:
        return None


def test_url_is_sent_as_given_only_made_safe() -> None:
    r = Request("HTTP://Example.COM/a b?z=1&a=2&flag&x=%2F#frag")
    assert r.url == "http://example.com/a%20b?z=1&a=2&flag&x=%2F"
    assert safe_url("https://bücher.de/ä") == "https://xn--bcher-kva.de/%C3%A4"
    assert safe_url("http://h/p?q=%") == "http://h/p?q=%25"
    assert safe_url(r.url) == r.url


def test_bad_url_is_a_typed_error() -> None:
    with pytest.raises(InvalidURL):
        Request("ftp://example.com/")
    with pytest.raises(InvalidURL):
        Request("/relative")


def test_callback_stored_by_name_and_request_pickles() -> None:
    r = Request("http://h/p", callback=Shop().parse_item, meta={"cat": "books", "n": [1, 2]},
                priority=5, errback="on_error")
    assert r.callback == "parse_item" and r.errback == "on_error"
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.meta == {"cat": "books", "n": [1, 2]}


def test_lambda_callback_is_refused() -> None:
    with pytest.raises(UsageError, match="spider method"):
        Request("http://h/", callback=lambda page: None)


def test_form_data_and_json_bodies() -> None:
    form = Request("http://h/search", data={"q": "lamp shade", "page": 2})
    assert form.method == "POST" and form.body == b"q=lamp+shade&page=2"
    assert ("Content-Type", "application/x-www-form-urlencoded") in form.headers
    as_get = Request("http://h/search?x=1", method="get", data=[("q", "a"), ("q", "b")])
    assert as_get.method == "GET" and as_get.body == b"" and not as_get.headers
    assert as_get.url == "http://h/search?x=1&q=a&q=b"  # a GET form goes in the query
    js = Request("http://h/api", json={"page": 2})
    assert js.method == "POST" and js.body == b'{"page":2}'
    assert dict(js.headers)["Content-Type"] == "application/json"
    with pytest.raises(UsageError, match="one of"):
        Request("http://h/", data={"a": 1}, json={"b": 2})


def test_meta_must_be_json() -> None:
    with pytest.raises(UsageError, match="not JSON-serialisable"):
        Request("http://h/", meta={"when": object()})
    with pytest.raises(UsageError, match="must be a dict"):
        Request("http://h/", meta=[1, 2])  # type: ignore[arg-type]


def test_fingerprint_is_canonical_url_plus_method_and_body() -> None:
    a = Request("http://h/p?b=2&a=1")
    b = Request("http://h/p?a=1&b=2#x")
    assert a.url != b.url and a.fingerprint == b.fingerprint == canonicalize(b.url)
    post1 = Request("http://h/p", data={"q": "1"})
    post2 = Request("http://h/p", data={"q": "2"})
    assert len({a.fingerprint, post1.fingerprint, post2.fingerprint}) == 3
    assert Request("http://h/p", data={"q": "1"}).fingerprint == post1.fingerprint


def test_round_trip_through_dict_and_replace() -> None:
    r = Request("http://h/p?z=1&a", callback="parse_item", data={"q": "x"}, meta={"k": 1},
                priority=-3, dont_filter=True, depth=2, hops=("http://h/old",), attempt=1)
    assert Request.from_dict(r.to_dict()) == r
    assert Request.from_dict(Request("http://h/").to_dict()) == Request("http://h/")
    again = replace(r, attempt=2)
    assert again.attempt == 2 and again.body == r.body and again.url == r.url
    assert Request("http://h/").plain and not r.plain


def _page(text: str, ctype: str = "text/html", url: str = "http://h/dir/page",
          base: str = "", request: Request | None = None) -> Page:
    return Page(url, url, 200, {"content-type": ctype}, text, None, (), 0, ctype,
                body=text.encode(), request=request, base_url=base or url)


def test_page_selectors_follow_and_meta() -> None:
    html = ('<html><body><h1>Lamp</h1><a class="p" href="/product/1">a</a>'
            '<a class="p" href="item?id=2&b=1">b</a><a class="p" href="mailto:x@y">m</a>'
            "</body></html>")
    page = _page(html, request=Request("http://h/dir/page", meta={"cat": "lamps"}))
    assert page.css("h1::text").get() == "Lamp"
    assert page.xpath("//h1/text()").get() == "Lamp"
    assert page.meta == {"cat": "lamps"}
    reqs = page.follow_all(css="a.p", callback="parse_item", meta={"from": "list"})
    assert [r.url for r in reqs] == ["http://h/product/1", "http://h/dir/item?id=2&b=1"]
    assert all(r.callback == "parse_item" and r.meta == {"from": "list"} for r in reqs)
    one = page.follow(page.css("a.p::attr(href)")[1])
    assert one.url == "http://h/dir/item?id=2&b=1" and one.callback is None
    with pytest.raises(UsageError):
        page.follow(page.css("h1")[0])


def test_base_href_is_respected() -> None:
    page = _page('<a href="x">x</a>', base="http://h/other/")
    assert page.urljoin("x") == "http://h/other/x"
    assert page.follow("x").url == "http://h/other/x"


def test_json_and_textual_types() -> None:
    page = _page('{"items": [1, 2]}', ctype="application/json")
    assert page.json() == {"items": [1, 2]}
    assert page.selector.jmespath("items[1]").get() == 2
    for ctype in ("text/plain", "application/xml", "application/rss+xml", "application/json",
                  "application/ld+json", "application/javascript", ""):
        assert is_textual(ctype), ctype
    assert not is_textual("image/png") and not is_textual("application/pdf")


def test_failure_carries_request_and_meta() -> None:
    req = Request("http://h/x", meta={"a": 1})
    failure = Failure(req.url, req.url, 500, "http 500", 0, request=req, traceback="tb")
    assert failure.meta == {"a": 1} and failure.request is req


@pytest.mark.parametrize("bad", [{"headers": {"Bad Name": "x"}}, {"headers": [("X", "a\r\nb")]},
                                 {"method": "GE T"}])
def test_headers_and_method_that_cannot_be_sent_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        Request("http://h/", **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://example.com/a%20b?z=1&a=2&flag", "https://h/",
                                 "http://127.0.0.1:8080/p/1?x=%2F"])
def test_a_plain_link_request_is_the_checked_one(url: str) -> None:
    fast = Request.link(url, 3, 1.5)
    checked = Request(url, depth=3, queued_at=1.5)
    assert fast == checked
    assert hash(fast) == hash(checked)
    assert fast.plain and fast.fingerprint == checked.fingerprint
    assert fast.to_dict() == checked.to_dict()
    assert pickle.loads(pickle.dumps(fast)) == checked
