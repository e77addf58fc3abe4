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
