"""Cookies (``--cookies``): one RFC 6265 jar per crawl in the engine, the same in every
strategy; per-request jars (``meta["cookiejar"]``); jars kept by ``--state``; and
credentials (Authorization, Cookie, URL user:password) never carried to another
host by a redirect.

Two hosts on one loopback server: ``127.0.0.1`` and ``localhost`` (cookies ignore
ports, so two ports would be one host to them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

import crawlkit
from crawlkit import MODES, Crawler, CrawlSettings, Page, Request, Spider
from crawlkit.cookies import CookieJars, jar_name
from crawlkit.errors import UsageError
from crawlkit.frontiers.base import redirect_hop
from crawlkit.http import outgoing
from crawlkit.lab.servers import LoopbackServer
from crawlkit.lab.shop import MEMBER_PAGES, PASSWORD, USER, ShopSite
from crawlkit.models import Outcome
from test_state import _start, _wait_for_lines

# every mode runs in the slow suite; sync (no worker to start) in the fast one too
EVERY_MODE = [m if m == "sync" else pytest.param(m, marks=pytest.mark.slow) for m in MODES]

SET_LINES = ("a=1; Path=/", "b=2; Path=/deep", "sec=1; Secure; Path=/",
             "gone=1; Max-Age=0; Path=/", "dom=1; Domain=example.com; Path=/",
             "u=caf\u00e9; Path=/deep")  # sent as UTF-8, and must come back as such


class CookieServer(LoopbackServer):
    """``/set`` sets :data:`SET_LINES` (``/set?v=X`` sets ``s=X``), ``/redir?to=URL``
    sets ``r=1`` for ``/after`` and redirects, ``/robots.txt`` sets ``robots=HOST``;
    every other path answers JSON with the Cookie and Authorization it received."""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == "/robots.txt":
            response = web.Response(status=404, text="none")
            response.headers.add("Set-Cookie", f"robots={request.host.partition(':')[0]}; Path=/")
            return response
        if path == "/set":
            response = web.Response(text="<html><title>set</title></html>",
                                    content_type="text/html")
            lines = (f"s={request.query['v']}; Path=/",) if "v" in request.query else SET_LINES
            for line in lines:  # one Set-Cookie line each
                response.headers.add("Set-Cookie", line)
            return response
        if path == "/redir":
            response = web.Response(status=302, headers={"Location": request.query["to"]})
            response.headers.add("Set-Cookie", "r=1; Path=/after")
            return response
        return web.json_response({
            "host": request.host.partition(":")[0], "path": request.path_qs,
            "cookie": request.headers.get("Cookie"),
            "auth": request.headers.get("Authorization"),
        })


@pytest.fixture(scope="module")
def server() -> Iterator[CookieServer]:
    with CookieServer() as running:
        yield running


def _cookies(value: str | None) -> set[str]:
    return set(value.split("; ")) if value else set()


class CookieSpider(Spider):
    """Reads /set, then asks the echo paths what they received."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.other = f"http://localhost:{port}"
        self.start_urls = [self.base + "/set"]

    def parse(self, page: Page) -> Iterator[Request]:
        base, other = self.base, self.other
        manual = {"Authorization": "Bearer t", "Cookie": "manual=1"}
        yield Request(base + "/show", callback=self.show)
        yield Request(base + "/deep/show", callback=self.show)
        yield Request(other + "/show", callback=self.show)
        yield Request(base + "/redir?to=" + quote("/after/same"), callback=self.show)
        yield Request(base + "/redir?to=" + quote("/after/keep"), callback=self.show,
                      headers=manual)
        yield Request(base + "/redir?to=" + quote(other + "/after/cross"), callback=self.show,
                      headers=manual)
        yield Request(f"http://u:p@127.0.0.1:{base.rpartition(':')[2]}/redir?to="
                      + quote(other + "/after/creds"), callback=self.show)

    def show(self, page: Page) -> Iterator[dict[str, Any]]:
        yield page.json()


