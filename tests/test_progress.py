from __future__ import annotations

import io

import crawlkit
from crawlkit.engine import Engine
from crawlkit.progress import LogProgress, NullProgress, RichProgress, Snapshot, progress_for
from crawlkit.settings import CrawlSettings
from crawlkit.sinks import ListSink


def test_snapshot_line_has_every_figure_and_an_eta_when_bounded():
    snap = Snapshot(ok=90, failed=10, in_flight=4, queued=50, elapsed=10.0, max_pages=300)
    assert snap.line() == ("100 done (10 errors), 4 in flight, 50 queued, 10.0 pages/s, "
                           "10s elapsed, ETA 20s")
    assert "ETA" not in Snapshot(1, 0, 0, 0, 1.0).line()


def test_engine_reports_progress_while_it_crawls(site_factory):
    site = site_factory(pages=60, links=5, latency=0.1)
    # 60 pages, 0.1 s each, two at a time (the per-host limit): about 3 s, so several
    # 0.5 s snapshots; five links a page keep the queue from running dry until the end
    seen: list[Snapshot] = []
    settings = CrawlSettings(mode="async", follow=True, concurrency=4)
    stats = Engine(settings, crawlkit.DefaultSpider(), ListSink(), progress=seen.append).run(
        [site.url + "/"])
    assert len(seen) >= 2
    assert [s.done for s in seen] == sorted(s.done for s in seen)
    assert all(s.done <= stats.pages for s in seen)
    assert any(s.in_flight > 0 for s in seen), seen
    assert any(s.queued > 0 for s in seen), seen


def test_log_progress_writes_lines_at_its_interval():
    stream = io.StringIO()
    log = LogProgress(stream, every=0.0)
    log(Snapshot(3, 1, 2, 5, 2.0))
    assert stream.getvalue() == ("crawlkit: 4 done (1 errors), 2 in flight, 5 queued, "
                                 "2.0 pages/s, 2s elapsed\n")
    quiet = LogProgress(io.StringIO(), every=3600)
    quiet(Snapshot(3, 1, 2, 5, 2.0))
    assert quiet.stream.getvalue() == ""


def test_progress_choice():
    quiet = progress_for(quiet=True)
    with quiet:  # a context manager like the others, showing nothing
        quiet(Snapshot(5, 0, 1, 2, 1.0))
    assert isinstance(quiet, NullProgress)
    assert isinstance(progress_for(quiet=False, stream=io.StringIO()), LogProgress)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    live = progress_for(quiet=False, stream=Tty())
    assert isinstance(live, RichProgress)
    with live:
        live(Snapshot(5, 0, 1, 2, 1.0))
        assert live.shown.plain.startswith("crawlkit: 5 done (0 errors), 1 in flight")
