"""A seekable gzip stream: one pass records checkpoints, later reads start at the nearest.

Reading a member of a ``.tar.gz`` means decompressing everything before it, unless the
decompressor's state was kept from an earlier pass. ``GzipIndexer`` decompresses the
stream once, front to back (the tar layer reads its headers through it), and every
``spacing`` bytes of output (8 MiB by default) keeps a ``Checkpoint``: a copy of the zlib
state with the compressed and uncompressed offsets it stands at. ``GzipIndex.reader``
then starts a read at the checkpoint at or before the offset wanted, so it decompresses
at most one interval before the first byte it returns, and several readers share the
index, each with its own handle and its own copy of the state.

A checkpoint costs about 55 KiB: zlib's 32 KiB window and 7 KiB of tables, and at most
``_FEED`` bytes of input the copy still references; about 7 MiB per GiB of output.

A stream may hold several gzip members one after another (``cat a.gz b.gz``), with zero
bytes between or after them, as gzip itself accepts. Damage raises what the standard
library's gzip raises: ``zlib.error`` for corrupt data (a CRC-32 or length that does not
match included), ``EOFError`` for a stream that ends inside a member; the caller names
the archive.
"""

from __future__ import annotations

import io
import threading
import zlib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHECKPOINT_SPACING = 8 << 20
# The fewest bytes between checkpoints (see ``spacing_for``).
MIN_SPACING = 1 << 20
# Finished readers whose decompressors are kept for a read that goes on after them.
_PARKED = 8
# Input is given to zlib in small feeds because a checkpoint's copy keeps a reference to
# the input it has not consumed yet: the feed bounds that part of its memory.
_FEED = 16 << 10
_PIECE = 64 << 10  # output asked of zlib at once, so a bomb never lands in memory whole
_GZIP = 31  # zlib's wbits for a gzip header and trailer, whose CRC-32 and length it checks


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where decompression can resume: the zlib state between two offsets of the stream."""

    out_offset: int  # uncompressed offset of the next byte the state produces
    in_offset: int  # compressed offset of the next byte to give it
    state: zlib._Decompress | None  # None: between gzip members (or before the first)


_START = Checkpoint(0, 0, None)


class _Inflater:
    """Decompress a stream of gzip members from a checkpoint on, in bounded pieces."""

    def __init__(self, handle: BinaryIO, at: Checkpoint,
                 count: Callable[[int], None] | None = None) -> None:
        handle.seek(at.in_offset)
        self._handle, self._count = handle, count
        # A copy, always: zlib's state changes as it decompresses, and a checkpoint is
        # shared by every reader that starts from it.
        self._d = None if at.state is None else at.state.copy()
        self._pending = b""  # input from in_offset on that zlib has not consumed
        self.in_offset, self.out_offset = at.in_offset, at.out_offset

    def read(self, limit: int) -> bytes:
        """Return the next 1 to ``limit`` bytes of output; b"" at the end of the stream."""
        while True:
            d = self._d if self._d is not None else self._start_member()
            if d is None:
                return b""
            given = len(self._pending)
            out = d.decompress(self._pending, limit)
            if d.eof:
                self._pending, self._d = d.unused_data, None
            else:
                self._pending, self._d = d.unconsumed_tail, d
            self.in_offset += given - len(self._pending)
            if out:
                self.out_offset += len(out)
                if self._count is not None:
                    self._count(len(out))
                return out
            if self._d is not None:
                # No output and the member goes on: zlib consumed all it was given.
                if self._pending:
                    raise zlib.error("the gzip data makes the decompressor stall")
                self._pending = self._handle.read(_FEED)
                if not self._pending:
                    raise EOFError("the gzip stream ends inside a member (the file is cut short)")

    def checkpoint(self) -> Checkpoint:
        """Return where decompression stands now, to resume from later."""
        state = None if self._d is None else self._d.copy()
        return Checkpoint(self.out_offset, self.in_offset, state)

    def _start_member(self) -> zlib._Decompress | None:
        """Skip the zero bytes gzip allows after a member; return the next one's decompressor."""
        while True:
            if not self._pending:
                self._pending = self._handle.read(_FEED)
                if not self._pending:
                    return None
            rest = self._pending.lstrip(b"\0")
            self.in_offset += len(self._pending) - len(rest)
            self._pending = rest
            if rest:
                self._d = zlib.decompressobj(_GZIP)
                return self._d


class GzipReader:
    """Read a gzip stream from one uncompressed offset on, through its own handle.

    Closed, it hands its decompressor (and handle) back to the index it came from, parked
    where it stopped: the next read just after that point goes on from there.
    """

    def __init__(self, inflater: _Inflater, skip: int, handle: BinaryIO,
                 park: Callable[[_Inflater, BinaryIO], None] | None = None) -> None:
        self._inflater, self._skip, self._handle = inflater, skip, handle
        self._park = park
        self._failed = False

    def read(self, size: int, /) -> bytes:
        """Return up to ``size`` more bytes; b"" at the end of the stream."""
        try:
            while self._skip > 0:
                out = self._inflater.read(min(self._skip, _PIECE))
                if not out:
                    return b""
                self._skip -= len(out)
            return self._inflater.read(min(size, _PIECE)) if size > 0 else b""
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        """Park the decompressor for a later read, or close the handle."""
        park, self._park = self._park, None
        if park is not None and not self._failed and self._skip <= 0:
            park(self._inflater, self._handle)
        else:
            self._handle.close()


