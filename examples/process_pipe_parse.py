"""multiprocessing.Pipe: the parent fetches, a parse worker process parses, at the same time.

With a parse that costs CPU (crawlkit's parse stage plus a BeautifulSoup walk),
a single process alternates: wait for a page, parse it, wait for the next. Here
the parent sends each page's HTML down one end of a Pipe while a worker process
parses the previous one and sends the key back on the other end; fetching and
parsing overlap. The baseline does the same work in one process.
Run: python examples/process_pipe_parse.py [--pages N] [--latency S] [--page-bytes B]
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

import requests
from _tutorial import Done, Site, arguments, demo_site, fetch, measure, parse_heavy, report


def sequential_heavy(site: Site) -> list[str]:
    with requests.Session() as session:
        return [parse_heavy(fetch(session, url), url) for url in site.urls()]


def parse_worker(conn: Connection) -> None:
    """Parse (url, html) pairs from ``conn`` and send back keys, until None."""
    while (message := conn.recv()) is not None:
        url, html = message
        conn.send(parse_heavy(html, url))
    conn.close()


def with_pipe(site: Site) -> Done:
    here, there = multiprocessing.Pipe()  # duplex: pages go one way, keys the other
    parser = multiprocessing.Process(target=parse_worker, args=(there,))
    parser.start()
    there.close()  # the child's end; the parent keeps only its own
    keys: list[str] = []
    sent = 0
    with requests.Session() as session:
        for url in site.urls():
            here.send((url, fetch(session, url)))
            sent += 1
            while here.poll():  # collect what is already parsed, never wait here
                keys.append(here.recv())
    keys += [here.recv() for _ in range(sent - len(keys))]
    here.send(None)
    parser.join()
    return Done(keys, {"pages sent through the Pipe": sent,
                       "parse worker exitcode": parser.exitcode})


def main() -> None:
    args = arguments(__doc__, page_bytes=100_000).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential, fetch then parse", lambda: sequential_heavy(site)),
            measure("fetch here, parse in a worker via Pipe", lambda: with_pipe(site)),
        ])


if __name__ == "__main__":
    main()
