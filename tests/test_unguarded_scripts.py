"""A script that starts a ``processes`` or ``multiprocess`` crawl without
``if __name__ == "__main__":``: the workers (``spawn``) import it again, and the
crawl it starts on import ends them at once; the script gets one typed error that
names the fix, not Python's bootstrapping RuntimeError or a hang. The scripts run in
a subprocess against a loopback demo site."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawlkit.lab.demo import DemoSite, SiteSpec

HANG = 120  # seconds after which a script that has not ended is taken as hung
SRC = Path(__file__).resolve().parent.parent / "src"
FIX = 'put the code that starts the crawl under `if __name__ == "__main__":`'

# every mode runs in the slow suite; processes in the fast one too
MODES = ["processes", pytest.param("multiprocess", marks=pytest.mark.slow)]

CRAWL = textwrap.dedent("""
    url, mode, state = sys.argv[1], sys.argv[2], sys.argv[3] or None
    options = {"state": state, "out": state + ".jsonl"} if state else {}
    try:
        result = crawlkit.crawl([url], mode=mode, obey_robots=False, **options)
    except crawlkit.UsageError as exc:
        print(type(exc).__name__, exc)
    else:
        print("ok", result.stats.pages_ok)
""")
SCRIPT = "import sys\n\nimport crawlkit\n" + CRAWL
GUARDED = ("import sys\n\nimport crawlkit\n\nif __name__ == '__main__':\n"
           + textwrap.indent(CRAWL, "    "))

SPIDER_FILE = textwrap.dedent("""
    import crawlkit


    class Titles(crawlkit.Spider):
        start_urls = [{url!r}]

        def parse(self, page):
            yield {{"title": page.title}}


    crawlkit.crawl([{url!r}], mode={mode!r}, obey_robots=False)  # runs on every import
""")


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite(SiteSpec(pages=3, links=1)) as running:
        yield running


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    try:
        return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=HANG)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the script hung: {exc.stdout!r} {exc.stderr!r}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("resumable", [False, True], ids=["plain", "state"])
def test_an_unguarded_script_gets_one_usage_error_naming_the_fix(
        mode: str, resumable: bool, site: DemoSite, tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT, encoding="utf-8")
    state = str(tmp_path / "crawl.db") if resumable else ""
    done = _run(str(script), site.url + "/page/1", mode, state, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"UsageError the {mode} mode's worker processes import your script again, and "
        f"importing it starts a crawl: {FIX}"]
    assert "bootstrapping" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["processes", "multiprocess"])
def test_the_same_script_under_the_main_guard_crawls(mode: str, site: DemoSite,
                                                      tmp_path: Path) -> None:
    script = tmp_path / "guarded.py"
    script.write_text(GUARDED, encoding="utf-8")
    done = _run(str(script), site.url + "/page/1", mode, "", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ok 1"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["processes", "multiprocess"])
@pytest.mark.parametrize("on_import", ["same", "sync"])
def test_the_cli_says_it_in_one_line_for_a_spider_file_that_crawls_on_import(
        mode: str, on_import: str, site: DemoSite, tmp_path: Path) -> None:
    # the file's own crawl, in whatever mode, would run again in every worker
    spider_file = SPIDER_FILE.format(url=site.url + "/page/1",
                                     mode=mode if on_import == "same" else on_import)
    (tmp_path / "titles.py").write_text(spider_file, encoding="utf-8")
    done = _run("-m", "crawlkit", "crawl", "--spider", "titles.py:Titles", "--mode", mode,
                "--ignore-robots", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"crawlkit: error: the {mode} mode's worker processes import your script again, "
        f"and importing it starts a crawl: {FIX}"]
