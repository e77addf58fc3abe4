"""``gevent``: a pool of greenlets fetching with geventhttpclient under monkey-patching.

Monkey-patching rewrites the standard library for the whole process, which
would break the other strategies. So this strategy runs its greenlets in a
child process that patches itself before importing anything else; the parent
only sends requests and receives outcomes over a socket pair. Fetching, parsing
and the spider all run in the child, cooperatively, as a gevent program would.
The spider must therefore be importable and picklable.

This module and :mod:`crawlkit.http.green` are the only ones that import
gevent, and only in the child.
"""

from __future__ import annotations

import contextlib
import io
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
_BUFFER = 256 * 1024
_READY = "ready"
_BOOT_TIMEOUT = 60.0
_BOOT = (
    "from gevent import monkey; monkey.patch_all()\n"
    "import sys\n"
    "from crawlkit.fetchers.green import child_main\n"
    "child_main(int(sys.argv[1]))\n"
)


def _send(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _reader(sock: socket.socket) -> io.BufferedReader:
    """A buffered reader on ``sock``: one receive can bring in many frames."""
    return io.BufferedReader(sock.makefile("rb", buffering=0), _BUFFER)


def _recv(stream: io.BufferedReader) -> Any:
    """One pickled frame from a buffered reader; raises EOFError when the peer closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def child_main(fd: int) -> None:
    """Entry point of the gevent child (already monkey-patched by the boot code).

    Requests arrive in batches (one frame per engine round); outcomes leave in
    batches too: the first greenlet to finish schedules a flush, which runs once
    every greenlet woken in the same turn of the hub has added its outcome.
    """
    import gevent
    import gevent.pool

    from ..http import green as http_green
    from .base import failed_outcome
    from .procutil import die_with_parent

    die_with_parent()
    sock = socket.socket(fileno=fd)  # a gevent socket: reads and writes yield
    stream = _reader(sock)
    processor, settings = _recv(stream)
    clients = http_green.Clients(settings)
    _send(sock, _READY)  # start-up ends here: the engine's clock starts after this
    pool = gevent.pool.Pool(settings.effective_concurrency)
    ready: list[Outcome] = []  # outcomes not yet sent; greenlets of one thread, no lock
    flush_scheduled = False

    def flush() -> None:
        nonlocal flush_scheduled
        try:
            while ready:
                batch = ready[:]
                ready.clear()
                _send(sock, batch)  # may yield: outcomes finished meanwhile go in the next
        except OSError:
            return  # the parent is gone (closing): the read loop ends on its own
        flush_scheduled = False

    def work(request: Request) -> None:
        nonlocal flush_scheduled
        try:
            outcome = processor(http_green.fetch(clients, request, settings))
        except Exception as exc:
            outcome = failed_outcome(processor, request, exc)
        ready.append(outcome)
        if not flush_scheduled:
            flush_scheduled = True
            gevent.spawn(flush)

    try:
        while True:
            try:
                requests = _recv(stream)
            except EOFError:
                break
            if requests is None:
                break
            for request in requests:
                pool.spawn(work, request)
    finally:
        pool.kill()
        clients.close()
        stream.close()
        sock.close()


class GeventFetcher:
    """Greenlets in a monkey-patched child process; outcomes read back by a thread."""

    name: ClassVar[str] = "gevent"
    fixed_concurrency: ClassVar[bool] = False
    spider_in_process: ClassVar[bool] = False
    spider_must_pickle: ClassVar[bool] = True
    http_client: ClassVar[str] = "geventhttpclient"

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
        self._unsent: list[Request] = []  # only the engine's thread touches it
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
        self._stream = _reader(self._sock)
        self._await_ready()
        self._reader = threading.Thread(target=self._read, name="crawlkit-gevent-reader",
                                        daemon=True)
        self._reader.start()

    def _await_ready(self) -> None:
        """Wait until the child has booted (gevent, imports, the spider), so that its
        start-up is counted as start-up and not as the first page's latency."""
        self._sock.settimeout(_BOOT_TIMEOUT)
        try:
            message = _recv(self._stream)
            failure = None if message == _READY else f"sent {message!r}"
        except (EOFError, OSError) as exc:  # it exited, or stayed silent for too long
            failure = str(exc)
        if failure is None:
            self._sock.settimeout(None)
            return
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._stream.close()
        self._sock.close()
        raise FetcherError(
            f"gevent worker process did not start: {failure or f'exit code {code}'}")

    def _read(self) -> None:
        stream = self._stream
        while True:
            try:
                outcomes = _recv(stream)
            except (EOFError, OSError):
                if not self._closing.is_set():
                    code = self._proc.poll()
                    self._outcomes.put(FetcherError(f"gevent worker process exited ({code})"))
                return
            for outcome in outcomes:
                self._outcomes.put(outcome)

    def submit(self, request: Request) -> None:
        """Queue ``request``; it is sent with the others of this round when the
        engine next calls :meth:`completed` (one frame, one wake-up of the child)."""
        self._unsent.append(request)

    def _send_unsent(self) -> None:
        if self._unsent:
            batch, self._unsent = self._unsent, []
            with self._send_lock:
                _send(self._sock, batch)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        self._send_unsent()
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
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # ends the reader's read even if the
        self._sock.close()                         # child left the socket open
        self._reader.join(timeout=5)
