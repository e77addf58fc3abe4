"""Forms: ``page.form(...).fill(...)`` builds the request a browser would send."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import crawlkit
from crawlkit import MODES, FormError, Page, Request, Spider, UsageError
from crawlkit.lab.shop import ShopSite, search

# every mode runs in the slow suite; sync (no worker to start) in the fast one too
EVERY_MODE = [m if m == "sync" else pytest.param(m, marks=pytest.mark.slow) for m in MODES]

HTML = """<html><head><base href="http://shop.test/sub/"></head><body>
<form id="login" name="in" action="login?next=%2F" method="post">
  <input type="hidden" name="csrf" value="t0k">
  <input type="text" name="user">
  <input type="password" name="password" value="">
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="news" value="yes">
  <input type="radio" name="plan" value="free">
  <input type="radio" name="plan" value="pro" checked>
  <input type="text" name="off" value="x" disabled>
  <select name="lang"><option value="en">English<option value="fr" selected>French</select>
  <select name="size"><option>S<option>M</select>
  <select name="tags" multiple><option selected>a<option>b<option selected>c</select>
  <textarea name="note">hello</textarea>
  <input type="file" name="upload">
  <input type="submit" name="go" value="Log in">
  <button name="other" value="2">Other</button>
</form>
<form id="find" action="/search?stale=1#top"><input name="q" value="lamp">
  <button type="submit">Find</button></form>