def _echoes(mode: str, port: int, **options: Any) -> dict[str, dict[str, Any]]:
    result = crawlkit.crawl(CookieSpider(port), mode=mode, same_host=False, retries=0,
                            **options)
    assert result.stats.pages_failed == 0, result.stats.errors
    return {f"{item['host']} {item['path']}": item for item in result}


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_the_jar_sends_what_rfc_6265_allows_and_nothing_crosses_hosts(mode, server):
    seen = _echoes(mode, server.port, cookies=True)
    local = "127.0.0.1"
    assert _cookies(seen[f"{local} /show"]["cookie"]) == {"robots=127.0.0.1", "a=1"}
    assert _cookies(seen[f"{local} /deep/show"]["cookie"]) == {"robots=127.0.0.1", "a=1", "b=2",
                                                               "u=caf\u00e9"}
    # another host: only its own robots.txt cookie
    assert _cookies(seen["localhost /show"]["cookie"]) == {"robots=localhost"}
    # a redirect's Set-Cookie is kept and sent with the hop
    assert _cookies(seen[f"{local} /after/same"]["cookie"]) == {"robots=127.0.0.1", "a=1", "r=1"}
    keep = seen[f"{local} /after/keep"]
    assert _cookies(keep["cookie"]) == {"manual=1", "robots=127.0.0.1", "a=1", "r=1"}
    assert keep["auth"] == "Bearer t"
    # credentials set on the request, or in its URL, stay with their host
    for path in ("/after/cross", "/after/creds"):
        assert _cookies(seen[f"localhost {path}"]["cookie"]) == {"robots=localhost"}
        assert seen[f"localhost {path}"]["auth"] is None


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_without_cookies_the_crawl_is_stateless(mode, server):
    seen = _echoes(mode, server.port)
    for key, echo in seen.items():
        expected = "manual=1" if key.endswith("/after/keep") else None
        assert echo["cookie"] == expected, key
    assert seen["localhost /after/cross"]["auth"] is None


class SessionsSpider(Spider):
    """Two sessions side by side, each in the jar its meta names."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def start_requests(self) -> Iterator[Request]:
        for key in ("one", 2):
            yield Request(f"{self.base}/set?v={key}", meta={"cookiejar": key})

    def parse(self, page: Page) -> Iterator[Request]:
        key = page.meta["cookiejar"]
        yield Request(f"{self.base}/show?jar={key}", callback=self.show, meta=page.meta)
        yield Request(f"{self.base}/show?nojar={key}", callback=self.show)
        yield Request(f"{self.base}/redir?to=" + quote(f"/after/{key}"), callback=self.show,
                      meta=page.meta)

    def show(self, page: Page) -> Iterator[dict[str, Any]]:
        yield page.json()


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_meta_cookiejar_keeps_sessions_apart(mode, server):
    result = crawlkit.crawl(SessionsSpider(server.port), mode=mode, cookies=True)
    seen = {item["path"]: _cookies(item["cookie"]) for item in result}
    assert seen["/show?jar=one"] == {"s=one"}
    assert seen["/show?jar=2"] == {"s=2"}
    # a request yielded without the key is in the default jar
    assert seen["/show?nojar=one"] == seen["/show?nojar=2"] == {"robots=127.0.0.1"}
    # a redirect hop stays in its request's jar
    assert seen["/after/one"] == {"s=one", "r=1"}
    assert seen["/after/2"] == {"s=2", "r=1"}


class LoginSpider(Spider):
    """Logs in to the shop, then reads the members' reports."""

    def __init__(self, base: str) -> None:
        self.start_urls = [base + "/login"]

    def parse(self, page: Page) -> Iterator[Request]:
        yield page.form(formid="login").fill({"user": USER, "password": PASSWORD},
                                             callback=self.members)

    def members(self, page: Page) -> Iterator[Request]:
        yield from page.follow_all(css="ul.reports a", callback=self.report)

    def report(self, page: Page) -> Iterator[dict[str, Any]]:
        yield {"report": page.css("h1.report::text").get()}


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_resumed_crawl_is_still_logged_in(mode, tmp_path):
    out, state = tmp_path / "out.jsonl", tmp_path / "state.db"
    with ShopSite() as site:
        # the first run stops after logging in: the login page, the POST, /members/
        first = CrawlSettings(mode=mode, cookies=True, max_pages=3)
        Crawler(first, LoginSpider(site.url), out=out, state=state).run()
        assert out.read_text() == ""
        stats = Crawler(CrawlSettings(mode=mode, cookies=True), LoginSpider(site.url),
                        out=out, state=state).run()
    reports = sorted(json.loads(line)["report"] for line in out.read_text().splitlines())
    assert reports == [f"Members report {k}" for k in range(MEMBER_PAGES)]
    assert stats.pages_failed == 0


