"""``gevent``: a pool of greenlets running requests under monkey-patching.

Monkey-patching rewrites the standard library for the whole process, which
would break the other strategies. So this strategy runs its greenlets in a
child process that patches itself before importing anything else; the parent
only sends requests and receives outcomes over a socket pair. Fetching, parsing
and the spider all run in the child, cooperatively, as a gevent program would.
The spider must therefore be importable and picklable.

This is the only module that imports gevent, and only in the child.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
from typing import Any, ClassVar

from ..errors import FetcherError, UsageError
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .base import OutcomeQueue

_HEADER = struct.Struct("!I")
_BOOT = (
    "from gevent import monkey; monkey.patch_all()\n"
    "import sys\n"
    "from crawlkit.fetchers.green import child_main\n"
    "child_main(int(sys.argv[1]))\n"
)


def _send(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv(sock: socket.socket) -> Any:
    """One pickled frame; raises EOFError when the peer closed the socket."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = _recv_exact(sock, size)
    if data is None:
        raise EOFError
    return pickle.loads(data)


def child_main(fd: int) -> None:
    """Entry point of the gevent child (already monkey-patched by the boot code)."""
    import gevent.pool

    from .. import http_sync
    from ..procutil import die_with_parent
    from .base import failed_outcome

    die_with_parent()
    sock = socket.socket(fileno=fd)  # a gevent socket: reads and writes yield
    processor, settings = _recv(sock)
    session = http_sync.new_session(settings)
    pool = gevent.pool.Pool(settings.effective_concurrency)
    # serialises frames written by concurrent greenlets (a gevent lock after patching)
    send_lock = threading.Lock()

    def work(request: Request) -> None:
        try:
            outcome = processor(http_sync.fetch(session, request, settings))
        except Exception as exc:
            outcome = failed_outcome(processor, request, exc)
        with send_lock:
            _send(sock, outcome)

    try:
        while True:
            try:
                request = _recv(sock)
            except EOFError:
                break
            if request is None:
                break
            pool.spawn(work, request)
    finally:
        pool.kill()
        session.close()
        sock.close()


class GeventFetcher:
    """Greenlets in a monkey-patched child process; outcomes read back by a thread."""

    name: ClassVar[str] = "gevent"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        try:
            payload = pickle.dumps(processor)
        except Exception as exc:
            raise UsageError(
                f"the gevent mode needs a picklable spider defined at module level: {exc}"
            ) from exc
        if b"__main__" in payload:
            raise UsageError(
                "the gevent mode runs the spider in a child process, which cannot import a "
                "spider defined in __main__: move it to a module (or import your script "
                "as a module)"
            )
        self._outcomes = OutcomeQueue()
        parent, child = socket.socketpair()
        self._sock = parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(child.fileno())],
            pass_fds=(child.fileno(),),
            env=env,
        )
        child.close()
        # protects _sock writes: submit() and close() may race with nothing else, but
        # a frame must never interleave with another
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        with self._send_lock:
            _send(self._sock, (processor, settings))
        self._reader = threading.Thread(target=self._read, name="crawlkit-gevent-reader",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                outcome = _recv(self._sock)
            except (EOFError, OSError):
                if not self._closing.is_set():
                    code = self._proc.poll()
                    self._outcomes.put(FetcherError(f"gevent worker process exited ({code})"))
                return
            self._outcomes.put(outcome)

    def submit(self, request: Request) -> None:
        with self._send_lock:
            _send(self._sock, request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        return self._outcomes.drain(timeout)

    def close(self) -> None:
        self._closing.set()
        try:
            with self._send_lock:
                _send(self._sock, None)
        except OSError:
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._sock.close()
        self._reader.join(timeout=5)
