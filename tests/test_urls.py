from __future__ import annotations

import pytest

from crawlkit import InvalidURL, canonicalize
from crawlkit.urls import MAX_URL_LENGTH, host_of, is_http_url, resolve_link, resolve_link_keyed


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("http://Example.COM", "http://example.com/"),
        ("HTTP://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a?a=1&b=2#frag", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a?z=1&a=2&z=0", "http://example.com/a?a=2&z=1&z=0"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        ("http://example.com/a%2Fb", "http://example.com/a%2Fb"),
        ("http://example.com/?empty=&x", "http://example.com/?empty=&x="),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("  http://example.com/trim  ", "http://example.com/trim"),
    ],
)
def test_canonicalize(raw, canonical):
    assert canonicalize(raw) == canonical


def test_query_order_does_not_matter():
    assert canonicalize("http://h/p?b=2&a=1") == canonicalize("http://h/p?a=1&b=2")


@pytest.mark.parametrize(
    "bad",
    ["example.com/x", "ftp://example.com/", "mailto:a@b.c", "http://", "http://host:99999/",
     "javascript:alert(1)", "http://exa mple.com/"],
)
def test_canonicalize_rejects(bad):
    with pytest.raises(InvalidURL):
        canonicalize(bad)
    assert not is_http_url(bad)


def test_invalid_url_is_a_value_error():
    with pytest.raises(ValueError):
        canonicalize("nope")


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("b", "http://h/dir/b"),
        ("../c?y=1&x=2#f", "http://h/c?y=1&x=2"),  # as written: only the key is sorted
        ("/abs", "http://h/abs"),
        ("//other.host/p", "http://other.host/p"),
        ("https://x.org", "https://x.org/"),
        (" \t/spaced\n", "http://h/spaced"),
        ("/ctl\x00\x07chars", "http://h/ctlchars"),
        ("javascript:void(0)", None),
        ("JavaScript:void(0)", None),
        ("mailto:x@y.z", None),
        ("tel:+100", None),
        ("data:text/html,hi", None),
        ("file:///etc/passwd", None),
        ("#top", None),
        ("", None),
        ("http://[broken/", None),
    ],
)
def test_resolve_link(href, expected):
    assert resolve_link("http://h/dir/page", href) == expected


def test_overlong_links_are_dropped():
    assert resolve_link("http://h/", "/" + "a" * MAX_URL_LENGTH) is None
    assert resolve_link("http://h/", "/" + "a" * 100) is not None


def test_host_of():
    assert host_of("http://user@h.example:8080/x") == "h.example:8080"
    assert host_of("https://h.example/") == "h.example"


def test_query_fast_path_equals_the_general_path():
    import random
    from urllib.parse import parse_qsl, quote, urlencode

    from crawlkit.urls import _canonical_query

    def general(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        pairs.sort(key=lambda kv: kv[0])
        return urlencode(pairs, quote_via=quote, safe="/:@!$'()*,;")

    rng = random.Random(7)
    alphabet = "ab=&%+ ~.-_:@/!$()*,;?\u00e91"
    for _ in range(20_000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        assert _canonical_query(query) == general(query), query


@pytest.mark.parametrize(
    ("href", "sent"),
    [
        ("b.html#x", "http://h/d/b.html"),
        (" b.html#x ", "http://h/d/b.html"),
        ("b.ht\nml#x", "http://h/d/b.html"),
        ("?q=1#f", "http://h/d/a.html?q=1"),
        ("/p#f", "http://h/p"),
        ("../p#f/../q", "http://h/p"),
        ("http://H/p#f", "http://h/p"),
        ("#only", None),
        (" #", None),
        ("javascript:a#b", None),
        ("http://#h/", None),
    ],
)
def test_a_fragment_never_changes_what_a_link_resolves_to(href: str, sent: str | None) -> None:
    keyed = resolve_link_keyed("http://h/d/a.html", href)
    assert (keyed[0] if keyed else None) == sent
    assert resolve_link("http://h/d/a.html", href) == sent


def test_a_port_with_leading_zeros_is_sent_as_a_number():
    from crawlkit.urls import safe_url

    assert safe_url("http://a:080/") == safe_url("http://a:080/#") == "http://a:80/"
    assert safe_url("http://a:0/") == "http://a:0/"
