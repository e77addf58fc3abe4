"""Exports: JSON lines, a JSON array or CSV, by extension or --format; --fields."""

from __future__ import annotations

import csv
import io
import json
import signal

import pytest

import crawlkit
from crawlkit import UsageError
from crawlkit.sinks import CsvSink, JsonArraySink, output_format, parse_fields
from test_cli import assert_usage_error, run_cli
from test_state import _start, _wait_for_lines


def _urls(tmp_path, site, pages):
    path = tmp_path / "urls.txt"
    path.write_text("".join(f"{site.url}/page/{i}\n" for i in pages))
    return path


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize(("path", "fmt", "expected"), [
    ("a.jsonl", None, "jsonl"), ("a.NDJSON", None, "jsonl"), ("a.json", None, "json"),
    ("a.CSV", None, "csv"), ("a.txt", None, "jsonl"), (None, None, "jsonl"),
    ("a.json", "csv", "csv"), (None, "json", "json"),
])
def test_the_format_comes_from_the_extension_unless_named(path, fmt, expected):
    assert output_format(path, fmt) == expected


def test_unknown_format_and_empty_fields_are_usage_errors():
    with pytest.raises(UsageError, match="unknown output format"):
        output_format("a.csv", "xml")
    for empty in ("", ",", " , ,", []):
        with pytest.raises(UsageError, match="names no key"):
            parse_fields(empty)
    assert parse_fields(" url, title,,url ") == ("url", "title")


def test_csv_sink_cells_header_and_keys_left_out_once():
    out, warnings = io.BytesIO(), []
    sink = CsvSink(out, warn=warnings.append)
    sink.write({"a": "x,y", "b": 1})
    sink.write({"a": None, "b": 2.5, "c": [1, {"d": None}], "e": False})
    sink.write({"b": True, "c": "again", "a": "multi\nline"})
    sink.close()
    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert rows == [["a", "b"], ["x,y", "1"], ["", "2.5"], ["multi\nline", "true"]]
    assert len(warnings) == 1 and "'c'" in warnings[0] and "'e'" in warnings[0]
    assert out.getvalue().endswith(b"\r\n")


def test_csv_sink_with_fields_writes_the_header_even_without_items():
    out = io.BytesIO()
    CsvSink(out, ["url", "title"]).close()
    assert out.getvalue() == b"url,title\r\n"


def test_json_array_sink_is_valid_json_empty_or_not():
    for items in ([], [{"a": 1}], [{"a": 1}, {"b": [2]}]):
        out = io.BytesIO()
        sink = JsonArraySink(out)
        for item in items:
            sink.write(item)
        sink.close()
        sink.close()  # the closing bracket is written once
        assert json.loads(out.getvalue()) == items


def test_cli_writes_each_format_with_the_same_records(tmp_path, demo_site):
    urls = _urls(tmp_path, demo_site, range(1, 6))
    jsonl, array, table = tmp_path / "o.jsonl", tmp_path / "o.json", tmp_path / "o.csv"
    for out in (jsonl, array, table):
        proc = run_cli("crawl", str(urls), "--out", str(out), "--quiet", "--mode", "sync")
        assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 5
    key = lambda r: r["url"]  # noqa: E731
    assert sorted(json.loads(array.read_text()), key=key) == sorted(lines, key=key)
    rows = _csv_rows(table)
    assert rows[0] == list(lines[0])  # the header is the first item's keys
    by_url = {row[0]: row for row in rows[1:]}
    for record in lines:
        row = by_url[record["url"]]
        assert row[rows[0].index("title")] == record["title"]
        assert row[rows[0].index("status")] == str(record["status"])
        assert row[rows[0].index("error")] == ""


