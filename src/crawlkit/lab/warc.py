"""Record a crawl's responses to WARC with their timing, and replay them on loopback.

``record`` stores each HTTP response (status, headers, decoded body) as a WARC
``response`` record, with two extra WARC headers giving its measured time to
first byte and download time. ``replay`` serves those responses by path and
query on 127.0.0.1, waiting the recorded time (scaled by ``speed``) before each,
so ``compare`` against the replay measures the recorded site, offline and
repeatably, without loading it again.

Bodies are stored decoded (the crawl decompressed them), so Content-Encoding,
Content-Length and Transfer-Encoding are dropped from the stored headers.
Pages that failed (no HTTP response) are not stored; replay answers 404 for them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import UsageError
from ..models import FetchResult, Outcome
from ..process import Processor
from ..settings import CrawlSettings
from ..spiders import Spider
from ..urls import canonicalize
from ..warc import DOWNLOAD_HEADER, TTFB_HEADER, WIRE_HEADERS
from .servers import LoopbackServer

__all__ = ["DOWNLOAD_HEADER", "TTFB_HEADER", "RecordingProcessor", "ReplayServer",
           "WarcRecorder", "load_warc"]

_DROPPED = WIRE_HEADERS | {"connection"}


class WarcRecorder:
    """Appends one WARC response record per fetch result to a ``.warc.gz`` file."""

    def __init__(self, path: str | Path) -> None:
        from warcio.warcwriter import WARCWriter

        try:
            self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise UsageError(f"cannot write --warc {str(path)!r}: {exc.strerror}") from None
        self._writer = WARCWriter(self._file, gzip=True)
        # protects the writer and file: fetch threads finish pages concurrently
        self._lock = threading.Lock()
        self.records = 0

    def write(self, result: FetchResult) -> None:
        """Store ``result`` if an HTTP response arrived."""
        from warcio.statusandheaders import StatusAndHeaders

        if result.error is not None or result.status is None:
            return
        headers = [(k, v) for k, v in result.headers.items() if k not in _DROPPED]
        headers.append(("Content-Length", str(len(result.body))))
        http_headers = StatusAndHeaders(str(result.status), headers, protocol="HTTP/1.1")
        warc_headers = {
            TTFB_HEADER: f"{max(0.0, result.first_byte - result.started):.6f}",
            DOWNLOAD_HEADER: f"{max(0.0, result.finished - result.first_byte):.6f}",
        }
        with self._lock:
            record = self._writer.create_warc_record(
                result.request.url, "response", payload=BytesIO(result.body),
                http_headers=http_headers, warc_headers_dict=warc_headers,
            )
            self._writer.write_record(record)
            self.records += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


class RecordingProcessor(Processor):
    """The shared processor, storing every fetch result in a WARC file first."""

    def __init__(self, spider: Spider, settings: CrawlSettings, recorder: WarcRecorder) -> None:
        super().__init__(spider, settings)
        self.recorder = recorder

    def __call__(self, result: FetchResult) -> Outcome:
        self.recorder.write(result)
        return super().__call__(result)


@dataclass(frozen=True)
class Recorded:
    """One stored response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    latency: float


def load_warc(path: str | Path) -> dict[str, Recorded]:
    """Stored responses keyed by canonical ``path?query`` (the host is not part of the key).

    Raises:
        UsageError: the file is missing or not a WARC file.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    responses: dict[str, Recorded] = {}
    try:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                latency = sum(float(record.rec_headers.get_header(h) or 0)
                              for h in (TTFB_HEADER, DOWNLOAD_HEADER))
                responses[_key(uri)] = Recorded(
                    status=int(record.http_headers.get_statuscode()),
                    headers=tuple(record.http_headers.headers),
                    body=record.content_stream().read(),
                    latency=latency,
                )
    except FileNotFoundError:
        raise UsageError(f"no such WARC file: {str(path)!r}") from None
    except (ArchiveLoadFailed, OSError, ValueError) as exc:
        raise UsageError(f"cannot read WARC file {str(path)!r}: {exc}") from None
    if not responses:
        raise UsageError(f"WARC file {str(path)!r} holds no HTTP responses")
    return responses


def _key(uri: str) -> str:
    parts = urlsplit(canonicalize(uri))
    return parts.path + ("?" + parts.query if parts.query else "")


class ReplayServer(LoopbackServer):
    """Serves recorded responses with their recorded latency divided by ``speed``."""

    def __init__(self, responses: dict[str, Recorded], speed: float = 1.0,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        if not speed > 0:
            raise UsageError(f"--speed must be positive, got {speed}")
        super().__init__(host, port)
        self.responses = responses
        self.speed = speed

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        try:
            key = _key(f"http://replay{request.path_qs}")
        except UsageError:
            key = ""
        found = self.responses.get(key)
        if found is None:
            return web.Response(status=404, text="not recorded")
        if found.latency:
            await asyncio.sleep(found.latency / self.speed)
        return web.Response(status=found.status, headers=found.headers, body=found.body)
