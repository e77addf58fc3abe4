from __future__ import annotations

from crawlkit.parse import (
    DEEP_TAGS,
    content_type_of,
    decode_body,
    detect_encoding,
    extract,
    is_html,
    make_soup,
)


def test_title_and_links_in_document_order_without_duplicates():
    html = """<html><head><title>  Hello
      World </title></head><body>
      <a href="/a">a</a><a href="b?y=2&x=1#f">b</a><a href="/a#again">a2</a>
      <a href="mailto:x@y">m</a><a>no href</a><area href="/map">
    </body></html>"""
    title, links = extract(html, "http://h/dir/")
    assert title == "Hello World"
    assert links == ("http://h/a", "http://h/dir/b?y=2&x=1", "http://h/map")  # as written


def test_links_keep_their_spelling_and_the_base_url_is_returned():
    html = """<base href="/in/"><a href="p?b=2&a=1">1</a><a href="p?a=1&b=2">dup</a>
      <a href="q?flag">2</a><a href="r%2Fs">3</a>"""
    found = extract(html, "http://h/d/x")
    assert found[1] == ("http://h/in/p?b=2&a=1", "http://h/in/q?flag", "http://h/in/r%2Fs")
    assert found.base_url == "http://h/in/"


def test_base_href_is_honoured():
    html = '<html><head><base href="http://other/base/"></head><a href="x">x</a></html>'
    assert extract(html, "http://h/")[1] == ("http://other/base/x",)


def test_first_title_and_first_base_with_href_win():
    html = ('<title>one</title><base target="_top"><base href><base href="http://o/b/">'
            '<base href="http://late/"><title>two</title><a href="x">x</a>')
    assert extract(html, "http://h/d/") == ("one", ("http://h/d/x",))  # an empty href counts
    html = '<base target="_top"><base href="http://o/b/"><a href="x">x</a>'
    assert extract(html, "http://h/d/") == (None, ("http://o/b/x",))


def test_area_links_keep_their_place_among_a_links():
    html = '<a href="/1">1</a><map><area href="/2"><area></map><a href="/3">3</a><area href="/4">'
    assert extract(html, "http://h/")[1] == ("http://h/1", "http://h/2", "http://h/3",
                                             "http://h/4")


def test_no_title_and_empty_document():
    assert extract("", "http://h/") == (None, ())
    assert extract("<p>just text", "http://h/") == (None, ())


def test_malformed_and_deeply_nested_html_still_parses():
    broken = "<html><title>t</title><body><div><a href='/x'>x<div></span></p><a href=/y>y"
    title, links = extract(broken, "http://h/")
    assert title == "t"
    assert links == ("http://h/x", "http://h/y")
    deep = "<title>deep</title>" + "<div>" * 100_000 + "<a href='/z'>z</a>"
    title, links = extract(deep, "http://h/")
    assert title == "deep"
    assert links == ("http://h/z",)


def test_encoding_order_bom_header_meta_default():
    latin = "<meta charset='iso-8859-1'><title>caf\xe9</title>".encode("latin-1")
    assert detect_encoding(b"\xef\xbb\xbfabc", {"content-type": "text/html; charset=latin-1"}) == (
        "utf-8", 3)
    assert detect_encoding(latin, {"content-type": "text/html; charset=utf-16"})[0] == "utf-16"
    assert detect_encoding(latin, {"content-type": "text/html"})[0] == "iso8859-1"
    assert detect_encoding(b"<p>", {})[0] == "utf-8"
    assert detect_encoding(b"<p>", {"content-type": "text/html; charset=bogus"})[0] == "utf-8"
    assert "caf\xe9" in decode_body(latin, {})


def test_invalid_bytes_become_replacement_characters():
    text = decode_body(b"<title>ok \xff\xfe bad</title>", {"content-type": "text/html"})
    assert "\ufffd" in text


def test_content_type_and_html_sniffing():
    assert content_type_of({"content-type": "Text/HTML; charset=utf-8"}) == "text/html"
    assert is_html("text/html", b"")
    assert is_html("application/xhtml+xml", b"")
    assert not is_html("application/pdf", b"<html>")
    assert is_html("", b"  <!doctype html>")
    assert not is_html("", b"%PDF-1.4")


