"""Zip archives, read in place: the whole central directory checked before any member is read.

Every entry's name, flags, method and declared sizes are checked first (no I/O beyond
the central directory); then every local header is read, in file order, to check that
it names the same file as the central directory and that no member's data overlaps the
next member's header or the central directory: two entries sharing data is the trick of
the "better zip bomb", and two differing lists of names show tools different files.

A member is read through a new handle on the archive, from the data offset found here,
by the standard library's decompressor: it never returns more than the declared size,
and checks the CRC-32 at the end, so a member whose data runs past its declared size
(or is damaged) is refused by its checksum when its last declared byte is read.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import BinaryIO

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
    unreadable,
)
from osai_import.source.archive.limits import ArchiveLimits

_LOCAL = struct.Struct("<4s2xH18xHH")  # signature, flags, name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED = 0x1
_UTF8 = 0x800
_EXTENDED_TIME = 0x5455
_READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "XZ", 98: "PPMd"}
_UNIX = 3  # the "made by" system whose external attributes hold a POSIX mode
_AES = 99  # WinZip's AES encryption, marked by its method rather than by the flag


class ZipArchive(Archive):
    """A zip archive whose members each read through a new handle on it."""

    def __init__(self, label: str, members: dict[str, Member],
                 entries: dict[str, tuple[zipfile.ZipInfo, int]],
                 opener: Callable[[], BinaryIO]) -> None:
        super().__init__(label, "zip", members)
        self._entries, self._opener = entries, opener

    def _pull(self, name: str) -> Pull:
        info, data_start = self._entries[name]
        handle = self._opener()
        try:
            handle.seek(data_start)
            return zipfile.ZipExtFile(handle, "r", info, None, True)
        except BaseException:
            handle.close()
            raise


def open_zip(label: str, opener: Callable[[], BinaryIO], limits: ArchiveLimits) -> ZipArchive:
    """Open and index the zip archive ``opener`` gives; refuse it when hostile or broken."""
    try:
        with opener() as handle, zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            index, files = _index(label, infos, limits)
            starts = _data_starts(label, handle, infos, archive.start_dir)
    except SourceError:
        raise
    except UnicodeDecodeError as exc:
        raise damaged(label, f"a member's name is marked as UTF-8 but is not ({exc})") from exc
    except DAMAGE as exc:
        raise damaged(label, exc) from exc
    except OSError as exc:
        raise unreadable(label, exc) from exc
    entries = {name: (infos[at], starts[at]) for name, at in files.items()}
    return ZipArchive(label, index.members, entries, opener)


def _index(label: str, infos: Sequence[zipfile.ZipInfo],
           limits: ArchiveLimits) -> tuple[MemberIndex, dict[str, int]]:
    """Check every central directory entry; return the index and each file's position."""
    index = MemberIndex(label, limits, backslash_separates=True)
    files: dict[str, int] = {}
    packed = 0
    for at, info in enumerate(infos):
        raw = info.orig_filename  # as listed: ZipInfo.filename is cut at a NUL
        is_dir = raw.endswith("/")
        if info.flag_bits & _ENCRYPTED or info.compress_type == _AES:
            raise _encrypted(label, raw)
        mode = info.external_attr >> 16 if info.create_system == _UNIX else 0
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            # Read in place, a link would be read as the text of its target: refused, as in
            # a tar, so that an archive means the same here and once extracted.
            what = "a symbolic link" if stat.S_ISLNK(mode) else "neither a file nor a folder"
            raise SourceError(
                f"{label}: member {raw!r} is {what}; osai-import reads only regular files and "
                "folders from a zip: re-create the archive with the files themselves "
                "(zip without --symlinks)")
        if not is_dir:
            if info.compress_type not in _READABLE:
                method = _METHOD_NAMES.get(info.compress_type, "unknown")
                raise SourceError(
                    f"{label}: member {raw!r} is compressed with method {info.compress_type} "
                    f"({method}), which osai-import cannot read: re-create the archive with "
                    "ordinary (deflate) compression")
            if info.file_size >= limits.min_ratio_size:
                check_ratio(label, limits, raw, info.file_size, info.compress_size)
        name = index.add(raw, size=0 if is_dir else info.file_size, is_dir=is_dir,
                         mtime=_mtime(info))
        if name is not None and not is_dir:
            files[name] = at
            packed += info.compress_size
    check_whole_ratio(label, limits, index.total, packed)
    return index, files


def _data_starts(label: str, handle: BinaryIO, infos: Sequence[zipfile.ZipInfo],
                 end: int) -> list[int]:
    """Check every local header against the central directory; return where data starts."""
    starts = [0] * len(infos)
    previous: zipfile.ZipInfo | None = None
    data_end = 0
    for at in sorted(range(len(infos)), key=lambda at: infos[at].header_offset):
        info = infos[at]
        raw = info.orig_filename
        if previous is not None and info.header_offset < data_end:
            raise SourceError(
                f"{label}: members {previous.orig_filename!r} and {raw!r} overlap in the "
                "archive's data, the trick of a zip bomb; osai-import refuses such archives: "
                "re-create the archive")
        handle.seek(info.header_offset)
        fixed = handle.read(_LOCAL.size)
        if len(fixed) < _LOCAL.size or not fixed.startswith(_LOCAL_SIGNATURE):
            raise damaged(label, f"member {raw!r} has no local header where the archive's "
                                 "central directory says")
        _, flags, name_size, extra_size = _LOCAL.unpack(fixed)
        local = handle.read(name_size).decode("utf-8" if flags & _UTF8 else "cp437")
        if local != raw:
            raise SourceError(
                f"{label}: member {raw!r} is named {local!r} in its local header; osai-import "
                "refuses archives whose two lists of names differ, as tools would read "
                "different files from them: re-create the archive")
        if flags & _ENCRYPTED:
            raise _encrypted(label, raw)
        starts[at] = info.header_offset + _LOCAL.size + name_size + extra_size
        data_end = starts[at] + info.compress_size
        if data_end > end:
            raise damaged(label, f"the data of member {raw!r} runs into the archive's "
                                 "central directory")
        previous = info
    return starts


def _encrypted(label: str, raw: str) -> SourceError:
    return SourceError(f"{label}: member {raw!r} is encrypted; osai-import reads no encrypted "
                       "member: decrypt it first (extract the archive with its password and "
                       "re-create it without one)")


def _mtime(info: zipfile.ZipInfo) -> float | None:
    """Return a member's modification time: the extended timestamp's, else the DOS one's."""
    extra, at = info.extra, 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4:at + 4 + size]
        if kind == _EXTENDED_TIME and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
        at += 4 + size
    try:
        # A DOS time is the local time of whoever made the archive, with no zone: read
        # as local time here, as unzip does.
        return datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):
        return None
