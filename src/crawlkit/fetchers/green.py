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
import itertools
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
from typing import Any, ClassVar

from ..errors import FetcherError, UsageError
from ..models import FetchResult, Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings
from .base import WORKER_DIED, OutcomeQueue, process_safely
from .procutil import interrupts_blocked

_HEADER = struct.Struct("!I")
_BUFFER = 256 * 1024
_READY = "ready"
_BOOT_TIMEOUT = 60.0
_BOOT = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # the parent stops us
    "from gevent import monkey; monkey.patch_all()\n"
    "import sys\n"
    "from crawlkit.fetchers.green import child_main\n"
    "child_main(int(sys.argv[1]))\n"
)


def _send(sock: socket.socket, obj: Any) -> None:
    sock.sendall(_frame(obj))


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


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


Ticketed = tuple[int, Any]
"""``(ticket, request)`` to the child and ``(ticket, outcome)`` back: the parent
matches outcomes to requests by ticket (a Request with ``meta`` does not hash,
and two requests may be equal)."""


def _pack_outcomes(outcomes: list[Ticketed], processor: Processor) -> bytes:
    """One frame holding ``outcomes``; an outcome that cannot be pickled is replaced
    by a failed record for its request, so the parent never waits for it."""
    try:
        return _frame(outcomes)
    except Exception:  # pickle raises many types; find the culprits one by one
        pass
    from .base import failed_outcome

    sendable: list[Ticketed] = []
    for ticket, outcome in outcomes:
        try:
            pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            outcome = failed_outcome(processor, outcome.request,
                                     RuntimeError(f"outcome cannot be sent: {exc}"))
            try:
                pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                outcome = Outcome(outcome.request, outcome.request.url, None,
                                  "internal error: outcome cannot be sent")
        sendable.append((ticket, outcome))
    return _frame(sendable)


def child_main(fd: int) -> None:
    """Entry point of the gevent child (already monkey-patched by the boot code).

    Requests arrive whole (method, headers, body, meta; callbacks by name) in
    batches of :data:`Ticketed` pairs, one frame per engine round; outcomes leave
    in batches too, under the ticket of their request: the first greenlet to
    finish schedules a flush, which runs once every greenlet woken in the same
    turn of the hub has added its outcome.
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
    ready: list[Ticketed] = []  # outcomes not yet sent; greenlets of one thread, no lock
    flush_scheduled = False

    def flush() -> None:
        nonlocal flush_scheduled
        try:
            while ready:
                batch = ready[:]
                ready.clear()
                # may yield: outcomes finished meanwhile go in the next
                sock.sendall(_pack_outcomes(batch, processor))
        except OSError:
            return  # the parent is gone (closing): the read loop ends on its own
        finally:
            flush_scheduled = False

    def work(ticket: int, request: Request) -> None:
        nonlocal flush_scheduled
        try:
            outcome = processor(http_green.fetch(clients, request, settings))
        except gevent.GreenletExit:
            raise
        except BaseException as exc:  # SystemExit too: the parent waits for this outcome
            outcome = failed_outcome(processor, request, exc)
        ready.append((ticket, outcome))
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
            for ticket, request in requests:
                pool.spawn(work, ticket, request)
    finally:
        pool.kill()
        clients.close()
        stream.close()
        sock.close()


class GeventFetcher:
    """Greenlets in a monkey-patched child process; outcomes read back by a thread.

    A child that dies (``os._exit`` in a spider, a crash, the OOM killer) takes
    every page it held with it: each becomes the transient error
    ``worker process died`` (retried like a network error, then recorded), and a
    new child takes the pages after it.
    """

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
        self._settings = settings
        self._processor = processor
        self._outcomes = OutcomeQueue()
        self._unsent: list[Request] = []  # only the engine's thread touches it
        # protects _sock writes (a frame must never interleave with another), and
        # _in_flight and _child_died, which the engine's thread and the reader share
        self._send_lock = threading.Lock()
        # sent to the child, no outcome back yet, by ticket
        self._in_flight: dict[int, Request] = {}
        self._tickets = itertools.count()  # only the engine's thread draws from it
        self._child_died = False
        self._closing = threading.Event()
        self._spawn_child()

    def _spawn_child(self) -> None:
        """Start a child, hand it the processor, wait until it is ready, read from it.
        Called from the engine's thread only (the child's parent-death signal follows
        the thread that started it)."""
        parent, child = socket.socketpair()
        self._sock = parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        with interrupts_blocked():  # no Ctrl-C kills the child before it ignores SIGINT
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child.fileno())],
                pass_fds=(child.fileno(),),
                env=env,
            )
        child.close()
        with self._send_lock:
            _send(self._sock, (self._processor, self._settings))
        self._stream = _reader(self._sock)
        self._await_ready()
        self._reader = threading.Thread(target=self._read, args=(self._stream, self._proc),
                                        name="crawlkit-gevent-reader", daemon=True)
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

    def _read(self, stream: io.BufferedReader, proc: subprocess.Popen[bytes]) -> None:
        while True:
            try:
                outcomes = _recv(stream)
            except (EOFError, OSError):
                if not self._closing.is_set():
                    self._lose_child()
                return
            except Exception as exc:  # a frame this process cannot unpickle: stop, loudly
                if not self._closing.is_set():
                    self._outcomes.put(FetcherError(
                        f"gevent worker process sent what cannot be read: {exc}"))
                return
            with self._send_lock:
                for ticket, _ in outcomes:
                    self._in_flight.pop(ticket, None)
            for _, outcome in outcomes:
                self._outcomes.put(outcome)

    def _lose_child(self) -> None:
        """The child is gone: each page it held becomes an outcome of its own."""
        with self._send_lock:
            lost = list(self._in_flight.values())
            self._in_flight.clear()
            self._child_died = True
        for request in lost:
            result = FetchResult(request, None, {}, b"", WORKER_DIED)
            self._outcomes.put(process_safely(self._processor, result))

    def _replace_child(self) -> None:
        self._reader.join(timeout=5)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stream.close()
        self._sock.close()
        with self._send_lock:
            self._child_died = False
        self._spawn_child()

    def submit(self, request: Request) -> None:
        """Queue ``request``; it is sent with the others of this round when the
        engine next calls :meth:`completed` (one frame, one wake-up of the child)."""
        self._unsent.append(request)

    def _send_unsent(self) -> None:
        while True:
            if self._child_died:
                self._replace_child()
            if not self._unsent:
                return
            with self._send_lock:
                if not self._child_died:
                    batch = [(next(self._tickets), request) for request in self._unsent]
                    self._unsent = []
                    self._in_flight.update(batch)
                    with contextlib.suppress(OSError):  # it died: the reader reports them
                        _send(self._sock, batch)
                    return

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
