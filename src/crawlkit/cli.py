"""``python -m crawlkit``: the command-line front end.

Usage errors print one line and exit 2; a crawl that ran exits 0 even when pages
failed (they are records with an ``error``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from ._version import __version__
from .crawler import Crawler
from .errors import CrawlkitError, UsageError
from .fetchers import known_modes, modes_where
from .process import Processor
from .seeds import SeedFile, read_seed_file
from .settings import (
    CrawlSettings,
    add_option_flags,
    at_least,
    flag_type,
    option_argv,
    positive,
)
from .sinks import FORMATS, open_sink, output_format, parse_fields
from .spiders import DefaultSpider, Spider, load_spider

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"crawlkit: error: {message} (see --help)\n")


_positive_int = flag_type(int, at_least(1))
_non_negative_int = flag_type(int, at_least(0))
_positive_float = flag_type(float, positive)


def _add_crawl_flags(p: argparse.ArgumentParser) -> None:
    add_option_flags(p, exclude=(), choices=known_modes())
    _add_spider_flag(p)
    p.add_argument("--out", metavar="FILE",
                   help="write items to FILE, in the format its extension names: .jsonl or "
                        ".ndjson JSON lines, .json a JSON array, .csv CSV (default: JSON "
                        "lines on stdout)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="the output format, whatever --out's extension")
    p.add_argument("--fields", metavar="A,B,C",
                   help="keys written, in this order: the CSV header (default: the first "
                        "item's keys), or the only keys kept in JSON")
    p.add_argument("--sitemap", action="append", default=[], metavar="URL",
                   help="crawl the pages this sitemap (or robots.txt) lists (repeatable)")
    p.add_argument("--state", metavar="FILE.db",
                   help="keep the crawl in SQLite; the same command again resumes it")
    p.add_argument("--frontier", metavar="redis://HOST:PORT/DB",
                   help="share the crawl with every worker pointed at this Redis")
    p.add_argument("--job", metavar="NAME", help="the shared crawl's name (with --frontier)")
    p.add_argument("--lease", type=_positive_float, default=None, metavar="S",
                   help="seconds a worker may hold a URL before others take it; longer than "
                        "--timeout (default: 60, or twice --timeout when that is longer)")
    p.add_argument("--redis-wait", type=_positive_float, default=60.0, metavar="S",
                   help="seconds to wait for an unreachable Redis before stopping (default: 60)")
    p.add_argument("--quiet", action="store_true",
                   help="no summary, progress or spider tracebacks on stderr")


def _add_rule_flags(p: argparse.ArgumentParser) -> None:
    """Every crawl option but ``--mode`` (from :mod:`crawlkit.settings`), and ``--spider``."""
    add_option_flags(p)
    _add_spider_flag(p)


def _add_spider_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spider", metavar="MODULE:NAME",
                   help="run a spider class or function instead of the default records: "
                        "module:Name (from the current directory or installed) or "
                        "path/to/file.py:Name")


def _rule_args(args: argparse.Namespace) -> list[str]:
    """The crawl flags of ``args`` as command-line arguments again (for measured runs)."""
    out = option_argv(args)
    if args.spider is not None:
        out += ["--spider", args.spider]
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``crawlkit`` subcommand."""
    parser = _Parser(
        prog="crawlkit",
        description="One crawl, seven concurrency strategies, measured side by side.",
    )
    parser.add_argument("--version", action="version", version=f"crawlkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    crawl = sub.add_parser("crawl", help="crawl the URLs in a file and print JSON lines")
    crawl.add_argument("urls_file", metavar="URLS_FILE", nargs="?", default=None,
                       help="one URL per line; blank lines and # comments are skipped; "
                            "'-' reads standard input; without it the seeds are the "
                            "spider's start requests and the --sitemap URLs")
    _add_crawl_flags(crawl)

    demo = sub.add_parser("demo", help="serve the built-in demo site on loopback and crawl it")
    demo.add_argument("--pages", type=_positive_int, default=300, help="pages on the site")
    demo.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    demo.add_argument("--page-bytes", type=_positive_int, default=2048, help="bytes per page")
    demo.add_argument("--links", type=_positive_int, default=8, help="links per page")
    _add_crawl_flags(demo)

    compare = sub.add_parser(
        "compare", help="run the same crawl under several modes and compare them"
    )
    compare.add_argument("urls_file", metavar="URLS_FILE")
    compare.add_argument("--modes", default="all", help="all, or a comma-separated list")
    compare.add_argument("--repeat", type=_positive_int, default=3,
                         help="runs per mode; figures are medians (default: 3)")
    compare.add_argument("--report", metavar="DIR",
                         help="write report.md, results.json and charts to DIR")
    _add_rule_flags(compare)

    bench = sub.add_parser("bench", help="measure every mode on built-in workloads")
    bench.add_argument("--quick", action="store_true", help="small workloads, under 2 minutes")
    bench.add_argument("--report", metavar="DIR", help="write the report to DIR")
    bench.add_argument("--workloads", default=None,
                       help="comma-separated subset of: overhead, io, cpu, mixed, memory, "
                            "creation, sweep")

    record = sub.add_parser("record", help="crawl and store every response in a WARC file")
    record.add_argument("urls_file", metavar="URLS_FILE")
    record.add_argument("--warc", required=True, metavar="FILE.warc.gz")
    _add_crawl_flags(record)

    replay = sub.add_parser("replay", help="serve a recorded WARC file on 127.0.0.1")
    replay.add_argument("warc", metavar="FILE.warc.gz")
    replay.add_argument("--port", type=_non_negative_int, default=8000)
    replay.add_argument("--speed", type=_positive_float, default=1.0,
                        help="divide recorded latencies by this (default: 1.0)")

    job = sub.add_parser("job", help="inspect or delete a shared (Redis) crawl")
    job.add_argument("name", metavar="NAME")
    job.add_argument("--frontier", required=True, metavar="redis://HOST:PORT/DB")
    action = job.add_mutually_exclusive_group(required=True)
    action.add_argument("--status", action="store_true", help="print the job's progress")
    action.add_argument("--delete", action="store_true", help="delete the job's keys")

    measure = sub.add_parser("measure")  # internal: one measured run for compare/bench
    measure.add_argument("urls_file", metavar="URLS_FILE")
    measure.add_argument("--mode", default="async")
    measure.add_argument("--result", required=True, metavar="FILE")
    measure.add_argument("--ignore-field", action="append", default=None, metavar="KEY",
                         help="item keys left out of the agreement check (default: depth)")
    _add_rule_flags(measure)

    serve = sub.add_parser("serve-demo", help="serve the built-in demo site until interrupted")
    serve.add_argument("--port", type=_non_negative_int, default=8000)
    serve.add_argument("--pages", type=_positive_int, default=300)
    serve.add_argument("--latency", type=float, default=0.0)
    serve.add_argument("--page-bytes", type=_positive_int, default=2048)
    serve.add_argument("--links", type=_positive_int, default=8, help="links per page")
    which = serve.add_mutually_exclusive_group()
    which.add_argument("--shop", action="store_true",
                       help="serve the shop instead: listings, products, a JSON API, sitemaps, "
                            "a search form and a login (see crawlkit.lab.shop)")
    which.add_argument("--overload", type=_positive_int, metavar="K",
                       help="serve the overload site instead: 503 beyond K requests in service, "
                            "slower with each one (see crawlkit.lab.overload)")
    return parser


def _settings(
    args: argparse.Namespace, follow: bool | None = None, mode: str | None = None
) -> CrawlSettings:
    overrides: dict[str, object] = {}
    if follow is not None:
        overrides["follow"] = follow
    if mode is not None:
        overrides["mode"] = mode
    return CrawlSettings.from_args(args, **overrides)


def _read_seeds(args: argparse.Namespace, warn: bool = True) -> SeedFile:
    """The seed file's URLs; skipped lines reported on stderr; none at all is an error."""
    seeds = read_seed_file(args.urls_file)
    if warn:
        for warning in seeds.warnings:
            print(f"crawlkit: {args.urls_file}: {warning}", file=sys.stderr)
    if not seeds.urls:
        raise UsageError(f"no valid http(s) URL in {args.urls_file!r}")
    return seeds


def _spider(args: argparse.Namespace) -> Spider:
    return load_spider(args.spider) if args.spider else DefaultSpider()


def _run(
    args: argparse.Namespace,
    settings: CrawlSettings,
    spider: Spider,
    seeds: Sequence[str] | None,
    processor: Processor | None = None,
) -> int:
    out = getattr(args, "out", None)
    if out == "":
        raise UsageError("--out needs a file name (without --out the items go to stdout)")
    fields = parse_fields(args.fields)
    crawler = Crawler(
        settings, args.spider or spider,
        None if out else open_sink(sys.stdout.buffer, output_format(None, args.format), fields),
        out=out, state=getattr(args, "state", None),
        frontier=getattr(args, "frontier", None), job=getattr(args, "job", None),
        lease=getattr(args, "lease", None), redis_wait=getattr(args, "redis_wait", 60.0),
        progress=not args.quiet, processor=processor,
        notify=None if args.quiet else _note,
        format=args.format if out else None, fields=fields if out else None,
        sitemaps=args.sitemap, on_spider_error=None if args.quiet else spider_error_printer(),
    )
    with _graceful_stop(crawler, quiet=args.quiet) as stopped_by, _logged_notes(args.quiet):
        stats = crawler.run(seeds)
    if crawler.already_complete:
        return EXIT_OK
    if not args.quiet:
        print(crawler.summary(stats), file=sys.stderr)
    if stats.interrupted:
        if args.state:
            print(f"crawlkit: stopped; run the same command to resume from {args.state}",
                  file=sys.stderr)
        return EXIT_TERMINATED if stopped_by == [signal.SIGTERM] else EXIT_INTERRUPTED
    return EXIT_OK


def _note(message: str) -> None:
    print(f"crawlkit: {message}", file=sys.stderr)


@contextlib.contextmanager
def _logged_notes(quiet: bool) -> Iterator[None]:
    """Print what the library logs at INFO while a crawl runs (``--mode auto``'s
    decision) as notes on stderr, unless quiet."""
    if quiet:
        yield
        return
    logger = logging.getLogger("crawlkit")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("crawlkit: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def spider_error_printer() -> Callable[[str, str], None]:
    """An ``on_spider_error`` hook printing each distinct error's traceback once on stderr."""
    shown: set[str] = set()

    def show(reason: str, traceback: str) -> None:
        if reason in shown:
            return
        shown.add(reason)
        print(f"crawlkit: {reason} (first time; the page is a failed record)\n"
              f"{traceback.rstrip()}", file=sys.stderr)

    return show


@contextlib.contextmanager
def _graceful_stop(crawler: Crawler, quiet: bool) -> Iterator[list[int]]:
    """First Ctrl-C or SIGTERM: stop taking URLs, finish those in flight, commit.
    A second signal stops at once. Yields the signals received, in order."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        crawler.request_stop()
        if not quiet:
            print("crawlkit: stopping after the pages in flight (Ctrl-C again to quit now)",
                  file=sys.stderr)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _crawl(args: argparse.Namespace) -> int:
    settings = _settings(args)
    parse_fields(args.fields)  # refuse an empty --fields before reading any seed
    spider = _spider(args)
    if args.urls_file is None:
        if not args.spider and not args.sitemap:
            raise UsageError("no URL to crawl: pass URLS_FILE ('-' for stdin), --sitemap URL, "
                             "or a --spider with start_urls or sitemap_urls")
        return _run(args, settings, spider, None)
    seeds = _read_seeds(args)
    return _run(args, settings, spider, seeds.urls)


def _demo(args: argparse.Namespace) -> int:
    from .lab.demo import DemoSite, SiteSpec

    settings = _settings(args, follow=True)
    spider = _spider(args)
    spec = SiteSpec(pages=args.pages, latency=args.latency, page_bytes=args.page_bytes,
                    links=args.links)
    with DemoSite(spec) as site:
        if not args.quiet:
            print(f"crawlkit: demo site of {spec.pages} pages at {site.url}/", file=sys.stderr)
        return _run(args, settings, spider, [site.url + "/"])


def _record(args: argparse.Namespace) -> int:
    from .lab.warc import RecordingProcessor, WarcRecorder

    if args.state:
        raise UsageError("record cannot be resumed: drop --state")
    recordable = modes_where("spider_in_process")
    if args.mode not in recordable:
        raise UsageError(f"record runs the spider in this process: use --mode "
                         f"{', '.join(recordable)}")
    settings = _settings(args)
    spider = _spider(args)
    seeds = _read_seeds(args)
    recorder = WarcRecorder(args.warc)
    try:
        processor = RecordingProcessor(spider, settings, recorder)
        code = _run(args, settings, spider, seeds.urls, processor=processor)
    finally:
        recorder.close()
    if not args.quiet:
        print(f"crawlkit: {recorder.records} responses recorded in {args.warc}", file=sys.stderr)
    return code


def _replay(args: argparse.Namespace) -> int:
    from .lab.warc import ReplayServer, load_warc

    server = ReplayServer(load_warc(args.warc), speed=args.speed, port=args.port)

    def ready(url: str) -> None:  # after the bind: the port is the one got (--port 0)
        print(f"crawlkit: replaying {len(server.responses)} responses on {url}/ at speed "
              f"{args.speed} (Ctrl-C stops)", file=sys.stderr, flush=True)

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        raise UsageError(f"cannot serve on port {args.port}: {exc.strerror}") from None
    return EXIT_OK


def _job(args: argparse.Namespace) -> int:
    import json

    from .frontiers.redis import connect, delete_job, job_status
    from .frontiers.redis_conn import redact

    client = connect(args.frontier)
    if args.delete:
        removed = delete_job(client, args.name)
        print(f"crawlkit: job {args.name!r}: {removed} keys deleted", file=sys.stderr)
        return EXIT_OK
    status = job_status(client, args.name)
    if not status["exists"]:
        raise UsageError(f"no job {args.name!r} on {redact(args.frontier)}")
    print(json.dumps(status, sort_keys=True))
    return EXIT_OK


def _measure(args: argparse.Namespace) -> int:
    import orjson

    from .lab.measure import measure

    settings = _settings(args)
    spider = _spider(args)
    seeds = _read_seeds(args, warn=False)
    ignore = args.ignore_field if args.ignore_field is not None else ["depth"]
    doc = measure(settings, spider, seeds.urls, ignore_fields=ignore)
    with open(args.result, "wb") as fh:
        fh.write(orjson.dumps(doc))
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from .lab.compare import ComparePlan, parse_modes, run_plan
    from .lab.report import print_table, write_compare_report

    modes = parse_modes(args.modes)
    if args.cache is not None:
        raise UsageError("compare measures the strategies and --cache would answer for them: "
                         "record the site once (crawlkit record) and compare on crawlkit replay")
    _settings(args, mode=modes[0])  # validate the flags once, before any run
    _spider(args)
    _read_seeds(args)  # warn about skipped lines and refuse a file with no URL, once
    report_dir = _report_dir(args.report)
    plan = ComparePlan(str(Path(args.urls_file).resolve()), modes, tuple(_rule_args(args)),
                       args.repeat)
    results, latencies = run_plan(plan, progress=lambda m: print(m, file=sys.stderr))
    print_table(results, title="crawlkit compare")
    if report_dir is not None:
        write_compare_report(results, latencies, report_dir)
        print(f"crawlkit: report written to {report_dir}/report.md", file=sys.stderr)
    return EXIT_OK


def _report_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--report {value!r} exists and is not a directory")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "--report draws charts with matplotlib: pip install 'crawlkit[report]'"
        ) from None
    return path


def _bench(args: argparse.Namespace) -> int:
    from .lab.bench import WORKLOADS, run_bench

    names = None
    if args.workloads:
        names = [w.strip() for w in args.workloads.split(",") if w.strip()]
        unknown = [w for w in names if w not in WORKLOADS]
        if unknown or not names:
            raise UsageError(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    report_dir = _report_dir(args.report)
    run_bench(quick=args.quick, report_dir=report_dir, workloads=names)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from .lab.demo import DemoSite, SiteSpec
    from .lab.servers import LoopbackServer
    from .lab.shop import ShopSite

    site: LoopbackServer
    if args.shop:
        site, what = ShopSite(port=args.port, latency=args.latency), "the shop"
    elif args.overload:
        from .lab.overload import OverloadSite, OverloadSpec

        overload = OverloadSpec(pages=args.pages, capacity=args.overload, latency=args.latency)
        site, what = OverloadSite(overload, port=args.port), "the overload site"
    else:
        spec = SiteSpec(pages=args.pages, latency=args.latency, page_bytes=args.page_bytes,
                        links=args.links)
        site, what = DemoSite(spec, port=args.port), "the demo site"
    def ready(url: str) -> None:  # after the bind: the port is the one got (--port 0)
        print(f"crawlkit: serving {what} on {url}/ (Ctrl-C stops)", file=sys.stderr, flush=True)

    try:
        site.serve_forever(on_ready=ready)
    except OSError as exc:
        raise UsageError(f"cannot serve on port {args.port}: {exc.strerror}") from None
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"crawl": _crawl, "demo": _demo, "serve-demo": _serve, "compare": _compare,
                "bench": _bench, "measure": _measure, "record": _record, "replay": _replay,
                "job": _job}
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        print(f"crawlkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("crawlkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except CrawlkitError as exc:
        print(f"crawlkit: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
