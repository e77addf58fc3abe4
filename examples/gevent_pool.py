"""gevent: monkey-patched requests run by a gevent.pool.Pool of greenlets.

monkey.patch_all() must run before anything imports socket, ssl or threading, so
it comes first. The demo site is served by a child process
(`python -m crawlkit serve-demo`) on a free 127.0.0.1 port, stopped at the end.
Run: python examples/gevent_pool.py [--pages N] [--size S]
"""

# A compiler directive, required first by the language; it imports nothing patchable.
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent.pool  # noqa: E402
import requests  # noqa: E402

from crawlkit.lab.demo import page_title  # noqa: E402
from crawlkit.parse import extract  # noqa: E402

BASE_URL = ""  # set in main() once the demo server is up


def spider(page_number: int) -> tuple[int, str | None]:
    """Fetch /page/{page_number}; the patched socket makes it yield while waiting."""
    url = f"{BASE_URL}/page/{page_number}"
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    title, _links = extract(response.text, url)
    return page_number, title


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, server: subprocess.Popen[bytes], limit: float = 10.0) -> None:
    """Poll until 127.0.0.1:port accepts a connection, for at most `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"demo server exited early with code {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"demo server did not listen on port {port} within {limit:.0f}s")


def main() -> None:
    global BASE_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--size", type=int, default=16, help="greenlets in the pool")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "crawlkit", "serve-demo", "--port", str(port)]
    command += ["--pages", str(args.pages)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, server)
        BASE_URL = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        pool = gevent.pool.Pool(args.size)
        results = list(pool.imap_unordered(spider, range(args.pages)))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    titles_ok = all(title == page_title(n) for n, title in results)
    print(f"fetched {len(results)} pages in {elapsed:.2f}s with a pool of {args.size} greenlets")
    print(f"titles ok: {titles_ok}")
    print(f"pages: {len(results)}")


if __name__ == "__main__":
    main()
