"""Build real archives for the tests: with zipfile and tarfile, and by hand where they refuse."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from osai_import.source.archive import Archive, ArchiveLimits, open_archive

MTIME = 1_700_000_000


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


def open_path(path: Path, limits: ArchiveLimits | None = None) -> Archive:
    kind = "zip" if path.suffix == ".zip" else "tar.gz" if path.suffix == ".tgz" else "tar"
    if limits is None:
        return open_archive(str(path), kind, opener(path))
    return open_archive(str(path), kind, opener(path), limits)


def make_zip(path: Path, files: dict[str, bytes], *, dirs: Iterable[str] = (),
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name in dirs:
            archive.writestr(zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20)), b"")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            info.compress_type = compression
            archive.writestr(info, data)
    return path


def tar_bytes(files: dict[str, bytes], *, dirs: Iterable[str] = (),
              special: Iterable[tarfile.TarInfo] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as archive:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mtime = tarfile.DIRTYPE, MTIME
            archive.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), MTIME
            archive.addfile(info, io.BytesIO(data))
        for info in special:
            archive.addfile(info)
    return out.getvalue()


def make_tar(path: Path, files: dict[str, bytes], *, dirs: Iterable[str] = (),
             special: Iterable[tarfile.TarInfo] = ()) -> Path:
    data = tar_bytes(files, dirs=dirs, special=special)
    path.write_bytes(gzip.compress(data, 1, mtime=0) if path.suffix == ".tgz" else data)
    return path


# The zip format, for the archives zipfile will not write.
CENTRAL = b"PK\x01\x02"
END = b"PK\x05\x06"


def central_entries(data: bytes) -> list[int]:
    """Return the offsets of the central directory's entries, in order."""
    end = data.rindex(END)
    count, _size, start = struct.unpack_from("<HII", data, end + 10)
    offsets, at = [], start
    for _ in range(count):
        assert data[at:at + 4] == CENTRAL
        offsets.append(at)
        name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name + extra + comment
    return offsets


def central_entry(data: bytes, at: int) -> bytes:
    name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
    return data[at:at + 46 + name + extra + comment]


def with_central_directory(data: bytes, entries: list[bytes]) -> bytes:
    """Return the zip ``data`` with its central directory replaced by ``entries``."""
    end = data.rindex(END)
    start = struct.unpack_from("<I", data, end + 16)[0]
    directory = b"".join(entries)
    record = END + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(directory),
                               start, 0)
    return data[:start] + directory + record


def patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    changed = bytearray(data)
    struct.pack_into(fmt, changed, at, value)
    return bytes(changed)


def local_header(data: bytes, central_at: int) -> int:
    return int(struct.unpack_from("<I", data, central_at + 42)[0])
