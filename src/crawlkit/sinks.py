"""Where items go: JSON lines on a stream, or a list in memory."""

from __future__ import annotations

from typing import IO, Protocol

import orjson

from .models import Item


class Sink(Protocol):
    """Receives every item a crawl produces, in commit order, from one thread."""

    def write(self, item: Item) -> None:
        """Store one item."""

    def flush(self) -> None:
        """Push buffered items to their destination."""

    def close(self) -> None:
        """Flush what is buffered. The sink does not close streams it did not open."""


class ListSink:
    """Keeps items in :attr:`items`."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def write(self, item: Item) -> None:
        self.items.append(item)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class JsonLinesSink:
    """Writes one JSON object per line (UTF-8) to a binary stream.

    Args:
        stream: a binary file object, e.g. ``open(path, "wb")`` or ``sys.stdout.buffer``.
        owned: close ``stream`` in :meth:`close`.
    """

    def __init__(self, stream: IO[bytes], *, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned

    def write(self, item: Item) -> None:
        self.stream.write(
            orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
        )

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
        if self.owned:
            self.stream.close()
