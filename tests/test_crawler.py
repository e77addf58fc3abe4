"""crawlkit.Crawler and crawl() from a script: Redis, progress, seeds from the spider."""

from __future__ import annotations

import json

import pytest

import crawlkit
from crawlkit import Crawler, CrawlSettings, Spider
from crawlkit.lab.demo import reachable_urls
from crawlkit.progress import Snapshot
from crawlkit.urls import canonicalize


def test_progress_callable_receives_snapshots(site_factory):
    site = site_factory(pages=30, links=3, latency=0.1)
    seen: list[Snapshot] = []
    result = crawlkit.crawl(site.url + "/", follow=True, concurrency=2, progress=seen.append)
    assert seen and all(isinstance(s, Snapshot) for s in seen)
    assert seen[-1].done <= result.stats.pages


def test_crawler_seeds_from_the_spider_and_writes_out(tmp_path, demo_site):
    class Two(Spider):
        start_urls = (demo_site.url + "/page/1", demo_site.url + "/page/2")

        def parse(self, page):
            yield {"url": page.url}

    out = tmp_path / "items.jsonl"
    crawler = Crawler(CrawlSettings(mode="sync"), Two(), out=out)
    stats = crawler.run()
    assert stats.pages == 2
    urls = {json.loads(line)["url"] for line in out.read_text().splitlines()}
    assert urls == set(Two.start_urls)


def test_request_stop_before_run_fetches_nothing(demo_site):
    crawler = Crawler(CrawlSettings(mode="async", follow=True))
    crawler.request_stop()
    stats = crawler.run([demo_site.url + "/"])
    assert stats.pages == 0 and stats.interrupted


def test_crawler_usage_errors():
    with pytest.raises(crawlkit.UsageError, match="needs --out"):
        Crawler(CrawlSettings(), state="x.db")
    with pytest.raises(crawlkit.UsageError, match="exclusive"):
        Crawler(CrawlSettings(), state="x.db", out="o", frontier="redis://127.0.0.1:9/0",
                job="j")
    with pytest.raises(crawlkit.UsageError, match="needs --job"):
        Crawler(CrawlSettings(), frontier="redis://127.0.0.1:9/0")


@pytest.mark.slow
def test_redis_crawl_from_the_library(redis_url, tmp_path, site_factory):
    site = site_factory(pages=40, links=3)
    out = tmp_path / "items.jsonl"
    result = crawlkit.crawl(site.url + "/", "threaded", follow=True, frontier=redis_url,
                            job="library", out=str(out))
    urls = [canonicalize(json.loads(line)["url"]) for line in out.read_text().splitlines()]
    assert len(urls) == len(set(urls)) == result.stats.pages
    assert set(urls) == reachable_urls(site.spec, site.url)


def test_a_bad_seed_touches_no_file(tmp_path):
    with pytest.raises(crawlkit.InvalidURL):
        crawlkit.crawl(["http://127.0.0.1:9/", "not-a-url"], state=tmp_path / "s.db",
                       out=tmp_path / "o.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_progress_true_shows_the_cli_display(demo_site, capsys):
    result = crawlkit.crawl(demo_site.url + "/page/3", progress=True)
    assert len(result) == 1
    assert "Traceback" not in capsys.readouterr().err
