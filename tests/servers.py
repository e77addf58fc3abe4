"""Local servers for the tests: all on 127.0.0.1, port 0, run in background threads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class FaultServer:
    """A raw-socket HTTP server whose paths misbehave on purpose.

    ``/ok``         200 with a small HTML page
    ``/hang``       reads the request and never answers
    ``/stall``      sends headers and part of the body, then stalls
    ``/truncated``  declares 1000 bytes, sends 100, closes
    ``/huge``       declares a body larger than any test limit
    ``/drip``       sends one byte every 0.2 s, forever
    ``/latin1``     an ISO-8859-1 page declared in the header
    """

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if path == "/ok":
                body = b"<html><head><title>fine</title></head><body>ok</body></html>"
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif path == "/latin1":
                body = "<html><title>caf\xe9</title></html>".encode("latin-1")
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                             b"Content-Type: text/html; charset=iso-8859-1\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif path == "/hang":
                await asyncio.sleep(3600)
            elif path == "/stall":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 100\r\n\r\n<html>")
                await writer.drain()
                await asyncio.sleep(3600)
            elif path == "/truncated":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 1000\r\n\r\n" + b"x" * 100)
            elif path == "/huge":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 999999999999\r\n\r\n<html>")
            elif path == "/drip":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 100000\r\n\r\n")
                while True:
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.2)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
                             b"Content-Length: 0\r\n\r\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self.url

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def closed_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
