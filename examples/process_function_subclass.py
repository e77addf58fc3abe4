"""multiprocessing.Process by function and by subclass; terminate() and exitcode.

The pages are split into --workers slices; each process fetches its slice and
puts the keys on a multiprocessing.Queue (read before join(): a child that still
has queued data does not exit). Then a process that hangs is stopped with
terminate(): its exitcode is minus the signal number, where a clean exit is 0.
Run: python examples/process_function_subclass.py [--pages N] [--latency S] [--workers P]
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.process import BaseProcess

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch_and_parse, measure, report, sequential


def fetch_slice(urls: list[str], results: multiprocessing.Queue[str]) -> None:
    with requests.Session() as session:
        for url in urls:
            results.put(fetch_and_parse(session, url))


class SliceFetcher(multiprocessing.Process):
    """The same work as a Process subclass; run() is what start() runs in the child."""

    def __init__(self, urls: list[str], results: multiprocessing.Queue[str]) -> None:
        super().__init__()
        self.urls = urls
        self.results = results

    def run(self) -> None:
        fetch_slice(self.urls, self.results)


def hang() -> None:
    time.sleep(3600)


def with_processes(site: Site, workers: int, subclass: bool) -> Done:
    urls = site.urls()
    slices = [urls[k::workers] for k in range(workers)]
    # Keys from every child; a pipe plus a feeder thread per child, safe across processes.
    results: multiprocessing.Queue[str] = multiprocessing.Queue()
    if subclass:
        processes: list[BaseProcess] = [SliceFetcher(part, results) for part in slices]
    else:
        processes = [multiprocessing.Process(target=fetch_slice, args=(part, results))
                     for part in slices]
    for process in processes:
        process.start()
    keys = [results.get(timeout=60) for _ in urls]
    for process in processes:
        process.join()
    how = "subclass" if subclass else "target"
    codes = sorted({process.exitcode for process in processes}, key=str)
    notes: dict[str, object] = {f"exit codes ({how})": codes}
    if subclass:
        hung = multiprocessing.Process(target=hang)
        hung.start()
        alive = hung.is_alive()
        hung.terminate()
        hung.join()
        notes["hung process: alive, then exitcode after terminate()"] = (
            f"{alive}, {hung.exitcode}")
    return Done(keys, notes)


def main() -> None:
    args = arguments(__doc__, workers=8).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"{args.workers} Process(target=...) + Queue",
                    lambda: with_processes(site, args.workers, subclass=False)),
            measure(f"{args.workers} Process subclass + Queue",
                    lambda: with_processes(site, args.workers, subclass=True)),
        ])


if __name__ == "__main__":
    main()
