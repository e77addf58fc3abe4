"""Hosts that end in a number are IPv4 addresses, read as the WHATWG URL parser reads them."""

from __future__ import annotations

import pytest

from crawlkit import InvalidURL
from crawlkit.urls import canonicalize, resolve_link


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://127.1:8080/x", "http://127.0.0.1:8080/x"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0x7F000001/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://10.1.258/", "http://10.1.1.2/"),
        ("http://127.0.0.1./", "http://127.0.0.1/"),
        ("http://1.2.3.4/", "http://1.2.3.4/"),
        ("http://example.com/", "http://example.com/"),
        ("http://1.example/", "http://1.example/"),
        ("http://[::ffff:1.2.3.4]:81/", "http://[::ffff:1.2.3.4]:81/"),
    ],
)
def test_numeric_hosts_become_dotted_quads(url, canonical):
    assert canonicalize(url) == canonical


@pytest.mark.parametrize(
    "url",
    ["http://256.1.1.1/", "http://1.2.3.4.5/", "http://4294967296/", "http://foo.09/",
     "http://example.123/"],
)
def test_hosts_ending_in_a_number_that_are_no_address_are_refused(url):
    with pytest.raises(InvalidURL):
        canonicalize(url)
    assert resolve_link("http://example.com/", url) is None