def test_redirect_hop_drops_credentials_when_it_leaves_the_origin():
    headers = {"Authorization": "Basic x", "Proxy-Authorization": "Basic y",
               "Cookie": "k=v", "X-Other": "1"}
    request = Request("https://a.test/start", headers=headers, jar_cookie="jar=1")

    def kept(target: str) -> set[str]:
        return {name for name, _ in redirect_hop(request, target, 302).headers}

    assert kept("https://a.test/next") == set(headers)
    for target in ("https://b.test/next", "https://a.test:8443/next", "http://a.test/next",
                   "https://A.test.evil/x"):
        assert kept(target) == {"X-Other"}, target
    plain = Request("http://a.test/", headers=headers)
    upgraded = redirect_hop(plain, "https://a.test/", 301)
    assert {name for name, _ in upgraded.headers} == set(headers)
    assert redirect_hop(plain, "https://a.test:8443/", 301).headers == (("X-Other", "1"),)
    # the jar's cookie of one dispatch never goes with the hop
    assert redirect_hop(request, "https://a.test/next", 302).jar_cookie == ""


def test_the_jar_cookie_is_not_part_of_the_request_kept():
    plain = Request("http://a.test/p")
    carrying = Request("http://a.test/p", jar_cookie="s=1")
    assert carrying.fingerprint == plain.fingerprint
    assert carrying.to_dict() == plain.to_dict()
    assert Request.from_dict(carrying.to_dict()).jar_cookie == ""


def test_the_jar_cookie_joins_the_requests_own_cookie_line():
    own = Request("http://a.test/", headers={"Cookie": "mine=1"}, jar_cookie="jar=2")
    lines = outgoing.headers(own, (), latin1_wire=False)
    assert [value for name, value in lines if name.lower() == "cookie"] == ["mine=1; jar=2"]
    alone = outgoing.headers(Request("http://a.test/", jar_cookie="jar=2"), (),
                             latin1_wire=False)
    assert ("Cookie", "jar=2") in alone


def test_each_jar_cookie_is_made_text_on_its_own_for_a_utf8_client():
    # the jar keeps each byte as a latin-1 character; for aiohttp, which writes UTF-8, a
    # UTF-8 cookie must come back as its bytes even beside one that is not UTF-8
    jar = "a=caf\u00e9; b=caf\u00c3\u00a9"  # received: b"a=caf\xe9", b"b=caf\xc3\xa9"
    lines = outgoing.headers(Request("http://a.test/", jar_cookie=jar), (), latin1_wire=False)
    cookie = next(value for name, value in lines if name == "Cookie")
    assert cookie.split("; ")[1].encode("utf-8") == b"b=caf\xc3\xa9"


def test_jars_survive_dump_and_load_and_store_clears_the_dispatch_cookie():
    jars = CookieJars()
    request = Request("http://a.test/login", meta={"cookiejar": "x"}, jar_cookie="old=1")
    outcome = jars.store(Outcome(request, request.url, 200, None,
                                 set_cookies=("s=1; Path=/; HttpOnly", "t=2; Max-Age=3600")))
    assert outcome.request.jar_cookie == ""
    assert jar_name(request) == '"x"'
    again = CookieJars()
    again.load(jars.dump())
    assert len(again) == 2
    prepared = again.prepare(Request("http://a.test/page", meta={"cookiejar": "x"}))
    assert _cookies(prepared.jar_cookie) == {"s=1", "t=2"}
    assert again.prepare(Request("http://a.test/page")).jar_cookie == ""  # the default jar


@pytest.mark.parametrize("key", [True, False, 1.0, [1], {"a": 1}])
def test_a_cookiejar_key_is_a_str_or_an_int(key: Any) -> None:
    with pytest.raises(UsageError, match="^Request meta cookiejar must be a str or an int"):
        Request("http://a.test/", meta={"cookiejar": key})


