"""Crawl options, each declared once, validated once, shared by every strategy.

Every :class:`CrawlSettings` field carries an :class:`Option` in its metadata: the
help text, the command-line flag (inverted for ``same_host`` and ``obey_robots``),
the metavar and the check its values must pass. The CLI flags, the conversion of
parsed flags back into settings (and into argv for measured runs), the keywords
of :func:`crawlkit.crawl` (:class:`CrawlOptions`) and the README's option table
all come from these declarations.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypedDict

from ._version import __version__
from .errors import UnknownMode, UsageError
from .proxies import proxy_problem
from .strategies import known_modes, strategy_class

DEFAULT_USER_AGENT = f"crawlkit/{__version__} (+https://pypi.org/project/crawlkit/)"
ROBOTS_AGENT = "crawlkit"
"""The product token matched against robots.txt ``User-agent`` lines."""

Check = Callable[[Any], "str | None"]
"""Returns why a value is refused (``"must be at least 1, got 0"``), or ``None``."""


def at_least(low: int) -> Check:
    """A check refusing values below ``low`` (and booleans)."""
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or value < low:
            return f"must be {'at least 1' if low == 1 else f'{low} or more'}, got {value}"
        return None
    return check


def not_negative(value: Any) -> str | None:
    """A check refusing values below 0."""
    return None if value >= 0 else f"must be 0 or more, got {value}"


def positive(value: Any) -> str | None:
    """A check refusing values that are not above 0."""
    return None if value > 0 else f"must be positive, got {value}"


def _regex(flag: str) -> Check:
    def check(value: Any) -> str | None:
        try:
            re.compile(value)
        except re.error as exc:
            return f"invalid {flag} regex {value!r}: {exc}"
        return None
    return check


def _one_of(choices: Sequence[str]) -> Check:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(choices)}, got {value!r}"
    return check


def _a_path(value: Any) -> str | None:
    """Refuses what is not a path, and the empty path (which would name the working
    directory)."""
    if not isinstance(value, (str, os.PathLike)):
        return f"must be a path, got {type(value).__name__}"
    if not os.fspath(value):
        return "must name a directory, got ''"
    return None


CACHE_MODES = ("use", "refresh", "only")
"""How ``--cache`` is used (see the ``cache_mode`` option)."""


@dataclass(frozen=True)
class Option:
    """How one crawl option is offered: to the command line, in docs, to checks.

    Attributes:
        help: one line for ``--help``, docstrings and the README table.
        flag: the command-line flag; for a boolean it switches the default off
            when ``inverted`` (``--any-host`` sets ``same_host`` to false).
        metavar: the value's placeholder in ``--help`` (``None`` for booleans).
        kind: how the flag's text becomes a value (``int``, ``float``, ``str``).
        check: refuses bad values, both from the CLI and from Python.
        repeat: the flag may be given many times, each adds one value.
        inverted: a boolean whose flag sets it to false.
        optional: the value may be ``None`` (no limit).
    """

    help: str
    flag: str
    metavar: str | None = None
    kind: Callable[[str], Any] = str
    check: Check | None = None
    repeat: bool = False
    inverted: bool = False
    optional: bool = False

    def parse(self, text: str) -> Any:
        """The flag's text as a value (argparse ``type=``), checked."""
        try:
            value = self.kind(text)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        problem = self.check(value) if self.check is not None else None
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value


def flag_type(kind: Callable[[str], Any], check: Check) -> Callable[[str], Any]:
    """An argparse ``type=`` for a flag that is not a crawl option, checked the same way."""
    return Option("", "", kind=kind, check=check).parse


def _opt(default: Any, help: str, flag: str, **kw: Any) -> Any:
    return field(default=default, metadata={"option": Option(help, flag, **kw)})