class GzipIndex:
    """Checkpoints into one gzip stream, shared by readers that start anywhere in it."""

    def __init__(self, checkpoints: list[Checkpoint], size: int) -> None:
        self.size = size  # the stream's uncompressed length
        self._checkpoints = checkpoints
        self._offsets = [checkpoint.out_offset for checkpoint in checkpoints]
        self._lock = threading.Lock()
        self._decompressed = 0
        # Decompressors where finished readers stopped, with their handles, newest last.
        self._parked: list[tuple[_Inflater, BinaryIO]] = []

    @property
    def checkpoints(self) -> int:
        """Return how many checkpoints the index holds (the start of the stream included)."""
        return len(self._checkpoints)

    @property
    def bytes_decompressed(self) -> int:
        """Return how many bytes the index's readers have decompressed so far, in all."""
        return self._decompressed

    def reader(self, handle: BinaryIO | Callable[[], BinaryIO], start: int) -> GzipReader:
        """Return a reader of the stream from uncompressed offset ``start``.

        ``handle`` is a handle on the compressed stream, or a function that opens one. A
        decompressor parked at or a little before ``start`` (a reader of the member just
        before) goes on from where it stopped, with its own handle; otherwise decompression
        starts at the checkpoint at or before ``start``. Members read in the archive's
        order then cost one pass over it, in any order at most one interval each.
        """
        at = self._checkpoints[bisect_right(self._offsets, start) - 1]
        with self._lock:
            best = None
            for index, (parked, _handle) in enumerate(self._parked):
                if at.out_offset <= parked.out_offset <= start and (
                        best is None or parked.out_offset > self._parked[best][0].out_offset):
                    best = index
            if best is not None:
                inflater, own = self._parked.pop(best)
                if not callable(handle):
                    handle.close()
                return GzipReader(inflater, start - inflater.out_offset, own, self._park)
        opened = handle() if callable(handle) else handle
        try:
            inflater = _Inflater(opened, at, self._count)
        except BaseException:
            opened.close()
            raise
        return GzipReader(inflater, start - at.out_offset, opened, self._park)

    def _park(self, inflater: _Inflater, handle: BinaryIO) -> None:
        with self._lock:
            self._parked.append((inflater, handle))
            extra = self._parked[:-_PARKED] if len(self._parked) > _PARKED else []
            del self._parked[:len(extra)]
        for _inflater, old in extra:
            old.close()

    def close(self) -> None:
        """Close the handles of the parked decompressors."""
        with self._lock:
            parked, self._parked = self._parked, []
        for _inflater, handle in parked:
            handle.close()

    def _count(self, size: int) -> None:
        with self._lock:
            self._decompressed += size


class GzipIndexer(io.RawIOBase):
    """Decompress a gzip stream once, front to back, keeping checkpoints as it goes.

    It reads as a forward-only stream (seeking ahead decompresses and drops the bytes
    skipped), for the tar layer to parse headers through. ``watch`` is called after each
    piece of output with the uncompressed and compressed offsets reached, to refuse a
    bomb while it expands. ``finish`` decompresses the rest and returns the index.
    """

    def __init__(self, handle: BinaryIO, *, spacing: int = CHECKPOINT_SPACING,
                 watch: Callable[[int, int], None] | None = None) -> None:
        super().__init__()
        self._inflater = _Inflater(handle, _START)
        self._checkpoints = [_START]
        self._spacing, self._watch = spacing, watch
        self._piece, self._piece_at, self._pos = b"", 0, 0

    @property
    def in_offset(self) -> int:
        """Return the compressed offset decompression has reached."""
        return self._inflater.in_offset

    @property
    def out_offset(self) -> int:
        """Return the uncompressed offset decompression has reached (ahead of ``tell``)."""
        return self._inflater.out_offset

    def readable(self) -> bool:
        """Tell that the stream reads."""
        return True

    def seekable(self) -> bool:
        """Tell that the stream seeks (forward, and back within the last piece)."""
        return True

    def tell(self) -> int:
        """Return the uncompressed offset of the next byte ``read`` returns."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move to ``offset``: anywhere ahead, or back within the last piece decompressed."""
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("the gzip index pass cannot seek from the end")
        if offset < self._piece_at:
            raise io.UnsupportedOperation("the gzip index pass reads forward only")
        self._pos = offset
        return offset

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read the next bytes of the stream into ``buffer``; return how many (0 at its end)."""
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        while self._pos >= self._piece_at + len(self._piece):
            if not self._next_piece():
                return 0
        start = self._pos - self._piece_at
        count = min(len(view), len(self._piece) - start)
        view[:count] = self._piece[start:start + count]
        self._pos += count
        return count

    def finish(self) -> GzipIndex:
        """Decompress the rest of the stream, checking every member; return the index."""
        while self._next_piece():
            pass
        return GzipIndex(self._checkpoints, self._inflater.out_offset)

    def _next_piece(self) -> bool:
        inflater = self._inflater
        piece = inflater.read(_PIECE)
        if not piece:
            return False
        self._piece, self._piece_at = piece, inflater.out_offset - len(piece)
        if inflater.out_offset - self._checkpoints[-1].out_offset >= self._spacing:
            self._checkpoints.append(inflater.checkpoint())
        if self._watch is not None:
            self._watch(inflater.out_offset, inflater.in_offset)
        return True


def spacing_for(compressed_size: int) -> int:
    """Return the checkpoint spacing for a stream of ``compressed_size`` bytes.

    Closer checkpoints make a read out of order cheaper, and cost memory: a stream gets
    about a thousand (some 55 MiB at most), one every 1 to 8 MiB of output.
    """
    return max(MIN_SPACING, min(CHECKPOINT_SPACING, compressed_size // 1024))


def index_gzip(handle: BinaryIO, *, spacing: int = CHECKPOINT_SPACING) -> GzipIndex:
    """Decompress the gzip stream of ``handle`` once; return its index of checkpoints."""
    return GzipIndexer(handle, spacing=spacing).finish()
