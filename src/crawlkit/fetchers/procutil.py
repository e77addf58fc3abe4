"""Helpers for the worker processes some strategies start.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group, workers
included. Workers must not die of it (a worker's KeyboardInterrupt would break
the pool and lose the pages in flight): they ignore SIGINT, and the parent, which
alone decides how a crawl stops, stops them when it closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator

from ..errors import UsageError

_PR_SET_PDEATHSIG = 1

REIMPORT_EXIT = 86
"""The exit code of a worker process that ended at once because importing the
script again started a crawl (see :func:`leave_if_reimporting`)."""

_loading_spider = False
"""True in a worker process while it unpickles its spider (which imports the
spider's module); set by :func:`loading_spider`, read by :func:`leave_if_reimporting`."""


@contextlib.contextmanager
def loading_spider() -> Iterator[None]:
    """Mark the duration as a worker loading its spider: a crawl the spider's module
    starts on import ends the worker (:func:`leave_if_reimporting`)."""
    global _loading_spider
    _loading_spider = True
    try:
        yield
    finally:
        _loading_spider = False


def leave_if_reimporting() -> None:
    """Called where a crawl starts: in a worker process that is importing the main
    script again (``spawn``: Python's bootstrapping phase) or the spider's module,
    the crawl is the script's own, started on import because it is not under
    ``if __name__ == "__main__":``. Such a worker ends at once, before the crawl
    opens any file, with :data:`REIMPORT_EXIT`, which its parent reports as
    :func:`reimport_error`; ``os._exit``, so that no thread the script started on
    import can keep it alive. Anywhere else this does nothing."""
    if _loading_spider or getattr(multiprocessing.current_process(), "_inheriting", False):
        sys.stderr.flush()
        os._exit(REIMPORT_EXIT)


def reimport_error(mode: str) -> UsageError:
    """The error for a worker that ended with :data:`REIMPORT_EXIT` (one line)."""
    return UsageError(
        f"the {mode} mode's worker processes import your script again, and importing it "
        "starts a crawl: put the code that starts the crawl under "
        "`if __name__ == \"__main__\":`")


def worker_count() -> int:
    """Worker processes to start by default: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a ``kill -9`` of the
    crawl must not leave orphan workers behind). Does nothing elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def ignore_interrupts() -> None:
    """Make this (worker) process ignore SIGINT; the parent stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def interrupts_blocked() -> Iterator[None]:
    """Block SIGINT in the calling thread for the duration.

    A process started meanwhile (``spawn`` and ``subprocess`` both keep the
    caller's signal mask across exec) cannot be interrupted before its own code
    runs :func:`ignore_interrupts`. A Ctrl-C that arrives meanwhile is not lost:
    another thread of this process takes it, or it waits until the block ends.
    Usable from any thread.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def block_interrupts_in_this_thread() -> None:
    """Leave SIGINT to the other threads of this process, for good (for helper
    threads: Python runs signal handlers in the main thread anyway, and a process
    this thread starts inherits the block)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
