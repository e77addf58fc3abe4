"""The gevent strategy's HTTP client on its own, in a monkey-patched child process
(the test process itself must never be patched)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from servers import PoliteServer

pytestmark = pytest.mark.slow

_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import json, sys
from crawlkit.http import green as http_green
from crawlkit.models import Request
from crawlkit.settings import CrawlSettings

settings = CrawlSettings(timeout=5.0)
clients = http_green.Clients(settings, keep=2)
out = []
for url in json.loads(sys.argv[1]):
    # "robots" requests are taken as given (a page Request would refuse these URLs)
    result = http_green.fetch(clients, Request(url, purpose="robots"), settings)
    out.append([result.status, result.error, result.body.decode("utf-8", "replace"),
                len(clients._clients)])
clients.close()
print(json.dumps(out))
"""


def _fetch_in_gevent(urls: list[str]) -> list[list]:
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(urls)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_one_pool_per_origin_least_recently_used_closed_past_the_limit():
    with PoliteServer() as a, PoliteServer() as b, PoliteServer() as c:
        urls = [s.url + "/p/0" for s in (a, b, a, c, b, a)]
        results = _fetch_in_gevent(urls)
    assert [(status, error) for status, error, _, _ in results] == [(200, None)] * 6
    assert all("<title>/p/0</title>" in body for _, _, body, _ in results)
    # three origins in turn, never more than keep=2 pools: the least recently used
    # one is closed and opened again when its origin comes back
    assert [pools for *_, pools in results] == [1, 2, 2, 2, 2, 2]
    assert (a.counts["/p/0"], b.counts["/p/0"], c.counts["/p/0"]) == (3, 2, 1)


def test_urls_it_cannot_send_are_records_not_exceptions():
    results = _fetch_in_gevent(["ftp://127.0.0.1/x", "http://[::1/", "http://127.0.0.1:99999/"])
    assert [(status, error) for status, error, _, _ in results] == [(None, "invalid url")] * 3
