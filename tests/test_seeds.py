from __future__ import annotations

import pytest

from crawlkit import SeedFileError, UsageError
from crawlkit.seeds import read_seed_file


def test_comments_blanks_and_bad_lines(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(
        "# seeds\n\nhttp://a.example/\n  https://b.example/x  \nnot a url\nftp://c.example/\n"
        "# http://commented.example/\nhttp://d.example/#frag\n",
        encoding="utf-8",
    )
    seeds = read_seed_file(path)
    assert seeds.urls == ("http://a.example/", "https://b.example/x", "http://d.example/#frag")
    assert seeds.warnings == (
        "line 5: not an http(s) URL, skipped: not a url",
        "line 6: not an http(s) URL, skipped: ftp://c.example/",
    )


def test_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(SeedFileError, match="no such file"):
        read_seed_file(tmp_path / "absent.txt")
    with pytest.raises(UsageError):
        read_seed_file(tmp_path)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\x00garbage\xff")
    with pytest.raises(SeedFileError, match="not UTF-8"):
        read_seed_file(path)


def test_bom_is_ignored(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhttp://a.example/\n")
    assert read_seed_file(path).urls == ("http://a.example/",)


def test_seed_loading_is_timed_and_reported(tmp_path):
    import time

    from crawlkit import Stats
    from crawlkit.engine import Engine
    from crawlkit.settings import CrawlSettings
    from crawlkit.sinks import ListSink
    from crawlkit.spiders import DefaultSpider

    # the seeding time is part of the stats; the summary names it once it is long
    assert "seeds loaded in 2.5s" in Stats("async", seeding=2.5).summary()
    assert "seeds loaded" not in Stats("async", seeding=0.2).summary()

    class NoFetch:  # every page refused before a fetch: only seeding is measured
        name = "nofetch"

        def start(self, settings, processor):
            self.processor, self.todo = processor, []

        def submit(self, request):
            self.todo.append(request)

        def completed(self, timeout=None):
            from crawlkit.models import FetchResult

            return [self.processor(FetchResult(self.todo.pop(), None, {}, b"", "timeout"))]

        def close(self):
            pass

    seeds = [f"http://127.0.0.1:9/p/{i}" for i in range(5000)]
    settings = CrawlSettings(obey_robots=False, retries=0, max_pages=1)
    started = time.perf_counter()
    stats = Engine(settings, DefaultSpider(), ListSink(), NoFetch()).run(seeds)
    assert 0 < stats.seeding <= time.perf_counter() - started
    assert stats.as_dict()["seeding"] == stats.seeding


def test_a_seed_file_is_read_as_a_stream(tmp_path):
    from crawlkit.seeds import read_seed_file

    path = tmp_path / "seeds.txt"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\ufeff# a BOM and a comment\n")
        for i in range(20_000):
            fh.write(f"http://h/p/{i}?b=2&a=1\n")
        fh.write("not a url\n")
    seeds = read_seed_file(path)
    assert len(seeds.urls) == 20_000 and seeds.urls[0] == "http://h/p/0?b=2&a=1"
    assert seeds.warnings == ("line 20002: not an http(s) URL, skipped: not a url",)
