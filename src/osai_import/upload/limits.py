"""How big a chunk may be: the config's caps, lowered for good when the server says so.

OSAI's limits on a request are not documented (ASP.NET's defaults are assumed); a server
may cap a chunk lower, in images or in bytes, and say so with a 413, a 400 or a closed
connection. A chunk refused for its size is sent again in halves; once a size was
refused, ``ChunkLimits`` keeps the run's chunks below it, and finds the largest size that
passes by halving the gap between the largest accepted and the smallest refused, one
chunk at a time, so the limit is learned once and not met again on every chunk.

A refusal that may not be about size (a 500, a dropped connection: a chunk whose halves
all pass could also have met a passing fault) lowers a limit only beyond what the
server has already accepted: a chunk no larger than one that went through proves
nothing about size.
"""

from __future__ import annotations

import threading


class ChunkLimits:
    """The largest chunk, in images and bytes, to send now; safe to share between threads."""

    def __init__(self, max_images: int, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self.max_images, self.max_bytes = max_images, max_bytes
        self._refused_images: int | None = None  # the fewest images refused for size
        self._accepted_images = 0  # the most images accepted since a refusal
        self._refused_bytes: int | None = None
        self._most_images = 0  # the most images in a chunk the server accepted
        self._most_bytes = 0  # the most bytes in a chunk the server accepted

    def current(self) -> tuple[int, int]:
        """Return the images and bytes the next chunk may hold."""
        with self._lock:
            images, size = self.max_images, self.max_bytes
            if self._refused_images is not None:
                low, high = self._accepted_images, self._refused_images
                images = min(images, low if high - low <= 1 else max((low + high) // 2, 1))
            if self._refused_bytes is not None:
                size = min(size, self._refused_bytes - 1)
            return max(images, 1), max(size, 1)

    @property
    def learned(self) -> bool:
        """Tell whether a refusal lowered the limits."""
        with self._lock:
            return self._refused_images is not None

    def refused(self, images: int, size: int, *, certain: bool = True) -> None:
        """Note that a chunk of ``images`` images and ``size`` bytes was too large.

        ``certain``: the server said so (a 413, a 400 for the chunk whole); else only a
        count or a size beyond any the server accepted is taken for a limit.
        """
        with self._lock:
            by_images = certain or images > self._most_images
            by_bytes = certain or size > self._most_bytes
            if by_images and (self._refused_images is None or images < self._refused_images):
                self._refused_images = images
            if by_bytes and (self._refused_bytes is None or size < self._refused_bytes):
                self._refused_bytes = size
            if self._refused_images is not None:
                # The largest count known to pass, below the smallest refused.
                low = max(self._accepted_images, self._most_images)
                self._accepted_images = min(low, self._refused_images - 1)

    def accepted(self, images: int, size: int) -> None:
        """Note that a chunk of ``images`` images and ``size`` bytes went through."""
        with self._lock:
            self._most_images = max(self._most_images, images)
            self._most_bytes = max(self._most_bytes, size)
            if self._refused_images is not None and images < self._refused_images:
                self._accepted_images = max(self._accepted_images, images)