<form id="empty" method="dialog"><input name="z" value="1"></form>
</body></html>"""


def _page(html: str = HTML, url: str = "http://shop.test/page") -> Page:
    return Page(url=url, final_url=url, status=200, headers={}, text=html, title=None,
                links=(), depth=0, content_type="text/html", base_url="http://shop.test/sub/")


def test_a_form_keeps_hidden_fields_and_defaults_like_a_browser():
    form = _page().form(formid="login")
    assert form.action == "http://shop.test/sub/login?next=%2F"
    assert form.method == "POST"
    assert form.fields == (
        ("csrf", "t0k"), ("user", ""), ("password", ""), ("remember", "on"), ("plan", "pro"),
        ("lang", "fr"), ("size", "S"), ("tags", "a"), ("tags", "c"), ("note", "hello"),
        ("go", "Log in"),
    )


def test_fill_replaces_adds_and_removes_fields():
    form = _page().form(formname="in")
    request = form.fill({"user": "ada", "password": "pw", "tags": ["b"], "go": None,
                         "extra": 3}, callback="after", meta={"k": 1}, priority=5)
    assert request.method == "POST" and request.callback == "after"
    assert request.meta == {"k": 1} and request.priority == 5
    assert request.url == "http://shop.test/sub/login?next=%2F"
    assert ("Content-Type", "application/x-www-form-urlencoded") in request.headers
    assert parse_qsl(request.body.decode(), keep_blank_values=True) == [
        ("csrf", "t0k"), ("user", "ada"), ("password", "pw"), ("remember", "on"),
        ("plan", "pro"), ("lang", "fr"), ("size", "S"), ("tags", "b"), ("note", "hello"),
        ("extra", "3"),
    ]


def test_fill_takes_name_value_pairs_as_scrapy_formdata_does():
    form = _page().form(formname="in")
    request = form.fill([("user", "ada"), ("tags", "a"), ("tags", "b"), ("go", None)])
    sent = parse_qsl(request.body.decode(), keep_blank_values=True)
    assert ("user", "ada") in sent and ("go", "Log in") not in sent
    assert [value for name, value in sent if name == "tags"] == ["a", "b"]
    for bad in (["user"], 5):
        with pytest.raises(UsageError, match="fill"):
            form.fill(bad)  # type: ignore[arg-type]


def test_fill_takes_the_method_as_the_other_request_keywords():
    # Request keywords pass through fill(); method= among them, as Scrapy's from_response
    form = _page().form("#find")
    posted = form.fill({"q": "lamp"}, method="post")
    assert (posted.method, posted.url) == ("POST", "http://shop.test/search?stale=1")
    assert parse_qsl(posted.body.decode()) == [("q", "lamp")]
    got = _page().form(formid="login").fill({"user": "ada"}, method="GET")
    assert got.method == "GET" and got.body == b"" and "user=ada" in got.url


def test_a_get_form_replaces_the_actions_query():
    request = _page().form("#find").fill({"q": "desk lamp"})
    assert request.method == "GET" and request.body == b""
    assert request.url == "http://shop.test/search?q=desk+lamp"
    # an unknown method reads as GET; no action submits to the page itself
    empty = _page().form(formid="empty")
    assert (empty.method, empty.action) == ("GET", "http://shop.test/page")
    assert empty.fill().url == "http://shop.test/page?z=1"


def test_a_selector_inside_a_form_chooses_it():
    assert _page().form("input[name=q]").action == "http://shop.test/search?stale=1#top"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "3 forms match"),
    ({"formid": "nope"}, "no form \\(id='nope'\\)"),
    ({"css": "form", "formname": "in", "formid": "find"}, "no form"),
])
def test_no_form_or_many_is_a_form_error(kwargs, message):
    with pytest.raises(FormError, match=message) as caught:
        _page().form(**kwargs)
    assert isinstance(caught.value, UsageError)


def test_a_page_without_a_form():
    with pytest.raises(FormError, match="no form on http://shop.test/x"):
        _page("<p>nothing</p>", "http://shop.test/x").form()
    for ctype in ("application/json", "application/xml"):
        page = Page(url="http://shop.test/d", final_url="http://shop.test/d", status=200,
                    headers={}, text='{"form": 1}' if "json" in ctype else "<form id='f'/>",
                    title=None, links=(), depth=0, content_type=ctype)
        with pytest.raises(FormError, match="not an HTML page"):
            page.form()


def test_fields_of_a_disabled_fieldset_are_not_sent():
    # a browser leaves out every control of a disabled <fieldset> but those in its legend
    page = _page("""<form method="post" action="/x"><input name="a" value="1">
      <fieldset disabled><legend><input name="in_legend" value="2"></legend>
        <input name="b" value="3"><select name="c"><option>4</select>
        <fieldset><textarea name="d">5</textarea></fieldset>
        <input type="submit" name="locked" value="no"></fieldset>
      <fieldset><input name="e" value="6"></fieldset>
      <input type="submit" name="go" value="Go"></form>""")
    assert page.form().fields == (("a", "1"), ("in_legend", "2"), ("e", "6"), ("go", "Go"))


def test_checked_radios_and_boxes_send_what_a_browser_sends():
    # of two checked radios of a group the last one is checked; an empty value is sent empty
    page = _page("""<form><input type="radio" name="r" value="1" checked>
      <input type="radio" name="r" value="2" checked><input type="radio" name="s" checked>
      <input type="checkbox" name="c" value="" checked><input type="checkbox" name="d" checked>
      </form>""")
    assert page.form().fields == (("r", "2"), ("s", "on"), ("c", ""), ("d", "on"))


def test_textareas_and_options_read_as_a_browser_reads_them():
    # the HTML parser drops the newline that follows <textarea>; an option without a
    # value attribute has its text, whitespace stripped and collapsed
    page = _page("""<form><textarea name="t">\nline</textarea>
      <textarea name="u">\n\nkept</textarea><select name="s"><option> a \n  b </option>
      </select></form>""")
    assert page.form().fields == (("t", "line"), ("u", "\nkept"), ("s", "a b"))
    valued = _page('<form><select name="s"><option value="a  b">x</select></form>')
    assert valued.form().fields == (("s", "a  b"),)


def test_the_default_buttons_formaction_and_formmethod_win():
    # Enter submits through the default button, with its formaction and formmethod
    page = _page("""<form action="/a" method="get"><input name="q" value="1">
      <button formaction="/b?x=1" formmethod="post" name="go" value="x">Go</button>
      <button formaction="/c" name="other">Other</button></form>""")
    form = page.form()
    assert (form.method, form.action) == ("POST", "http://shop.test/b?x=1")
    assert form.fields == (("q", "1"), ("go", "x"))
    plain = _page("""<form action="/a" method="post"><input name="q" value="1">
      <input type="submit" value="Go"></form>""").form()
    assert (plain.method, plain.action) == ("POST", "http://shop.test/a")


OWNED = """<html><body><input name="before" form="login" value="0">
<form id="login" method="post" action="/in"><input name="user">
  <input name="stray" form="other" value="s"><input name="nowhere" form="nope" value="n">
  <input name="empty" form="" value="e"><input name="div" form="box" value="d">
  <button form="other" name="theirs" value="x" formaction="/wrong">Theirs</button></form>