def test_an_int_key_and_its_digits_are_one_jar_before_and_after_a_json_round_trip() -> None:
    names = set()
    for key in (1, "1"):
        request = Request("http://a.test/", meta={"cookiejar": key}, dont_filter=True)
        names.add(jar_name(request))
        names.add(jar_name(Request.from_dict(json.loads(json.dumps(request.to_dict())))))
    assert names == {'"1"'}
    others = [Request("http://a.test/", meta={"cookiejar": key} if key != "-" else None)
              for key in (1, 2, "x", None, "null", "-")]
    assert len({jar_name(r) for r in others}) == 5  # None and no meta: the default jar


def test_a_journal_written_with_int_jar_names_still_loads_into_their_jars() -> None:
    jars = CookieJars()
    request = Request("http://a.test/login", meta={"cookiejar": 7})
    jars.store(Outcome(request, request.url, 200, None, set_cookies=("s=1; Path=/",)))
    dumped = json.loads(jars.dump())
    older = CookieJars()  # the jar named as before the key rule: 7, not "7"
    older.load(json.dumps({"7": dumped['"7"']}))
    for key in (7, "7"):
        prepared = older.prepare(Request("http://a.test/", meta={"cookiejar": key}))
        assert prepared.jar_cookie == "s=1"


class BadJarSpider(Spider):
    """Yields a request whose jar key is a bool."""

    def __init__(self, port: int) -> None:
        self.start_urls = [f"http://127.0.0.1:{port}/set?v=1"]

    def parse(self, page: Page) -> Iterator[Request]:
        yield Request(page.url + "&next", meta={"cookiejar": True})


def test_a_spider_yielding_a_bad_jar_key_fails_its_page_not_the_crawl(server) -> None:
    result = crawlkit.crawl(BadJarSpider(server.port), mode="sync", cookies=True)
    [reason] = result.stats.errors
    assert reason.startswith("spider error: UsageError: Request meta cookiejar must be")


LOGIN_SPIDER = '''
from crawlkit import Spider


class Login(Spider):
    start_urls = [{base!r} + "/login"]

    def parse(self, page):
        yield page.form(formid="login").fill({{"user": "ada", "password": "lovelace"}},
                                             callback="members")

    def members(self, page):
        yield from page.follow_all(css="ul.reports a", callback="report")

    def report(self, page):
        yield {{"report": page.css("h1.report::text").get()}}
'''


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_logged_in_crawl_killed_then_resumed_is_still_logged_in(mode, tmp_path):
    out, state, spider = tmp_path / "out.jsonl", tmp_path / "state.db", tmp_path / "login.py"
    with ShopSite(latency=0.3) as site:
        spider.write_text(LOGIN_SPIDER.format(base=site.url))
        args = ("crawl", "--spider", f"{spider}:Login", "--cookies", "--state", str(state),
                "--out", str(out), "--mode", mode, "--concurrency", "1", "--quiet")
        proc = _start(*args)
        try:
            assert _wait_for_lines(out, 1, proc), proc.communicate()
        finally:
            proc.kill()  # SIGKILL: nothing is flushed or committed on the way out
            proc.communicate()
        killed_at = len(out.read_text().splitlines())
        assert killed_at < MEMBER_PAGES
        proc = _start(*args)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    reports = sorted(json.loads(line)["report"] for line in out.read_text().splitlines())
    assert reports == [f"Members report {k}" for k in range(MEMBER_PAGES)]


@pytest.mark.slow
def test_with_redis_the_jar_stays_in_the_worker(redis_url):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_url)
    with ShopSite() as site:
        result = crawlkit.crawl(LoginSpider(site.url), mode="async", cookies=True,
                                frontier=redis_url, job="cookie-jar")
    reports = sorted(item["report"] for item in result)
    assert reports == [f"Members report {k}" for k in range(MEMBER_PAGES)]
    # nothing of the jar went into the shared frontier
    keys = list(client.scan_iter("*cookie-jar*"))
    assert keys
    for key in keys:
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = list(client.hgetall(key).values())
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        else:  # a sorted set
            values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        for value in values:
            assert b"session=" not in value and b"csrf=" not in value, (key, value)
    client.close()
