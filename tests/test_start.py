"""How a crawl starts: seeds from URLs, Requests, the spider or sitemaps; spiders loaded
by module or file path (in worker processes too); spider tracebacks on stderr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import crawlkit
from crawlkit import CrawlSettings, Request, Spider, UsageError
from crawlkit.cli import spider_error_printer
from crawlkit.crawler import _ENGINE_REPORTS_SPIDER_ERRORS, Crawler
from crawlkit.fetchers import modes_where
from crawlkit.lab.shop import CATEGORIES, ShopSite
from test_cli import HERE, assert_usage_error, run_cli

SRC = Path(crawlkit.__file__).resolve().parent.parent

SPIDER = '''
from crawlkit import Spider


class PathSpider(Spider):
    start_urls = ["{url}/page/1", "{url}/page/2"]

    def parse(self, page):
        yield {{"url": page.url, "from": __name__}}
'''

needs_sitemaps = pytest.mark.skipif(
    not hasattr(Spider, "_parse_sitemap"), reason="the Spider base parses sitemaps")
needs_request_seeds = pytest.mark.skipif(
    not hasattr(Spider, "start_requests"), reason="the engine takes Request seeds")


def _write_spider(path: Path, url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SPIDER.format(url=url))
    return path


def _items(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def _run(args: list[str], cwd: Path, env_path: str | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = env_path if env_path is not None else os.pathsep.join(
        [str(HERE), env.get("PYTHONPATH", "")])
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
                          input=stdin)


@pytest.mark.parametrize("ref", ["./spiders_dot.py:PathSpider", "spiders_dot.py:PathSpider"])
def test_spider_from_a_file_in_the_current_directory(ref, tmp_path, demo_site):
    _write_spider(tmp_path / "spiders_dot.py", demo_site.url)
    proc = run_cli("crawl", "--spider", ref, "--quiet", cwd=tmp_path)  # no URLS_FILE: start_urls
    assert proc.returncode == 0, proc.stderr
    items = _items(proc.stdout)
    assert sorted(i["url"] for i in items) == [f"{demo_site.url}/page/{n}" for n in (1, 2)]
    assert {i["from"] for i in items} == {"spiders_dot"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", modes_where("spider_must_pickle"))
def test_worker_processes_import_a_spider_file_from_another_directory(mode, tmp_path,
                                                                      demo_site):
    spider = _write_spider(tmp_path / "elsewhere" / f"spiders_{mode}.py", demo_site.url)
    proc = run_cli("crawl", "--spider", f"{spider}:PathSpider", "--mode", mode, "--quiet",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(_items(proc.stdout)) == 2
    relative = f"elsewhere/spiders_{mode}.py:PathSpider"
    proc = run_cli("crawl", "--spider", relative, "--mode", mode, "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {i["from"] for i in _items(proc.stdout)} == {f"spiders_{mode}"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["async", "multiprocess"])
def test_installed_command_finds_a_spider_module_in_the_current_directory(mode, tmp_path,
                                                                          demo_site):
    command = shutil.which("crawlkit", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the crawlkit command is not installed beside this Python")
    _write_spider(tmp_path / "cwd_spiders.py", demo_site.url)
    proc = _run([command, "crawl", "--spider", "cwd_spiders:PathSpider", "--mode", mode,
                 "--quiet"], cwd=tmp_path, env_path=str(SRC))
    assert proc.returncode == 0, proc.stderr
    assert {i["from"] for i in _items(proc.stdout)} == {"cwd_spiders"}


def test_spider_file_errors_are_usage_errors(tmp_path):
    (tmp_path / "broken_syntax.py").write_text("def (:\n")
    (tmp_path / "shadow").mkdir()
    (tmp_path / "shadow" / "json.py").write_text("X = 1\n")
    (tmp_path / "shadow" / "wave.py").write_text("X = 1\n")  # a module not imported yet
    _write_spider(tmp_path / "fine.py", "http://127.0.0.1:9")
    cases = [("./missing.py:S", "does not exist"), ("./fine.py:Nope", "has no attribute 'Nope'"),
             ("./broken_syntax.py:S", "cannot import spider file"),
             ("shadow/json.py:X", "already imported"),
             ("shadow/wave.py:X", "taken by another module"),
             ("./notes.txt:S", "must end in .py"),
             ("./fine.py:", "file.py:Name")]
    for ref, fragment in cases:
        assert_usage_error(run_cli("crawl", "--spider", ref, cwd=tmp_path), fragment)


def test_urls_from_standard_input(tmp_path, demo_site):
    proc = _run([sys.executable, "-m", "crawlkit", "crawl", "-", "--quiet"], cwd=tmp_path,
                stdin=f"{demo_site.url}/page/4\n# comment\n")
    assert proc.returncode == 0, proc.stderr
    assert [i["url"] for i in _items(proc.stdout)] == [f"{demo_site.url}/page/4"]


def test_no_seed_at_all_names_every_way_to_give_one(tmp_path):
    assert_usage_error(run_cli("crawl", cwd=tmp_path), "URLS_FILE")
    assert_usage_error(run_cli("crawl", "--spider", "sample_spiders:HeadingSpider"),
                       "no URL to crawl")


def test_a_start_request_with_a_missing_callback_stops_before_any_fetch(tmp_path):
    proc = run_cli("crawl", "--spider", "export_spiders:MissingCallbackSpider")
    assert_usage_error(proc, "no callback method 'parse_nothing'")
    crawler = Crawler(CrawlSettings(), out=tmp_path / "out.jsonl", state=tmp_path / "s.db")
    with pytest.raises(UsageError, match="no errback method 'oops'"):
        crawler.run([Request("http://127.0.0.1:9/", errback="oops")])
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "s.db").exists()


def test_seeds_come_from_the_spider_then_the_sitemaps():
    class Both(Spider):
        start_urls = ["http://127.0.0.1:9/a"]
        sitemap_urls = ["http://127.0.0.1:9/sitemap.xml"]

        def _parse_sitemap(self, page):
            return ()

    crawler = Crawler(CrawlSettings(), Both(), sitemaps=["http://127.0.0.1:9/robots.txt"])
    seeds = crawler.start_requests()
    assert [s if isinstance(s, str) else s.url for s in seeds] == [
        "http://127.0.0.1:9/a", "http://127.0.0.1:9/sitemap.xml", "http://127.0.0.1:9/robots.txt"]
    assert all(s.callback == "_parse_sitemap" for s in seeds[1:])  # type: ignore[union-attr]
    explicit = crawler.start_requests([Request("http://127.0.0.1:9/b")])
    assert [s.url for s in explicit] == [  # type: ignore[union-attr]
        "http://127.0.0.1:9/b", "http://127.0.0.1:9/robots.txt"]


@needs_request_seeds
def test_request_seeds_with_their_callback(demo_site):
    class Seeded(Spider):
        def parse(self, page):
            yield {"url": page.url, "via": "parse"}

        def parse_special(self, page):
            yield {"url": page.url, "via": "special"}

    result = crawlkit.crawl([f"{demo_site.url}/page/1",
                             Request(f"{demo_site.url}/page/2", callback="parse_special")],
                            "sync", spider=Seeded)
    assert sorted((i["url"], i["via"]) for i in result) == [
        (f"{demo_site.url}/page/1", "parse"), (f"{demo_site.url}/page/2", "special")]


@pytest.fixture(scope="module")
def shop():
    site = ShopSite()
    site.start()
    yield site
    site.stop()


@needs_sitemaps
def test_sitemap_flag_crawls_the_pages_it_lists(shop, tmp_path):
    out = tmp_path / "pages.jsonl"
    proc = run_cli("crawl", "--sitemap", f"{shop.url}/sitemap-pages.xml", "--out", str(out),
                   "--quiet")
    assert proc.returncode == 0, proc.stderr
    urls = {json.loads(line)["url"] for line in out.read_text().splitlines()}
    assert {f"{shop.url}/category/{slug}" for slug in CATEGORIES} <= urls


@needs_sitemaps
def test_a_spider_with_only_sitemap_urls_needs_no_seeds(shop):
    class OnlySitemaps(Spider):
        sitemap_urls = [f"{shop.url}/robots.txt"]
        sitemap_rules = [("/product/", "parse_product")]

        def parse_product(self, page):
            yield {"url": page.url}

    result = crawlkit.crawl(OnlySitemaps, "async")
    assert len(result) == crawlkit.lab.shop.PRODUCTS


def test_spider_error_printer_shows_each_distinct_error_once(capsys):
    show = spider_error_printer()
    show("spider error: ValueError: boom", "Traceback (most recent call last):\n  x\n")
    show("spider error: ValueError: boom", "Traceback (most recent call last):\n  y\n")
    show("spider error: KeyError: 'k'", "Traceback (most recent call last):\n  z\n")
    err = capsys.readouterr().err
    assert err.count("Traceback") == 2 and "  y" not in err
    assert "crawlkit: spider error: ValueError: boom" in err


@pytest.mark.parametrize("quiet", [False, True])
def test_spider_tracebacks_on_stderr_once_unless_quiet(quiet, tmp_path, demo_site):
    if not quiet and not _ENGINE_REPORTS_SPIDER_ERRORS:
        pytest.skip("the engine reports spider errors through on_spider_error")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{demo_site.url}/page/{n}\n" for n in (3, 13, 23, 4)))
    proc = run_cli("crawl", str(urls), "--spider", "sample_spiders:BrokenSpider",
                   *(["--quiet"] if quiet else []))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("Traceback") == (0 if quiet else 1), proc.stderr
    assert len(_items(proc.stdout)) == 4


def test_the_crawler_hands_its_spider_error_hook_to_an_engine_that_takes_one(monkeypatch,
                                                                               demo_site):
    from crawlkit import crawler as crawler_module

    handed: list[object] = []

    class HookedEngine(crawler_module.Engine):
        def __init__(self, *args, on_spider_error=None, **kwargs):
            handed.append(on_spider_error)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(crawler_module, "Engine", HookedEngine)
    monkeypatch.setattr(crawler_module, "_ENGINE_REPORTS_SPIDER_ERRORS", True)
    hook = spider_error_printer()
    Crawler(CrawlSettings(mode="sync"), on_spider_error=hook).run([f"{demo_site.url}/page/1"])
    assert handed == [hook]
