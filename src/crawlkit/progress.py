"""Live progress of a crawl: a rich display on a terminal, a log line elsewhere."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

SHOWN_LIMITS = 3
"""Busy origins whose adaptive limit the progress line names (the rest are counted)."""


@dataclass(frozen=True)
class Snapshot:
    """Where a crawl stands.

    ``limits`` holds ``(origin, in flight, current limit)`` for each busy origin,
    busiest first, when ``--autothrottle`` adapts the limits (empty otherwise).
    """

    ok: int
    failed: int
    in_flight: int
    queued: int
    elapsed: float
    max_pages: int | None = None
    limits: tuple[tuple[str, int, int], ...] = ()
    live: str = ""
    """What the strategy's workers report live (``processes``: pages fetched, bytes,
    workers replaced), shown at the end of the line; empty for most strategies."""

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """``done, in flight, queued, errors, pages/s, elapsed``, ETA when bounded, the
        busy origins' adaptive limits, and what the workers report live, when they do."""
        text = (f"{self.done} done ({self.failed} errors), {self.in_flight} in flight, "
                f"{self.queued} queued, {self.rate:.1f} pages/s, {self.elapsed:.0f}s elapsed")
        if self.max_pages is not None and self.rate > 0:
            left = max(0, self.max_pages - self.done)
            text += f", ETA {left / self.rate:.0f}s"
        if self.limits:
            shown = ", ".join(f"{origin} {busy}/{limit}"
                              for origin, busy, limit in self.limits[:SHOWN_LIMITS])
            more = len(self.limits) - SHOWN_LIMITS
            text += f"; in flight/limit: {shown}" + (f" (+{more} origins)" if more > 0 else "")
        if self.live:
            text += f"; {self.live}"
        return text


class NullProgress:
    """Shows nothing: the progress of a quiet crawl (callable and a context manager)."""

    def __call__(self, snapshot: Snapshot) -> None:
        pass

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LogProgress:
    """Writes a progress line to ``stream`` at most every ``every`` seconds."""

    def __init__(self, stream: IO[str] | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self._last = time.perf_counter()

    def __call__(self, snapshot: Snapshot) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            print(f"crawlkit: {snapshot.line()}", file=self.stream, flush=True)

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RichProgress:
    """A live line on the terminal (rich), redrawn a few times a second."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._text = Text
        self.shown = Text("crawlkit: starting")
        self._live: Any = Live(self.shown, console=Console(stderr=True),
                               refresh_per_second=4, transient=True)

    def __call__(self, snapshot: Snapshot) -> None:
        self.shown = self._text(f"crawlkit: {snapshot.line()}")
        self._live.update(self.shown)

    def __enter__(self) -> RichProgress:
        self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._live.__exit__(exc_type, exc, tb)


Progress = NullProgress | LogProgress | RichProgress
"""A progress display: called with each :class:`Snapshot`, entered around the crawl."""


def progress_for(quiet: bool, stream: IO[str] | None = None) -> Progress:
    """Nothing shown when quiet; a live display on a terminal; log lines otherwise.

    The result is always callable and a context manager.
    """
    if quiet:
        return NullProgress()
    stream = stream or sys.stderr
    if stream.isatty():
        return RichProgress()
    return LogProgress(stream)
