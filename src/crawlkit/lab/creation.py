"""What a thread or a process costs to create and to keep, next to a pool's reuse.

``bench`` runs this module in a fresh process (``python -m crawlkit.lab.creation``)
and reads one JSON document from its standard output:

* the same parse job (BeautifulSoup over a 120 KB page, as the ``cpu`` workload's
  spider does) run ``tasks`` times four ways, at most ``workers`` at
  once: a :class:`~concurrent.futures.ProcessPoolExecutor` reused for every task
  (its creation included), a new :class:`multiprocessing.Process` per task, a
  :class:`~concurrent.futures.ThreadPoolExecutor` reused, a new
  :class:`threading.Thread` per task;
* the bare start-and-join cost of one process and of one thread (a no-op target);
* the resident memory each idle thread and each idle process adds to the tree.

Processes start with ``spawn``, the start method crawlkit's ``multiprocess``
strategy uses, so each new process imports the parser again, as a process per
task in a crawler would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any

import orjson
from bs4 import BeautifulSoup

from .measure import tree_rss

_CONTEXT = multiprocessing.get_context("spawn")
_SECTIONS = 240  # about 120 KB of HTML, like the cpu workload's pages


def page(i: int) -> str:
    """A page shaped like the demo site's 120 KB pages (built here: no server needed)."""
    body = "".join(
        f'<section><h2 id="s{k}">Section {k} of page {i}</h2><p>'
        + "Crawlers fetch pages, parse them and follow their links. " * 6
        + f'</p><ul><li><a href="/page/{(i * 7 + k) % 500}">item {k}</a></li></ul></section>'
        for k in range(_SECTIONS)
    )
    return f"<!DOCTYPE html><html><head><title>Page {i}</title></head><body>{body}</body></html>"


def parse_job(i: int) -> int:
    """The unit of work: parse a page into a tree and count its words."""
    soup = BeautifulSoup(page(i), "lxml")
    return sum(len(p.get_text().split()) for p in soup.find_all("p"))


def _noop() -> None:
    pass


def _wait(ready: Any, event: Any) -> None:
    ready.release()
    event.wait()


def _batches(tasks: int, size: int) -> Iterable[range]:
    for start in range(0, tasks, size):
        yield range(start, min(tasks, start + size))


def _timed(run: Callable[[], object]) -> float:
    begun = time.perf_counter()
    run()
    return time.perf_counter() - begun


def _process_pool(tasks: int, workers: int) -> None:
    with ProcessPoolExecutor(workers, mp_context=_CONTEXT) as pool:
        list(pool.map(parse_job, range(tasks)))


def _process_per_task(tasks: int, workers: int) -> None:
    for batch in _batches(tasks, workers):
        procs = [_CONTEXT.Process(target=parse_job, args=(i,)) for i in batch]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()


def _thread_pool(tasks: int, workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(parse_job, range(tasks)))


def _thread_per_task(tasks: int, workers: int) -> None:
    for batch in _batches(tasks, workers):
        threads = [threading.Thread(target=parse_job, args=(i,)) for i in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def start_cost(kind: str, count: int) -> float:
    """Mean seconds to start and join one no-op thread or process."""
    def run() -> None:
        for _ in range(count):
            unit: Any = (threading.Thread(target=_noop) if kind == "thread"
                         else _CONTEXT.Process(target=_noop))
            unit.start()
            unit.join()
    return _timed(run) / count


def idle_footprint(kind: str, count: int) -> float:
    """Resident bytes each of ``count`` idle threads or processes adds to this
    process tree (all of them alive, blocked on an event)."""
    before, _ = tree_rss()
    # ready: released by each unit once it runs (a spawned child has done its imports);
    # event: set by this function to let every unit end
    if kind == "thread":
        ready: Any = threading.Semaphore(0)
        event: Any = threading.Event()
    else:
        ready, event = _CONTEXT.Semaphore(0), _CONTEXT.Event()
    units: list[Any] = [threading.Thread(target=_wait, args=(ready, event)) if kind == "thread"
                        else _CONTEXT.Process(target=_wait, args=(ready, event))
                        for _ in range(count)]
    for unit in units:
        unit.start()
    for _ in units:
        ready.acquire()
    after, _ = tree_rss()
    event.set()
    for unit in units:
        unit.join()
    return max(0, after - before) / count


VARIANTS: dict[str, Callable[[int, int], None]] = {
    "process_pool": _process_pool,
    "process_per_task": _process_per_task,
    "thread_pool": _thread_pool,
    "thread_per_task": _thread_per_task,
}


THREAD_ROUNDS = 5
"""Runs of each thread variant; the fastest counts."""


def run(tasks: int, workers: int, units: int) -> dict[str, Any]:
    """Every measurement of this module, as a JSON-serialisable document."""
    parse_job(0)  # warm the parser and the page cache once
    serial = _timed(lambda: [parse_job(i) for i in range(tasks)])
    # the thread variants take milliseconds: the best of a few runs keeps a busy
    # machine's hiccups out of them; the process variants take seconds and run once
    seconds = {name: min(_timed(partial(fn, tasks, workers))
                         for _ in range(1 if name.startswith("process") else THREAD_ROUNDS))
               for name, fn in VARIANTS.items()}
    return {
        "tasks": tasks,
        "workers": workers,
        "start_method": "spawn",
        "job_ms": serial / tasks * 1000,
        "seconds": seconds,
        "per_task_ms": {name: s / tasks * 1000 for name, s in seconds.items()},
        "start_ms": {"thread": start_cost("thread", 50) * 1000,
                     "process": start_cost("process", 2) * 1000},
        "idle_mb_each": {"thread": idle_footprint("thread", units) / 2**20,
                         "process": idle_footprint("process", units) / 2**20},
        "units": units,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m crawlkit.lab.creation --tasks N --workers P --units K``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--units", type=int, default=8)
    args = parser.parse_args(argv)
    doc = run(args.tasks, args.workers, args.units)
    sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")


if __name__ == "__main__":
    main()