def test_format_overrides_the_extension_and_applies_to_stdout(tmp_path, demo_site):
    urls = _urls(tmp_path, demo_site, [1, 2])
    out = tmp_path / "items.txt"
    proc = run_cli("crawl", str(urls), "--out", str(out), "--format", "csv", "--quiet",
                   "--fields", "url,status")
    assert proc.returncode == 0, proc.stderr
    assert _csv_rows(out)[0] == ["url", "status"] and len(_csv_rows(out)) == 3
    proc = run_cli("crawl", str(urls), "--format", "json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 2
    proc = run_cli("crawl", str(urls), "--quiet", "--fields", "status,url")
    assert [list(json.loads(line)) for line in proc.stdout.splitlines()] == [["status", "url"]] * 2


def test_fields_keep_only_those_keys_in_json_too(tmp_path, demo_site):
    urls = _urls(tmp_path, demo_site, [1, 2])
    out = tmp_path / "items.json"
    proc = run_cli("crawl", str(urls), "--out", str(out), "--quiet", "--fields", "title,nokey,url")
    assert proc.returncode == 0, proc.stderr
    assert [list(item) for item in json.loads(out.read_text())] == [["title", "url"]] * 2


def test_csv_reports_keys_outside_the_header_once_and_refuses_nan(tmp_path, demo_site):
    urls = _urls(tmp_path, demo_site, [1, 2, 3, 4])
    out = tmp_path / "items.csv"
    proc = run_cli("crawl", str(urls), "--out", str(out), "--quiet", "--mode", "sync",
                   "--spider", "export_spiders:RaggedSpider")
    assert proc.returncode == 0, proc.stderr
    reported = [line for line in proc.stderr.splitlines() if "not in the header" in line]
    for key in ("'extra'", "'tags'", "'ok'", "'error'"):  # each key once, whatever its rows
        assert sum(key in line for line in reported) == 1, proc.stderr
    rows = _csv_rows(out)
    assert rows[0] == ["url", "n"]
    by_url = {row[0]: row for row in rows[1:]}
    assert by_url[f"{demo_site.url}/page/2"] == [f"{demo_site.url}/page/2", "2"]
    assert by_url[f"{demo_site.url}/page/3"] == [f"{demo_site.url}/page/3", ""]  # NaN: failed


def test_csv_nested_values_are_json_text(tmp_path, demo_site):
    out = tmp_path / "items.csv"
    crawlkit.crawl([f"{demo_site.url}/page/2", f"{demo_site.url}/page/3"], "sync",
                   spider=_ragged(), out=out,
                   fields=["url", "tags", "extra", "ok", "error"])
    rows = _csv_rows(out)
    assert rows[0] == ["url", "tags", "extra", "ok", "error"]  # chosen: nothing reported
    by_url = {row[0]: row for row in rows[1:]}
    assert by_url[f"{demo_site.url}/page/2"][1:] == ['["a",{"b":null}]', 'x,y\n"z"', "true", ""]
    error = by_url[f"{demo_site.url}/page/3"][4]
    assert error.startswith("item not serialisable: float nan at key 'n'")


def _ragged():
    from export_spiders import RaggedSpider

    return RaggedSpider


def test_library_out_fields_and_format(tmp_path, demo_site, capsys):
    out = tmp_path / "items.data"
    result = crawlkit.crawl(f"{demo_site.url}/page/1", "sync", out=out, format="csv",
                            fields="url,title")
    assert len(result) == 0 and result.stats.items == 1
    assert "not in the header" not in capsys.readouterr().err  # the fields were chosen
    title = "Demo page 1 — crawlkit"
    assert _csv_rows(out) == [["url", "title"], [f"{demo_site.url}/page/1", title]]
    kept = crawlkit.crawl(f"{demo_site.url}/page/1", "sync", fields=["title"])
    assert kept.items == [{"title": title}]
    with pytest.raises(UsageError, match="pass out="):
        crawlkit.crawl(f"{demo_site.url}/page/1", "sync", format="csv")
    with pytest.raises(UsageError, match="names no key"):
        crawlkit.crawl(f"{demo_site.url}/page/1", "sync", out=out, fields=",")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--fields", ""], "--fields names no key"),
    (["--fields", ",,"], "--fields names no key"),
    (["--format", "xml"], "invalid choice: 'xml'"),
    (["--state", "S", "--out", "O.json"], "--state cannot resume a .json array"),
    (["--state", "S", "--out", "O.jsonl", "--format", "json"], "--state cannot resume"),
])
def test_export_usage_errors(args, fragment, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    args = [str(tmp_path / "crawl.db") if a == "S" else a for a in args]
    args = [str(tmp_path / a) if a.startswith("O.") else a for a in args]
    assert_usage_error(run_cli("crawl", str(urls), *args), fragment)
    assert not (tmp_path / "crawl.db").exists()


@pytest.mark.slow
def test_json_array_is_valid_after_a_graceful_stop(tmp_path, site_factory):
    site = site_factory(pages=400, links=5, latency=0.02)
    urls = tmp_path / "urls.txt"
    urls.write_text(site.url + "/\n")
    out = tmp_path / "items.json"
    proc = _start("crawl", str(urls), "--follow", "--out", str(out), "--quiet",
                  "--concurrency", "4")
    assert _wait_for_lines(out, 20, proc), proc.stderr
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    items = json.loads(out.read_text())
    assert 20 <= len(items) < 400
    assert len({item["url"] for item in items}) == len(items)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["async", "multiprocess"])