@dataclass(frozen=True)
class CrawlSettings:
    """Everything that shapes a crawl except the seeds and the spider.

    Each field's meaning is its :class:`Option` help (``crawlkit.settings.OPTIONS``,
    the README's "Crawl options" table and ``crawlkit crawl --help`` show them).
    ``mode`` is a strategy name (:data:`crawlkit.MODES`, or one registered in the
    ``crawlkit.fetchers`` entry-point group) or ``"module:Class"`` for a strategy
    of your own (any class with the :class:`~crawlkit.fetchers.Fetcher` methods).
    """

    mode: str = _opt("async", "fetch strategy", "--mode", metavar="MODE")
    concurrency: int = _opt(16, "requests in flight at once (sync uses 1)", "--concurrency",
                            metavar="N", kind=int, check=at_least(1))
    follow: bool = _opt(False, "follow links found on pages", "--follow")
    max_pages: int | None = _opt(None, "stop after N pages were tried (default: no limit)",
                                 "--max-pages", metavar="N", kind=int, check=at_least(1),
                                 optional=True)
    max_depth: int | None = _opt(None, "do not follow links deeper than N (seeds are depth 0)",
                                 "--max-depth", metavar="N", kind=int, check=at_least(0),
                                 optional=True)
    allow: tuple[str, ...] = _opt((), "only follow URLs matching REGEX (repeatable)", "--allow",
                                  metavar="REGEX", check=_regex("--allow"), repeat=True)
    deny: tuple[str, ...] = _opt((), "never follow URLs matching REGEX (repeatable)", "--deny",
                                 metavar="REGEX", check=_regex("--deny"), repeat=True)
    same_host: bool = _opt(True, "follow links to any host (default: only the seeds' hosts)",
                           "--any-host", inverted=True)
    timeout: float = _opt(30.0, "total seconds per fetch: connect, headers and body",
                          "--timeout", metavar="S", kind=float, check=positive)
    max_redirects: int = _opt(10, "redirect hops followed per page", "--max-redirects",
                              metavar="N", kind=int, check=at_least(0))
    max_bytes: int = _opt(10 * 1024 * 1024, "largest body accepted, after decompression",
                          "--max-bytes", metavar="N", kind=int, check=at_least(1))
    user_agent: str = _opt(DEFAULT_USER_AGENT, "User-Agent header sent with every request",
                           "--user-agent", metavar="UA")
    per_host: int = _opt(8, "requests in flight to one origin (scheme, host, port)",
                         "--per-host", metavar="N", kind=int, check=at_least(1))
    delay: float = _opt(0.0, "seconds between request starts on one origin", "--delay",
                        metavar="S", kind=float, check=not_negative)
    jitter: bool = _opt(False, "vary --delay between 0.5x and 1.5x", "--jitter")
    autothrottle: bool = _opt(False, "adapt each origin's requests in flight (up to --per-host) "
                              "and delay (at least --delay) to its 429/503 answers, errors "
                              "and time to first byte", "--autothrottle")
    obey_robots: bool = _opt(True, "do not fetch or obey robots.txt (default: obey RFC 9309)",
                             "--ignore-robots", inverted=True)
    retries: int = _opt(2, "extra attempts after a transient failure", "--retries",
                        metavar="N", kind=int, check=at_least(0))
    retry_backoff: float = _opt(0.5, "base of the exponential backoff between attempts, seconds",
                                "--retry-backoff", metavar="S", kind=float, check=not_negative)
    retry_after_cap: float = _opt(60.0, "longest Retry-After honoured, seconds",
                                  "--retry-after-cap", metavar="S", kind=float,
                                  check=not_negative)
    cookies: bool = _opt(False, "keep cookies: one jar per crawl (and per meta cookiejar key), "
                         "sent and stored by RFC 6265 (default: stateless)", "--cookies")
    block_private: bool = _opt(False, "refuse hosts resolving to loopback, private, link-local "
                               "or other non-global addresses (checked at every hop)",
                               "--block-private")
    proxy: tuple[str, ...] = _opt((), "send requests through the HTTP proxy URL "
                                  "(http://[user:pass@]host:port; repeat to rotate them over "
                                  "origins)", "--proxy", metavar="URL", check=proxy_problem,
                                  repeat=True)
    proxy_env: bool = _opt(False, "take proxies from HTTP_PROXY, HTTPS_PROXY and NO_PROXY "
                           "(ignored by default)", "--proxy-env")
    cache: str | os.PathLike[str] | None = _opt(
        None, "answer from and store every response in the cache directory PATH (a WARC "
        "file and its SQLite index)", "--cache", metavar="PATH", optional=True, check=_a_path)
    cache_mode: str = _opt("use", "use: a hit answers, a miss fetches and is stored; refresh: "
                           "fetch and store every page; only: never fetch, a miss fails "
                           "'not in cache'", "--cache-mode", metavar="MODE",
                           check=_one_of(CACHE_MODES))
    allow_re: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    deny_re: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:

        if self.mode not in known_modes() and ":" not in self.mode:
            raise UnknownMode(f"unknown mode {self.mode!r}; choose one of "
                              f"{', '.join(known_modes())}")
        for name in ("allow", "deny", "proxy"):  # a lone string is one value, not its letters
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            elif isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
                raise UsageError(f"{name} takes a string or a list of strings, got "
                                 f"{type(value).__name__}")
            object.__setattr__(self, name, tuple(value))
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if option.check is None or (value is None and option.optional):
                continue
            for one in value if option.repeat else (value,):
                problem = option.check(one)
                if problem is not None:
                    raise UsageError(problem if option.repeat else f"{name} {problem}")
        if self.cache is None and self.cache_mode != "use":
            # "only" promises no network, "refresh" a cache written: neither holds without one
            raise UsageError(f"--cache-mode {self.cache_mode} needs --cache PATH")
        object.__setattr__(self, "allow_re", tuple(re.compile(p) for p in self.allow))
        object.__setattr__(self, "deny_re", tuple(re.compile(p) for p in self.deny))

    @property
    def effective_concurrency(self) -> int:
        """How many requests the engine keeps in flight for this mode (the strategy's
        ``fixed_concurrency`` fact makes it 1)."""

        fixed = getattr(strategy_class(self.mode), "fixed_concurrency", False)
        return 1 if fixed else self.concurrency

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> CrawlSettings:
        """Settings from flags added by :func:`add_option_flags`; ``overrides`` win."""
        values: dict[str, Any] = {}
        for name, option in OPTIONS.items():
            dest = _dest(option)
            if not hasattr(args, dest):
                continue
            value = getattr(args, dest)
            if option.inverted:
                value = not value
            elif option.repeat:
                value = tuple(value)
            values[name] = value
        values.update(overrides)
        return cls(**values)


