"""Keep the pages' thumbnails in memory, so that a page shown again decodes nothing.

A thumbnail is the stored file re-encoded by ``pictures.thumbnail`` (the stored frame,
EXIF not applied nor copied). The cache is keyed by the digest of the stored bytes, so
the same picture stored twice, or in two datasets, is decoded once. It holds at most
``max_bytes`` of JPEG (32 MB by default: about 1,500 to 3,000 thumbnails, some thirty
pages of 48) and drops the least recently shown first; nothing is written to the data
folder. Browsers also keep what they were sent: answers carry the digest as their ETag,
so a reload asks "still this one?" and gets a 304 without the file being read at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from osai_import.pictures import THUMBNAIL_SIDE, thumbnail

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass
class CacheCounts:
    """How the cache has done since the server started."""

    decoded: int = 0  # thumbnails made from a stored file
    hits: int = 0  # thumbnails answered from memory
    dropped: int = 0  # thumbnails dropped to stay within the budget


class ThumbnailCache:
    """Make thumbnails on demand and keep the recent ones; thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, side: int = THUMBNAIL_SIDE) -> None:
        self.max_bytes = max_bytes
        self.side = side
        self.counts = CacheCounts()
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Return the bytes of JPEG held now."""
        with self._lock:
            return self._bytes

    def get(self, digest: str, read: Callable[[], bytes]) -> bytes:
        """Return the thumbnail of the stored file with ``digest``; ``read`` gives its bytes.

        Decoding happens outside the lock, so thumbnails of one page are made in
        parallel; two requests for the same new picture may both decode it, once each.
        Raises what ``read`` raises (OSError), or OSError/ValueError from Pillow.
        """
        with self._lock:
            kept = self._kept.get(digest)
            if kept is not None:
                self._kept.move_to_end(digest)
                self.counts.hits += 1
                return kept
        data, _, _ = thumbnail(read(), self.side)
        with self._lock:
            self.counts.decoded += 1
            if digest not in self._kept and len(data) <= self.max_bytes:
                self._kept[digest] = data
                self._bytes += len(data)
                while self._bytes > self.max_bytes:
                    _, old = self._kept.popitem(last=False)
                    self._bytes -= len(old)
                    self.counts.dropped += 1
        return data