<form id="other" action="/o"><input name="o" value="1"></form>
<input name="password" form="login"><select name="lang" form="login"><option>en</select>
<textarea name="t" form="login">hi</textarea>
<input type="radio" name="plan" value="free" form="login" checked>
<button form="login" name="go" value="1">Go</button>
<div id="box"></div><input name="loose" value="l"></body></html>"""


def test_controls_follow_their_form_attribute_in_and_out_of_the_form():
    # HTML's form owner: a control with form=ID belongs to the form with that id
    # (none when no form has it, even inside a form); without, to the form around it
    page = _page(OWNED, "http://shop.test/page")
    login = page.form(formid="login")
    assert (login.method, login.action) == ("POST", "http://shop.test/in")
    assert login.fields == (("before", "0"), ("user", ""), ("password", ""), ("lang", "en"),
                            ("t", "hi"), ("plan", "free"), ("go", "1"))
    request = login.fill({"user": "ada", "password": "pw"})
    assert parse_qsl(request.body.decode()) == [
        ("before", "0"), ("user", "ada"), ("password", "pw"), ("lang", "en"), ("t", "hi"),
        ("plan", "free"), ("go", "1")]
    # the button inside #login that names #other is #other's default button
    other = page.form(formid="other")
    assert (other.method, other.action) == ("GET", "http://shop.test/wrong")
    assert other.fields == (("stray", "s"), ("o", "1"), ("theirs", "x"))


def test_a_selector_on_a_control_outside_its_form_chooses_the_form_it_names():
    page = _page(OWNED, "http://shop.test/page")
    assert page.form("textarea[name=t]").action == "http://shop.test/in"
    assert page.form("input[name=stray]").action == "http://shop.test/wrong"
    with pytest.raises(FormError, match="no form \\(css="):
        page.form("input[name=nowhere]")


class SearchSpider(Spider):
    """Submits the shop's search form (POST, hidden token) and a missing form."""

    def __init__(self, base: str) -> None:
        self.start_urls = [base + "/search-form"]

    def parse(self, page: Page) -> Iterator[Request]:
        yield page.form(formid="search").fill({"q": "product 1"}, callback=self.results)
        yield page.follow("/search-form?again", callback=self.missing)

    def results(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {"count": int(page.css("p.count::text").get("0"))}

    def missing(self, page: Page) -> Iterator[Request]:
        yield page.form(formid="absent").fill()


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_the_shop_search_form_in_every_mode(mode):
    with ShopSite() as site:
        result = crawlkit.crawl(SearchSpider(site.url), mode=mode)
        posts = list(site.posts)
    counts = [item["count"] for item in result if "count" in item]
    assert counts == [len(search("product 1"))]
    assert len(posts) == 1 and b"token=s3arch" in posts[0]
    # a form that is not there fails the page that asked for it, with its reason
    errors = result.stats.errors
    assert len(errors) == 1
    reason = next(iter(errors))
    assert reason.startswith("spider error: FormError: no form (id='absent') on ")
    assert urlsplit(reason.split(" on ")[1].split(" ")[0]).query == "again"