def test_linear_scan_agrees_with_the_tree_parser_on_ordinary_pages():
    from crawlkit.lab.demo import SiteSpec, render_page
    from crawlkit.parse import extract_by_scan

    page = render_page(SiteSpec(page_bytes=50_000), 10).decode()
    assert extract_by_scan(page, "http://h/page/10") == extract(page, "http://h/page/10")
    based = '<base href="http://o/b/"><title>a &amp; b</title><a href=\'x\'>1</a><a href=y>2</a>'
    assert extract_by_scan(based, "http://h/") == extract(based, "http://h/")


def test_deep_nesting_takes_the_linear_path():
    from crawlkit import parse

    deep = "<title>deep</title>" + "<div>" * 100_000 + "<a href='/z'>z</a>"
    assert parse._unclosed_tags(deep) > parse.DEEP_TAGS // 2
    wide = "<title>wide</title>" + "<p>x</p>" * 20_000
    assert parse._unclosed_tags(wide) == 0  # many tags, all closed: the tree parser is used


def test_base_url_is_the_first_base_that_has_an_href():
    page = "http://h/dir/page"
    assert extract('<base target="_top"><BASE Href="http://o/b/?a&amp;b"><base href="/x">',
                   page).base_url == "http://o/b/?a&b"
    assert extract("<base target=_top><base href><base href='/late/'>", page).base_url == page
    assert extract("<basefont href=x><p data-base='<base'>no base</p>", page).base_url == page
    assert extract("<base data-href=x href='/y'>", page).base_url == "http://h/y"


def test_soup_on_an_xhtml_page_is_silent():
    # bs4 warns (an error in this suite) when an XML declaration is not followed by
    # <html within 500 characters, as in XHTML with a long comment or doctype
    xhtml = ('<?xml version="1.0" encoding="utf-8"?>\n<!-- ' + "c" * 600 + " -->\n"
             '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
             '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
             '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
             "<body><h1>Hi</h1></body></html>")
    soup = make_soup(xhtml)
    assert soup.h1.get_text() == "Hi"
    assert soup.title.get_text() == "X"


def test_links_to_anchors_of_one_target_give_it_once_in_first_place():
    anchors = "".join(f'<a href="b.html#s{i}">x</a>' for i in range(50))
    text = f'<a href="#top">t</a>{anchors}<a href="c.html">c</a><a href="b.html">b</a>'
    _, links = extract(text, "http://h/d/a.html")
    assert links == ("http://h/d/b.html", "http://h/d/c.html")


def test_the_cheap_depth_check_never_misses_a_deep_document():
    from crawlkit.parse import _maybe_deep, _unclosed_tags

    for text in ("<div>" * (DEEP_TAGS // 2 + 2) + "<br>" * (DEEP_TAGS // 2),
                 "<p>x</p>" * DEEP_TAGS, "<p>" * (DEEP_TAGS + 1), "< a" * (DEEP_TAGS * 2),
                 "<i></i><b>" * (DEEP_TAGS // 2 + 1)):
        deep = text.count("<") > DEEP_TAGS and _unclosed_tags(text) > DEEP_TAGS // 2
        assert _maybe_deep(text) or not deep


def test_a_utf8_page_is_parsed_from_its_bytes_and_others_from_their_text():
    from crawlkit.parse import decode_html

    page = "<title>café ¶</title><a href='/é'>x</a>"
    utf8 = {"content-type": "text/html; charset=utf-8"}
    text, raw = decode_html(page.encode(), utf8)
    assert (text, raw) == (page, page.encode())
    assert extract(text, "http://h/", raw) == ("café ¶", ("http://h/%C3%A9",))
    latin1 = {"content-type": "text/html; charset=latin-1"}
    assert decode_html(page.encode("latin-1"), latin1) == (page, None)
    assert decode_html(b"<title>a\xffb</title>", utf8)[1] is None  # a replacement character
    assert decode_html(b"\xef\xbb\xbf<title>t</title>", utf8) == ("<title>t</title>", None)
