"""Read an open image file by position, from one cached block where the reads fit."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from osai_import.errors import ItemError
from osai_import.location import SourcePath

# One read of this much holds the whole header of nearly every file (and all of a small one).
WINDOW = 1 << 16


class Window:
    """Positioned reads of an image's bytes: an open file's, or bytes already in memory."""

    size: int

    def read(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``: fewer at the end, none past it."""
        raise NotImplementedError

    def scan(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``, bypassing any cache (a long scan)."""
        raise NotImplementedError

    def stream(self) -> BinaryIO:
        """Return a binary stream of the bytes from their start, for Pillow."""
        raise NotImplementedError


class BytesWindow(Window):
    """Positioned reads of bytes in memory (an image read whole from an archive or bucket)."""

    __slots__ = ("_data", "size")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``."""
        return self._data[pos : pos + count]

    def scan(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``."""
        return self._data[pos : pos + count]

    def stream(self) -> BinaryIO:
        """Return the bytes as a stream."""
        return io.BytesIO(self._data)


class FileWindow(Window):
    """Positioned reads of an open file, served from one cached block where they fit.

    (Called a window, not a reader: a ``Reader`` in osai-import is a source plugin.)

    The first read fetches ``WINDOW`` bytes, which hold the whole header of nearly every
    file, so parsing it costs one system call; the descriptor's offset is never moved.
    """

    __slots__ = ("_base", "_data", "_eof", "fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self._base = 0
        self._data = b""
        self._eof = False

    def read(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``: fewer at the end of the file, none past it."""
        start = pos - self._base
        data = self._data
        if start >= 0 and (start + count <= len(data) or self._eof):
            return data[start : start + count]
        want = max(count, WINDOW)
        data = pread(self.fd, want, pos, self.size)
        self._base, self._data, self._eof = pos, data, len(data) < want
        return data[:count]

    def scan(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``, read now (not kept)."""
        return pread(self.fd, count, pos, self.size)

    def stream(self) -> BinaryIO:
        """Return the open file as a stream at its start (the descriptor stays open)."""
        handle = open(self.fd, "rb", closefd=False)  # noqa: SIM115 - the caller closes it
        handle.seek(0)
        return handle


def pread(fd: int, count: int, pos: int, size: int) -> bytes:
    """Read ``count`` bytes from ``pos``, fewer only at the end of the file."""
    data = os.pread(fd, count, pos)
    if len(data) == count or not data or pos + len(data) == size:
        return data  # all of it, or up to the end (the size from stat saves a call to see it)
    parts = [data]
    got = len(data)
    while got < count:
        more = os.pread(fd, count - got, pos + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def truncated_header(path: Path | SourcePath, kind: str) -> ItemError:
    """Return the ``image.truncated`` error for a file that ends inside its header."""
    return ItemError(
        "image.truncated",
        f"{path}: the {kind} file ends inside its header (truncated); copy or download it again",
    )
