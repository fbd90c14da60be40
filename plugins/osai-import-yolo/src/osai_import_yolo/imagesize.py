"""Read an image's width and height from its header, locally or in an archive or a bucket.

YOLO labels are fractions of the image's size, so every labelled image's size is read.
Only the header is needed: Pillow reads it and stops. An archive member's stream cannot
seek, and Pillow reads such a stream whole before it looks at it; ``_Rewindable`` lets it
seek in what was read so far, so only the header is pulled from the archive.
"""

from __future__ import annotations

import io
from typing import IO, Any

from PIL import Image, UnidentifiedImageError

from osai_import import SourcePath
from osai_import_yolo.paths import Dir

_PULL = 64 * 1024  # bytes pulled from a stream at a time: a header is rarely larger


def image_size(path: Dir) -> tuple[int, int] | Exception:
    """Return the image's ``(width, height)``, or the exception that kept it from being read."""
    try:
        if isinstance(path, SourcePath):
            with path.open("rb") as stream:
                seekable = stream if stream.seekable() else io.BufferedReader(_Rewindable(stream))
                try:
                    with Image.open(seekable) as image:
                        return image.size
                except UnidentifiedImageError:
                    # Pillow names the stream it was given; name the file, as it does locally.
                    return UnidentifiedImageError(f"cannot identify image file {str(path)!r}")
        with Image.open(path) as image:
            return image.size
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad file
        return exc


class _Rewindable(io.RawIOBase):
    """A forward-only stream made seekable by keeping the bytes read from it so far."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._kept = bytearray()
        self._position = 0
        self._ended = False

    def readable(self) -> bool:
        """Return True."""
        return True

    def seekable(self) -> bool:
        """Return True: any position already read, or still to read, can be reached."""
        return True

    def tell(self) -> int:
        """Return the position."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` (from the start, the position, or the end: read it all)."""
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        else:
            self._pull(None)
            target = len(self._kept) + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._position = target
        return target

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the position; return how many bytes it got (0 at the end)."""
        view = memoryview(buffer).cast("B")
        self._pull(self._position + len(view))
        chunk = self._kept[self._position : self._position + len(view)]
        view[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def _pull(self, end: int | None) -> None:
        """Read from the stream until ``end`` bytes are kept (None: to its end)."""
        while not self._ended and (end is None or len(self._kept) < end):
            wanted = _PULL if end is None else max(_PULL, end - len(self._kept))
            block = self._stream.read(wanted)
            if not block:
                self._ended = True
            else:
                self._kept += block
