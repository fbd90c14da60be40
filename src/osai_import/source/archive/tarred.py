"""Tar archives, plain or gzip-compressed, read in place: headers parsed once, by tarfile.

The index pass reads the headers in order, skipping each member's data, and refuses
any member that is not a regular file or a folder (links, devices, FIFOs, sparse files)
by name. It requires the end-of-archive marker, as tarfile stops silently at a damaged
header or at a cut between members. For a ``.tar.gz`` the pass goes through a
``GzipIndexer``, whose checkpoints then let each member be read without decompressing
the archive from its start, and whose progress refuses a bomb while it expands: a member
that expands past ``max_ratio``, the archive as a whole, or more than 16 MiB of data
after the end-of-archive marker.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from osai_import.errors import SourceError
from osai_import.source.archive.base import (
    DAMAGE,
    Archive,
    Member,
    MemberIndex,
    Pull,
    check_ratio,
    check_whole_ratio,
    damaged,
    size_text,
    unreadable,
)
from osai_import.source.archive.gzindex import GzipIndex, GzipIndexer, spacing_for
from osai_import.source.archive.limits import ArchiveLimits

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# A backward seek of the index pass means a header pointed backwards: damage too.
_DAMAGE: tuple[type[Exception], ...] = (*DAMAGE, io.UnsupportedOperation)
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_BLOCK = tarfile.BLOCKSIZE
_BUFFER = 1 << 16
# tarfile reads a long name or a pax header whole, at the size its header declares:
# bounded here, so a header cannot make it allocate gigabytes.
_MAX_HEADER_READ = 16 << 20
_MAX_TRAILER = 16 << 20  # after the end-of-archive marker: padding, not a payload


class TarArchive(Archive):
    """A tar archive whose members each read through a new handle on it."""

    def __init__(self, label: str, kind: str, members: dict[str, Member],
                 offsets: dict[str, int], opener: Callable[[], BinaryIO],
                 gzip: GzipIndex | None) -> None:
        super().__init__(label, kind, members)
        self._offsets, self._opener, self._gzip = offsets, opener, gzip

    @property
    def bytes_decompressed(self) -> int:
        """Return how many bytes member reads have decompressed so far (0 for a plain tar)."""
        return 0 if self._gzip is None else self._gzip.bytes_decompressed

    @property
    def checkpoints(self) -> int:
        """Return how many places reads of a ``.tar.gz`` may start from (0 for a plain tar)."""
        return 0 if self._gzip is None else self._gzip.checkpoints

    def _pull(self, name: str) -> Pull:
        offset = self._offsets[name]
        if self._gzip is not None:
            # A decompressor parked by the read of the member before goes on from there.
            return self._gzip.reader(self._opener, offset)
        handle = self._opener()
        try:
            handle.seek(offset)
            return _Handle(handle)
        except BaseException:
            handle.close()
            raise

    def close(self) -> None:
        """Close the archive, and the handles kept for reads that go on."""
        super().close()
        if self._gzip is not None:
            self._gzip.close()


def open_tar(label: str, opener: Callable[[], BinaryIO], limits: ArchiveLimits, *,
             compressed: bool) -> TarArchive:
    """Open and index the tar (``compressed``: tar.gz) ``opener`` gives; refuse it when hostile."""
    scan = _Scan(label, limits)
    gzip = None
    try:
        with opener() as handle:
            if compressed:
                size = handle.seek(0, io.SEEK_END)
                handle.seek(0)
                scan.indexer = GzipIndexer(handle, spacing=spacing_for(size), watch=scan.watch)
                scan.run(_Headers(label, scan.indexer))
                gzip = scan.indexer.finish()
            else:
                scan.run(_Headers(label, _Raw(handle)))
    except SourceError:
        raise
    except _DAMAGE as exc:
        raise damaged(label, exc) from exc
    except OSError as exc:
        raise unreadable(label, exc) from exc
    kind = "tar.gz" if compressed else "tar"
    return TarArchive(label, kind, scan.index.members, scan.offsets, opener, gzip)


class _Scan:
    """One pass over a tar's headers: the index, and the watch on a gzip stream's expansion."""

    def __init__(self, label: str, limits: ArchiveLimits) -> None:
        self.label, self.limits = label, limits
        self.index = MemberIndex(label, limits, backslash_separates=False)
        self.offsets: dict[str, int] = {}
        self.indexer: GzipIndexer | None = None
        # The file member whose data is being decompressed: its name as listed, where its
        # data ends, and the uncompressed and compressed offsets when it was listed.
        self._current: tuple[str, int, int, int] | None = None
        self._end: int | None = None  # where the end-of-archive marker was found

    def run(self, headers: _Headers) -> None:
        """Read every header, indexing the members; require the end-of-archive marker."""
        with tarfile.open(fileobj=headers, mode="r:", encoding="utf-8",
                          errors="surrogateescape") as tar:
            while (info := tar.next()) is not None:
                # tarfile keeps every header it reads (in an attribute its stubs omit);
                # the index keeps what it needs, at a fraction of the memory.
                vars(tar)["members"].clear()
                self._add(info)
        self._finish_current()
        at, block = headers.last_block
        if at != tar.offset or len(block) < _BLOCK:
            raise damaged(self.label, "the tar ends without its end-of-archive marker")
        if block.count(0) != _BLOCK:
            raise damaged(self.label, f"the tar header at byte {tar.offset} is not valid")
        self._end = tar.offset

    def watch(self, out: int, packed: int) -> None:
        """Refuse a gzip stream that expands too much, as soon as it does."""
        current, limits = self._current, self.limits
        if current is not None:
            raw, end, out0, packed0 = current
            done = min(out, end) - out0
            if done >= limits.min_ratio_size:
                check_ratio(self.label, limits, raw, done, packed - packed0)
        where = f", at member {current[0]!r}" if current is not None else ""
        check_whole_ratio(self.label, limits, out, packed, where)
        if self._end is not None and out - self._end > _MAX_TRAILER:
            raise SourceError(
                f"{self.label}: the archive holds more than {size_text(_MAX_TRAILER)} after "
                "its tar end-of-archive marker; osai-import refuses it as a possible "
                "decompression bomb: re-create the archive")

    def _add(self, info: tarfile.TarInfo) -> None:
        self._finish_current()
        if info.size < 0:
            raise damaged(self.label, f"member {info.name!r} declares a negative size")
        is_dir = info.isdir()
        if not is_dir and (info.type not in _REGULAR or info.sparse is not None):
            raise _not_regular(self.label, info)
        name = self.index.add(info.name, size=0 if is_dir else info.size, is_dir=is_dir,
                              mtime=float(info.mtime))
        if name is None or is_dir:
            return
        self.offsets[name] = info.offset_data
        if self.indexer is not None and info.size >= self.limits.min_ratio_size:
            self._current = (info.name, info.offset_data + info.size,
                             self.indexer.out_offset, self.indexer.in_offset)

    def _finish_current(self) -> None:
        """Check the ratio of the member whose data was just skipped, now all decompressed."""
        if self._current is None or self.indexer is None:
            return
        raw, end, out0, packed0 = self._current
        self._current = None
        if end > out0:
            check_ratio(self.label, self.limits, raw, end - out0,
                        self.indexer.in_offset - packed0)


def _not_regular(label: str, info: tarfile.TarInfo) -> SourceError:
    fix = "re-create the archive without it"
    if info.issym():
        what = f"is a symbolic link (to {info.linkname!r})"
        fix = "re-create the archive with the files the links point to (tar --dereference)"
    elif info.islnk():
        what = f"is a hard link (to {info.linkname!r})"
        fix = "re-create the archive with plain files (tar --hard-dereference)"
    elif info.ischr() or info.isblk():
        what = "is a device"
    elif info.isfifo():
        what = "is a FIFO (a named pipe)"
    elif info.sparse is not None or info.type == tarfile.GNUTYPE_SPARSE:
        what = "is a sparse file"
        fix = "re-create the archive without --sparse"
    else:
        what = f"is an entry of type {info.type.decode('ascii', 'replace')!r}"
    return SourceError(
        f"{label}: member {info.name!r} {what}; osai-import reads only regular files and "
        "folders from a tar, as links and special files can point outside the archive or "
        f"act when opened: {fix}")


class _Headers(io.BufferedReader):
    """The stream tarfile parses headers from: big reads refused, the last block kept."""

    def __init__(self, label: str, raw: io.RawIOBase) -> None:
        super().__init__(raw, _BUFFER)
        self._label = label
        self.last_block: tuple[int, bytes] = (-1, b"")  # where, and what, a block read gave

    def read(self, size: int | None = -1, /) -> bytes:
        """Return up to ``size`` bytes; refuse a read of more than a header may hold."""
        if size is None or size < 0 or size > _MAX_HEADER_READ:
            shown = "all the rest" if size is None or size < 0 else size_text(size)
            raise SourceError(
                f"{self._label}: a header of the archive asks to read {shown} of metadata; "
                "osai-import refuses it as a possible decompression bomb: re-create the archive")
        at = self.tell()
        data = super().read(size)
        if size == _BLOCK:
            self.last_block = (at, data)
        return data


class _Raw(io.RawIOBase):
    """A plain tar's handle, as the raw stream a buffered reader wants."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__()
        self._handle = handle

    def readable(self) -> bool:
        """Tell that the stream reads."""
        return True

    def seekable(self) -> bool:
        """Tell that the stream seeks."""
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read the next bytes of the file into ``buffer``; return how many."""
        view = memoryview(buffer).cast("B")
        data = self._handle.read(len(view))
        view[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move in the file."""
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        """Return where in the file the next read starts."""
        return self._handle.tell()


class _Handle:
    """A plain tar member's bytes: the archive's file, from the member's data on."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def read(self, size: int, /) -> bytes:
        """Return up to ``size`` more bytes (the member stream stops at its size)."""
        return self._handle.read(size)

    def close(self) -> None:
        """Close the handle."""
        self._handle.close()
