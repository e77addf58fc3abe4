"""gevent: a gevent.pool.Pool of greenlets running monkey-patched requests.

monkey.patch_all() must run before anything imports socket, ssl or threading,
so it comes first, and it changes the whole process: that is why gevent gets a
script (a process) of its own. After patching, requests' blocking socket calls
yield to the hub, and --workers greenlets fetch at once on one thread. The
baseline runs in the same patched process, one page at a time.
Run: python examples/gevent_pool.py [--pages N] [--latency S] [--workers G]
"""

# A compiler directive, required first by the language; it imports nothing patchable.
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import gevent.pool  # noqa: E402
import requests  # noqa: E402
from _tutorial import (  # noqa: E402
    Done,
    Site,
    arguments,
    demo_site,
    fetch_and_parse,
    measure,
    report,
    sequential,
)


def with_gevent(site: Site, size: int) -> Done:
    pool = gevent.pool.Pool(size)  # at most `size` greenlets alive, so requests in flight
    with requests.Session() as session:  # greenlets share one thread: one Session will do
        keys = list(pool.imap_unordered(lambda url: fetch_and_parse(session, url), site.urls()))
    return Done(keys, {"socket patched by gevent": monkey.is_module_patched("socket")})


def main() -> None:
    args = arguments(__doc__).parse_args()
    with demo_site(args) as site:
        report([
            measure("sequential", lambda: sequential(site)),
            measure(f"gevent Pool({args.workers}), monkey-patched requests",
                    lambda: with_gevent(site, args.workers)),
        ])


if __name__ == "__main__":
    main()
