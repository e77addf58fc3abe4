"""Each crawl option declared once; flags, keywords and docs generated from it;
strategy facts on the strategies; the registry extended by entry points."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

import crawlkit
from crawlkit import CrawlSettings
from crawlkit.cli import _rule_args, _settings, build_parser
from crawlkit.fetchers import STRATEGIES, known_modes, modes_where, registry, strategy_class
from crawlkit.settings import OPTIONS, CrawlOptions, option_table

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent
FIELDS = {f.name for f in dataclasses.fields(CrawlSettings) if f.init}
NOT_OPTIONS = {"spider", "out", "state", "frontier", "job", "lease", "redis-wait", "quiet",
               "help", "format", "fields", "sitemap"}


def _crawl_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["crawl"]


def test_every_field_has_a_flag_and_every_flag_a_field():
    assert set(OPTIONS) == FIELDS
    flags = {s for a in _crawl_parser()._actions for s in a.option_strings if s.startswith("--")}
    declared = {o.flag for o in OPTIONS.values()}
    assert declared <= flags, declared - flags
    extra = {f for f in flags - declared if f.lstrip("-") not in NOT_OPTIONS}
    assert not extra, f"flags without a CrawlSettings field: {extra}"
    assert {"--retry-backoff", "--retry-after-cap", "--any-host", "--ignore-robots"} <= flags


def test_crawl_keywords_are_the_fields():
    keys = set(typing.get_type_hints(CrawlOptions))
    assert keys == FIELDS - {"mode"}


def test_readme_table_lists_every_option():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- options:begin -->\n")[1].split("<!-- options:end -->")[0]
    assert table == option_table()
    for name, option in OPTIONS.items():
        assert f"| `{name}` | `{option.flag}" in table


def test_flags_become_settings_and_argv_again():
    argv = ["crawl", "u.txt", "--mode", "sync", "--follow", "--allow", "a", "--allow", "b",
            "--any-host", "--max-pages", "5", "--timeout", "2.5", "--ignore-robots",
            "--retry-backoff", "0.1", "--retry-after-cap", "7", "--user-agent", "bot/1",
            "--spider", "sample_spiders:TitleSpider"]
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    assert settings.same_host is False and settings.obey_robots is False
    assert settings.allow == ("a", "b") and settings.max_pages == 5
    assert settings.retry_backoff == 0.1 and settings.retry_after_cap == 7.0
    assert settings.user_agent == "bot/1"
    again = build_parser().parse_args(["crawl", "u.txt", "--mode", "sync", *_rule_args(args)])
    assert _settings(again) == settings and again.spider == args.spider
    defaults = build_parser().parse_args(["crawl", "u.txt"])
    assert _settings(defaults) == CrawlSettings() and _rule_args(defaults) == []


def test_bad_flag_values_are_refused_like_bad_keywords(tmp_path):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["crawl", "u.txt", "--retry-backoff", "-1"])
    with pytest.raises(crawlkit.UsageError, match="retry_backoff"):
        CrawlSettings(retry_backoff=-1)
    with pytest.raises(crawlkit.UsageError, match="unknown option"):
        crawlkit.crawl("http://127.0.0.1:9/", retry_backof=1)  # type: ignore[call-arg]


def test_strategy_facts_live_on_the_strategies():
    for name in STRATEGIES:
        cls = strategy_class(name)
        assert cls.name == name
        for fact in ("fixed_concurrency", "spider_in_process", "spider_must_pickle"):
            assert isinstance(getattr(cls, fact), bool), (name, fact)
        assert cls.http_client in {"requests", "aiohttp", "geventhttpclient"}
    assert modes_where("fixed_concurrency") == ("sync",)
    assert set(modes_where("spider_must_pickle")) == {"multiprocess", "processes", "gevent"}
    assert CrawlSettings(mode="sync", concurrency=9).effective_concurrency == 1
    assert CrawlSettings(mode="threaded", concurrency=9).effective_concurrency == 9
    assert tuple(STRATEGIES) == crawlkit.MODES


def test_no_module_lists_the_modes_but_the_registry():
    name = "(?:" + "|".join(STRATEGIES) + ")"
    listing = re.compile(rf'[(\[{{]\s*"{name}"\s*,\s*"{name}"')  # two or more, literally
    for path in (ROOT / "src" / "crawlkit").rglob("*.py"):
        if path.name == "strategies.py":
            continue
        found = listing.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path} lists modes: {found.group(0) if found else ''}"


def test_exports():
    for name in ("Crawler", "Fetcher", "Sink", "Processor", "Frontier", "Reason"):
        assert name in crawlkit.__all__ and hasattr(crawlkit, name)


@pytest.fixture
def plugin_dir(tmp_path):
    """A real distribution on sys.path registering the strategy ``echoes``."""
    (tmp_path / "xyz_fetcher.py").write_text(textwrap.dedent("""
        from crawlkit.fetchers.sync import SyncFetcher

        class EchoFetcher(SyncFetcher):
            name = "echoes"
            fixed_concurrency = False
    """))
    info = tmp_path / "xyz-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xyz\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[crawlkit.fetchers]\nechoes = xyz_fetcher:EchoFetcher\n")
    sys.path.insert(0, str(tmp_path))
    from crawlkit import strategies

    strategies._registered.cache_clear()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    strategies._registered.cache_clear()


def test_entry_point_strategy_is_registered(plugin_dir, demo_site, tmp_path):
    assert registry()["echoes"] == "xyz_fetcher:EchoFetcher"
    assert "echoes" in known_modes() and "echoes" not in crawlkit.MODES
    assert CrawlSettings(mode="echoes", concurrency=3).effective_concurrency == 3
    result = crawlkit.crawl(demo_site.url + "/page/1", mode="echoes")
    assert [r["url"] for r in result] == [demo_site.url + "/page/1"]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(demo_site.url + "/page/2\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "crawlkit", "crawl", str(seeds), "--mode",
                           "echoes"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert demo_site.url + "/page/2" in proc.stdout
    assert "crawlkit [echoes]" in proc.stderr
