"""multiprocessing Value and Array, and the process versions of Lock, Semaphore and Event.

--workers processes share one Value holding the next page to fetch (claimed
under a multiprocessing.Lock), count pages in a Value whose `+= 1` is done
without its lock and in one done with it (the unlocked one loses updates across
processes as a thread-shared int does), add bytes to their own slot of an Array
(no lock needed: no two processes write one slot), hold a Semaphore slot while
fetching (at most --in-flight requests at once across all processes), and stop
when an Event says the pages ran out.
Run: python examples/process_shared_state.py [--pages N] [--latency S] [--workers P]
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from multiprocessing.synchronize import Event, Lock, Semaphore

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse, report, sequential


def worker(site: Site, slot: int, next_page: Synchronized[int], claim: Lock,
           pages_unlocked: Synchronized[int], pages_locked: Synchronized[int],
           bytes_by_worker: SynchronizedArray[int], in_flight: Semaphore,
           busy: Synchronized[int], most_busy: Synchronized[int], ran_out: Event,
           keys: multiprocessing.Queue[str]) -> None:
    with requests.Session() as session:
        while not ran_out.is_set():
            with claim:
                page = next_page.value
                next_page.value += 1
            if page >= site.pages:
                ran_out.set()  # tells the other workers not to claim again
                return
            url = site.page(page)
            with in_flight:  # one of the --in-flight slots, across every process
                with busy.get_lock():
                    busy.value += 1
                    most_busy.value = max(most_busy.value, busy.value)
                html = fetch(session, url)
                with busy.get_lock():
                    busy.value -= 1
            keys.put(parse(html, url))
            bytes_by_worker[slot] += len(html.encode())
            old = pages_unlocked.value
            time.sleep(0)  # as in the threads example: a read-modify-write that yields
            pages_unlocked.value = old + 1
            with pages_locked.get_lock():
                pages_locked.value += 1


def with_shared_state(site: Site, workers: int, slots: int) -> Done:
    next_page = multiprocessing.Value("i", 0)  # in shared memory; guarded by `claim`
    claim = multiprocessing.Lock()  # protects the read-and-increment of next_page
    pages_unlocked = multiprocessing.Value("i", 0)  # updated without its lock, on purpose
    pages_locked = multiprocessing.Value("i", 0)  # updated under its own get_lock()
    bytes_by_worker = multiprocessing.Array("q", workers)  # one slot per worker
    in_flight = multiprocessing.Semaphore(slots)  # bounds fetches in flight, all processes
    busy = multiprocessing.Value("i", 0)  # fetches in flight now, under its get_lock()
    most_busy = multiprocessing.Value("i", 0)  # the most seen at once, under busy's lock
    ran_out = multiprocessing.Event()  # set once no page is left to claim
    keys: multiprocessing.Queue[str] = multiprocessing.Queue()  # one key per page
    processes = [
        multiprocessing.Process(target=worker, args=(
            site, slot, next_page, claim, pages_unlocked, pages_locked, bytes_by_worker,
            in_flight, busy, most_busy, ran_out, keys))
        for slot in range(workers)
    ]
    for process in processes:
        process.start()
    found = [keys.get(timeout=60) for _ in range(site.pages)]
    for process in processes:
        process.join()
    return Done(found, {
        "Value without its lock: pages counted": f"{pages_unlocked.value} of {len(found)}",
        "Value with its lock: pages counted": f"{pages_locked.value} of {len(found)}",
        "Array of bytes per worker": bytes_by_worker[:],
        "most fetches in flight": f"{most_busy.value} (Semaphore of {slots})",
        "Event set when the pages ran out": ran_out.is_set(),
    })


def main() -> None:
    parser = arguments(__doc__, workers=8)
    parser.add_argument("--in-flight", type=int, default=4,
                        help="Semaphore slots: fetches in flight across all processes")
    args = parser.parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"{args.workers} processes, Value/Array/Lock/Semaphore",
                    lambda: with_shared_state(site, args.workers, args.in_flight)),
        ])


if __name__ == "__main__":
    main()
