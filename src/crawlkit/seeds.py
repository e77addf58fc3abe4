"""Reading seed URLs from a file."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import InvalidURL, SeedFileError
from .urls import MAX_URL_LENGTH, safe_url


@dataclass(frozen=True, slots=True)
class SeedFile:
    """The URLs of a seed file and a "line N: ..." warning for every line skipped."""

    urls: tuple[str, ...]
    warnings: tuple[str, ...]


def read_seed_file(path: str | Path) -> SeedFile:
    """Read one URL per line; blank lines and ``#`` comments are skipped.
    The path ``-`` reads standard input.

    A line that is not an absolute http(s) URL is skipped with a warning naming
    its line number; the good lines are kept in order.

    Raises:
        SeedFileError: the file is missing, unreadable, or not text.
    """
    urls: list[str] = []
    warnings: list[str] = []
    try:
        if str(path) == "-":
            stream: IO[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig")
        else:
            stream = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
        with stream:  # read as a stream, one line at a time
            for number, raw in enumerate(stream, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if len(line) > MAX_URL_LENGTH:
                    warnings.append(f"line {number}: URL longer than {MAX_URL_LENGTH} "
                                    "characters, skipped")
                    continue
                try:
                    safe_url(line)
                except InvalidURL:
                    shown = line if len(line) <= 80 else line[:77] + "..."
                    warnings.append(f"line {number}: not an http(s) URL, skipped: {shown}")
                else:
                    urls.append(line)
    except FileNotFoundError:
        raise SeedFileError(f"cannot read URLs file {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise SeedFileError(f"cannot read URLs file {str(path)!r}: it is a directory") from None
    except UnicodeDecodeError:
        raise SeedFileError(f"cannot read URLs file {str(path)!r}: not UTF-8 text") from None
    except OSError as exc:
        raise SeedFileError(f"cannot read URLs file {str(path)!r}: {exc.strerror}") from None
    return SeedFile(tuple(urls), tuple(warnings))