def test_csv_resumes_after_kill_9_with_one_header_and_each_row_once(mode, tmp_path,
                                                                     site_factory):
    site = site_factory(pages=120, links=5, latency=0.01)
    urls = tmp_path / "urls.txt"
    urls.write_text(site.url + "/\n")
    clean = tmp_path / "clean.csv"
    assert run_cli("crawl", str(urls), "--follow", "--out", str(clean), "--quiet").returncode == 0
    state, out = tmp_path / "crawl.db", tmp_path / "out.csv"
    args = ("crawl", str(urls), "--follow", "--mode", mode, "--concurrency", "8",
            "--state", str(state), "--out", str(out), "--quiet", "--fields", "url,title,error")
    for kill_at in (2, 60):
        proc = _start(*args)
        if _wait_for_lines(out, kill_at, proc):
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    final = run_cli(*args)
    assert final.returncode == 0, final.stderr
    rows = _csv_rows(out)
    assert rows[0] == ["url", "title", "error"]
    assert ["url", "title", "error"] not in rows[1:], "the header was written twice"
    urls_written = [row[0] for row in rows[1:]]
    assert len(urls_written) == len(set(urls_written)), "a row was written twice"
    clean_rows = _csv_rows(clean)
    cols = [clean_rows[0].index(name) for name in ("url", "title", "error")]
    assert sorted(rows[1:]) == sorted([[row[c] for c in cols] for row in clean_rows[1:]])
    changed = run_cli(*args[:-1], "url,title")
    assert_usage_error(changed, "differ from the header")


def test_json_with_state_is_refused_by_the_library(tmp_path):
    with pytest.raises(UsageError, match="cannot resume a .json array"):
        crawlkit.Crawler(crawlkit.CrawlSettings(), out=tmp_path / "a.json",
                         state=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()




def test_a_resumed_csv_keeps_the_header_of_its_first_run(tmp_path, demo_site):
    urls = [f"{demo_site.url}/page/{n}" for n in range(1, 5)]
    out, state = tmp_path / "items.csv", tmp_path / "crawl.db"
    first = crawlkit.crawl(urls, "sync", out=out, state=state, max_pages=2)
    assert first.stats.pages == 2
    crawlkit.crawl(urls, "sync", out=out, state=state, max_pages=4)  # resumes: limits may grow
    rows = _csv_rows(out)
    assert rows[0] == ["url", "final_url", "status", "title", "depth", "content_type", "links",
                       "error"]
    assert sorted(row[0] for row in rows[1:]) == sorted(urls)
    with pytest.raises(UsageError, match="differ from the header"):
        crawlkit.crawl(urls, "sync", out=out, state=state, max_pages=5, fields="url")


def test_a_resumed_csv_still_reports_keys_outside_its_first_items_header(tmp_path, demo_site,
                                                                         capsys):
    urls = [f"{demo_site.url}/page/1", f"{demo_site.url}/page/2"]
    out, state = tmp_path / "items.csv", tmp_path / "crawl.db"
    crawlkit.crawl(urls, "sync", spider=_ragged(), out=out, state=state, max_pages=1)
    assert "not in the header" not in capsys.readouterr().err
    crawlkit.crawl(urls, "sync", spider=_ragged(), out=out, state=state, max_pages=2)
    assert "'extra'" in capsys.readouterr().err
    assert _csv_rows(out) == [["url", "n"], [urls[0], "1"], [urls[1], "2"]]