class CrawlOptions(TypedDict, total=False):
    """The keyword options of :func:`crawlkit.crawl` and :class:`crawlkit.Crawler`:
    every :class:`CrawlSettings` field but ``mode`` (see each field's help)."""

    concurrency: int
    follow: bool
    max_pages: int | None
    max_depth: int | None
    allow: Sequence[str]
    deny: Sequence[str]
    same_host: bool
    timeout: float
    max_redirects: int
    max_bytes: int
    user_agent: str
    per_host: int
    delay: float
    jitter: bool
    autothrottle: bool
    obey_robots: bool
    retries: int
    retry_backoff: float
    retry_after_cap: float
    cookies: bool
    block_private: bool
    proxy: Sequence[str]
    proxy_env: bool
    cache: str | os.PathLike[str] | None
    cache_mode: str


def _options() -> dict[str, Option]:
    found: dict[str, Option] = {}
    for f in fields(CrawlSettings):
        option = f.metadata.get("option")
        if isinstance(option, Option):
            found[f.name] = option
    return found


OPTIONS: Mapping[str, Option] = _options()
"""Every crawl option by field name, in declaration order."""

CrawlSettings.__doc__ = (CrawlSettings.__doc__ or "") + "\n    Attributes:\n" + "".join(
    f"        {name} ({'false with ' if option.inverted else ''}{option.flag}): {option.help}.\n"
    for name, option in OPTIONS.items())


def default_of(name: str) -> Any:
    """The default value of the field ``name``."""
    f: Field[Any] = CrawlSettings.__dataclass_fields__[name]
    return None if f.default is MISSING else f.default


def _dest(option: Option) -> str:
    return option.flag.lstrip("-").replace("-", "_")


def add_option_flags(parser: argparse.ArgumentParser, exclude: Sequence[str] = ("mode",),
                     choices: Sequence[str] | None = None) -> None:
    """Add a flag for every option (but ``exclude``) to ``parser``.

    ``choices`` restricts ``--mode`` when it is not excluded.
    """
    for name, option in OPTIONS.items():
        if name in exclude:
            continue
        default = default_of(name)
        if isinstance(default, bool):
            parser.add_argument(option.flag, action="store_true", help=option.help)
            continue
        shown = "" if default is None or default == () else f" (default: {_shown(default)})"
        if option.repeat:
            parser.add_argument(option.flag, action="append", default=[], type=option.parse,
                                metavar=option.metavar, help=option.help)
        elif name == "mode":
            parser.add_argument(option.flag, choices=choices, default=default,
                                help=option.help + shown)
        else:
            parser.add_argument(option.flag, type=option.parse, default=default,
                                metavar=option.metavar, help=option.help + shown)


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value == 10 * 1024 * 1024:
        return "10 MiB"
    return str(value)


def option_argv(args: argparse.Namespace, exclude: Sequence[str] = ("mode",)) -> list[str]:
    """The option flags set in ``args`` as command-line arguments again (defaults left out)."""
    out: list[str] = []
    for name, option in OPTIONS.items():
        dest = _dest(option)
        if name in exclude or not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        default = default_of(name)
        if isinstance(default, bool):
            if value:
                out.append(option.flag)
        elif option.repeat:
            for one in value:
                out += [option.flag, str(one)]
        elif value is not None and value != default:
            out += [option.flag, str(value)]
    return out


def option_table() -> str:
    """The README's "Crawl options" table (Markdown)."""
    rows = ["| Field | Flag | Default | Meaning |", "|---|---|---|---|"]
    for name, option in OPTIONS.items():
        default = default_of(name)
        shown = "none" if default is None or default == () else f"`{_shown(default)}`"
        if name == "user_agent":
            shown = "`crawlkit/VERSION (+https://pypi.org/project/crawlkit/)`"
        flag = option.flag + (f" {option.metavar}" if option.metavar else "")
        rows.append(f"| `{name}` | `{flag}` | {shown} | {option.help.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
