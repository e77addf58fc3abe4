"""``sync``: one requests.Session, one URL at a time, in the caller's thread.

The baseline every other strategy is measured against.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import requests

from ..http import sync as http_sync
from ..models import Outcome, Request
from ..process import Processor
from ..settings import CrawlSettings


class SyncFetcher:
    """Fetches and processes each request inside :meth:`completed`, one at a time."""

    name: ClassVar[str] = "sync"
    fixed_concurrency: ClassVar[bool] = True
    spider_in_process: ClassVar[bool] = True
    spider_must_pickle: ClassVar[bool] = False
    http_client: ClassVar[str] = "requests"

    def start(self, settings: CrawlSettings, processor: Processor) -> None:
        self._settings = settings
        self._processor = processor
        self._session: requests.Session = http_sync.new_session(settings, pool_size=1)
        self._pending: deque[Request] = deque()

    def submit(self, request: Request) -> None:
        self._pending.append(request)

    def completed(self, timeout: float | None = None) -> list[Outcome]:
        request = self._pending.popleft()
        return [self._processor(http_sync.fetch(self._session, request, self._settings))]

    def close(self) -> None:
        self._session.close()
