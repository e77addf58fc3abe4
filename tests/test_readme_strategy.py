"""The README's "Adding a strategy" example is real: it crawls like the built-ins."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import crawlkit
from crawlkit.lab.demo import DemoSite, SiteSpec

README = Path(__file__).resolve().parent.parent / "README.md"


def _snippet() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Adding a strategy"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_strategy_is_short_and_crawls_like_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _snippet()
    lines = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) <= 12  # the class itself: under ten lines past the import and facts
    (tmp_path / "readme_strategy.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("readme_strategy", None)
    with DemoSite(SiteSpec(pages=30)) as site:
        mine = crawlkit.crawl(site.url + "/", "readme_strategy:Mine", follow=True)
        sync = crawlkit.crawl(site.url + "/", "sync", follow=True)
    assert len(mine) == len(sync) > 30
    key = lambda item: item["url"]  # noqa: E731
    assert sorted(mine, key=key) == sorted(sync, key=key)
