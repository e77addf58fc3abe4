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
import os
import signal
import sys
from collections.abc import Iterator

_PR_SET_PDEATHSIG = 1


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
