"""A loopback HTTP server base for the demo sites and the WARC replay, and a wait for
servers started in other processes.

Everything here listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    """Return once something accepts TCP connections on ``host:port``.

    For servers started in another process (``serve-demo``, redis-server).

    Raises:
        TimeoutError: nothing listened within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


_S = TypeVar("_S", bound="LoopbackServer")


class LoopbackServer:
    """An aiohttp server on loopback, run in a background thread or in the foreground.

    Subclasses implement :meth:`_handle`. Use as a context manager, or call
    :meth:`start` and :meth:`stop`, or :meth:`serve_forever`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context  # serve https with this server context when set
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:40211``."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raise NotImplementedError

    async def _start(self) -> None:
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024,
                           ssl_context=self.ssl_context)
        await site.start()
        server_obj: Any = site._server
        self.port = int(server_obj.sockets[0].getsockname()[1])

    def start(self) -> str:
        """Start serving; returns :attr:`url`."""
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="demo-site", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=10)
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        loop = self._loop
        if loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        self._loop = None

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (for ``crawlkit serve-demo``);
        ``on_ready`` gets :attr:`url` once the port is bound."""
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._start())
            if on_ready is not None:
                on_ready(self.url)
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()
            self._loop = None

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
