"""What every archive kind shares: the member, the archive, the index and the member stream.

``MemberIndex`` gathers an archive's members as its format lists them, normalizing each
path and refusing, by name, the paths that leave the archive's root, names that collide
once normalized, and declared sizes past the ``ArchiveLimits``. ``MemberStream`` hands out
one member's bytes, never more than its declared size, and turns a damaged member into
one ``ItemError`` that names the archive and the member.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, BinaryIO, Protocol, Self

from osai_import.errors import ItemError, SourceError
from osai_import.source.archive.limits import ArchiveLimits
from osai_import.source.kinds import ARCHIVE_SUFFIXES, archive_kind

__all__ = ["ARCHIVE_SUFFIXES", "DAMAGE", "Archive", "Member", "archive_kind"]

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


# What a damaged archive raises from the standard library as its bytes are parsed or
# decompressed; each becomes a SourceError (or an ItemError for one member) by name.
DAMAGE: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, struct.error,
)

_BUFFER = 1 << 16
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class Member:
    """One file or folder of an archive, by its normalized path."""

    name: str  # posix path: no leading "/", no "./", no "//", no trailing "/"
    size: int  # uncompressed size (0 for a folder)
    is_dir: bool
    mtime: float | None


def damaged(label: str, detail: object) -> SourceError:
    """Return the error for an archive whose structure cannot be read."""
    return SourceError(f"{label}: the archive is damaged or truncated: {detail}; "
                       "download or copy it again, or re-create it")


def unreadable(label: str, exc: OSError) -> SourceError:
    """Return the error for an archive whose file cannot be read at all."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return SourceError(f"{label}: the archive cannot be read ({reason}); "
                       "check that it exists and is readable")


def size_text(size: float) -> str:
    """Return ``size`` bytes as people read it: "512 bytes", "20.0 MiB"."""
    if size < 1024:
        return f"{size:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            break
    return f"{size:.1f} {unit}"


def check_ratio(label: str, limits: ArchiveLimits, raw: str, size: int, packed: int) -> None:
    """Refuse member ``raw`` when its ``size`` bytes come from too few (``packed``) bytes.

    Callers skip members smaller than ``limits.min_ratio_size``: small files compress well.
    """
    ratio = size / max(packed, 1)
    if ratio > limits.max_ratio:
        raise SourceError(
            f"{label}: member {raw!r} expands {ratio:.0f} times ({size_text(packed)} to "
            f"{size_text(size)}), more than the {limits.max_ratio:.0f} allowed; osai-import "
            "refuses it as a possible decompression bomb: remove the member, or store the "
            "archive uncompressed (zip -0, a plain .tar)")


def check_whole_ratio(label: str, limits: ArchiveLimits, size: int, packed: int,
                      where: str = "") -> None:
    """Refuse an archive whose members, all together, expand too much from ``packed`` bytes."""
    if size < limits.whole_ratio_size or size <= limits.max_ratio * max(packed, 1):
        return
    raise SourceError(
        f"{label}: the archive expands more than {limits.max_ratio:.0f} times "
        f"({size_text(packed)} to {size_text(size)}{where}); osai-import refuses it as a "
        "possible decompression bomb: re-create it from the images themselves")


def normalize(label: str, raw: str, *, backslash_separates: bool) -> str:
    """Return member name ``raw`` as a clean relative posix path ("" for the root itself).

    Refuses, naming the member, what would leave the archive's root or be read
    differently by different tools: "..", an absolute path, a Windows drive, a NUL, and
    (where ``backslash_separates``: in a zip, whose format forbids them) backslashes.
    """
    such = "osai-import refuses archives with such paths"
    inside = "re-create the archive from inside its folder"
    if "\0" in raw:
        raise SourceError(f"{label}: member {raw!r} holds a NUL character in its name; "
                          f"{such}: re-create the archive")
    if backslash_separates and "\\" in raw:
        raise SourceError(f"{label}: member {raw!r} uses backslashes as path separators, which "
                          f"the zip format forbids and tools read differently; {such}: "
                          "re-create the archive with a tool that writes '/' (zip, 7-Zip)")
    if raw.startswith("/"):
        raise SourceError(f"{label}: member {raw!r} has an absolute path; {such}: {inside}")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SourceError(f"{label}: member {raw!r} leaves the archive's root; {such}: {inside}")
    if parts and _DRIVE.match(parts[0]):
        raise SourceError(f"{label}: member {raw!r} names a Windows drive; {such}: {inside}")
    return "/".join(parts)


class MemberIndex:
    """Gather an archive's members as its format lists them, checking each as it comes.

    Folders implied by a member's path are added as folders (a zip often lists none); a
    folder may be listed more than once, a file may not, and no path may be both.
    """

    def __init__(self, label: str, limits: ArchiveLimits, *, backslash_separates: bool) -> None:
        self.label, self.limits = label, limits
        self.members: dict[str, Member] = {}
        self.total = 0
        self._backslash_separates = backslash_separates
        self._implied: set[str] = set()
        self._raw: dict[str, str] = {}  # a name as listed, where it differs from its path

    def add(self, raw: str, *, size: int, is_dir: bool, mtime: float | None) -> str | None:
        """Add member ``raw``; return its normalized name (None for the root folder itself)."""
        name = normalize(self.label, raw, backslash_separates=self._backslash_separates)
        if not name:
            if is_dir:
                return None
            raise SourceError(f"{self.label}: a file member has an empty name ({raw!r}); "
                              "osai-import refuses such archives: re-create the archive")
        if size < 0:
            raise damaged(self.label, f"member {raw!r} declares a negative size")
        if not is_dir:
            self._check_size(raw, size)
        seen = self.members.get(name)
        if seen is not None:
            self._again(raw, name, seen, is_dir)  # refuses all but a folder listed again
            if name not in self._implied:
                return name
            self._implied.discard(name)  # listed after a file inside it implied it
        self._put(Member(name, 0 if is_dir else size, is_dir, mtime))
        if raw != name:
            self._raw[name] = raw
        self._add_parents(raw, name)
        return name

    def _check_size(self, raw: str, size: int) -> None:
        limits = self.limits
        if size > limits.max_member_size:
            raise SourceError(
                f"{self.label}: member {raw!r} declares {size_text(size)}, more than the "
                f"{size_text(limits.max_member_size)} an image may have; osai-import refuses "
                "it as a possible decompression bomb: remove the member or re-create the "
                "archive")
        self.total += size
        if self.total > limits.max_total_size:
            raise SourceError(
                f"{self.label}: its members declare more than "
                f"{size_text(limits.max_total_size)} in all (at member {raw!r}); osai-import "
                "refuses it as a possible decompression bomb: split the dataset into smaller "
                "archives")

    def _again(self, raw: str, name: str, seen: Member, is_dir: bool) -> None:
        first = self._raw.get(name, name)
        if seen.is_dir and is_dir:
            return
        if seen.is_dir != is_dir:
            raise SourceError(
                f"{self.label}: {name!r} is both a file and a folder (member {raw!r}); "
                "osai-import refuses such an ambiguous archive: re-create it")
        listed = f"{first!r} twice" if first == raw else f"{first!r} and {raw!r}, both {name!r}"
        raise SourceError(
            f"{self.label}: the archive lists {listed}; osai-import refuses such an ambiguous "
            "archive: re-create it so each path appears once")

    def _add_parents(self, raw: str, name: str) -> None:
        cut = name.rfind("/")
        while cut > 0:
            parent = name[:cut]
            seen = self.members.get(parent)
            if seen is not None:
                if not seen.is_dir:
                    raise SourceError(
                        f"{self.label}: {parent!r} is both a file and a folder (member "
                        f"{raw!r}); osai-import refuses such an ambiguous archive: re-create it")
                return  # its own parents were added with it
            self._put(Member(parent, 0, True, None))
            self._implied.add(parent)
            cut = parent.rfind("/")

    def _put(self, member: Member) -> None:
        self.members[member.name] = member
        if len(self.members) > self.limits.max_members:
            raise SourceError(
                f"{self.label}: the archive holds more than {self.limits.max_members} files "
                "and folders; osai-import refuses it as a possible decompression bomb: split "
                "the dataset into smaller archives")


class Pull(Protocol):
    """A member's bytes as its format decodes them: what ``MemberStream`` reads from."""

    def read(self, size: int, /) -> bytes:
        """Return up to ``size`` more bytes; b"" at the end."""

    def close(self) -> None:
        """Release what the reading holds (its own handle on the archive)."""


class MemberStream(io.RawIOBase):
    """Hand out one member's bytes: never more than its declared size, damage named.

    A member that ends early is refused here; one whose data runs past its declared
    size is never read past it (a zip's CRC-32 then tells the lie, see ``zipped``).
    Errors of the archive's own I/O stay ``OSError``, as for any file.
    """

    def __init__(self, label: str, name: str, size: int, pull: Pull) -> None:
        super().__init__()
        self._label, self._name, self._size, self._left = label, name, size, size
        self._pull = pull

    def readable(self) -> bool:
        """Tell that the stream reads."""
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read the next bytes of the member into ``buffer``; return how many (0 at its end)."""
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        if want == 0:
            return 0
        try:
            data = self._pull.read(want)
        except DAMAGE as exc:
            raise ItemError("image.unreadable", (
                f"{self._label}: member {self._name!r} cannot be read: the archive is damaged "
                f"or the member's declared size is false ({exc}); re-create the archive")
            ) from exc
        if not data:
            raise ItemError("image.unreadable", (
                f"{self._label}: member {self._name!r} ends after {self._size - self._left} of "
                f"its {self._size} declared bytes: the archive is damaged or truncated; "
                "download or copy it again, or re-create it"))
        count = min(len(data), want)
        view[:count] = data[:count]
        self._left -= count
        return count

    def close(self) -> None:
        """Close the stream and the handle on the archive it reads from."""
        if not self.closed:
            try:
                self._pull.close()
            finally:
                super().close()


class Archive(ABC):
    """An archive opened and indexed once, whose file members are read in place.

    ``open_member`` may be called from several threads at once: each stream reads
    through its own handle on the archive, and the index is only read after opening.
    """

    label: str  # how messages name the archive (its path or URL)
    kind: str  # "zip" | "tar" | "tar.gz"

    def __init__(self, label: str, kind: str, members: dict[str, Member]) -> None:
        self.label, self.kind = label, kind
        self._members = MappingProxyType(members)
        self._closed = False

    def members(self) -> Mapping[str, Member]:
        """Return every file and folder by its normalized path, implied folders included."""
        return self._members

    def open_member(self, name: str) -> BinaryIO:
        """Return a stream of the bytes of file member ``name``, read from the archive."""
        if self._closed:
            raise ValueError(f"{self.label}: the archive is closed")
        member = self._members.get(name)
        if member is None or member.is_dir:
            what = "has no member" if member is None else "has a folder, not a file, at"
            raise SourceError(f"{self.label}: the archive {what} {name!r}; "
                              "name a file member of it")
        stream = MemberStream(self.label, name, member.size, self._pull(name))
        return io.BufferedReader(stream, _BUFFER)

    def read_member(self, name: str) -> bytes:
        """Return the whole of file member ``name``."""
        with self.open_member(name) as stream:
            return stream.read()

    def close(self) -> None:
        """Refuse new member streams; streams already open go on reading."""
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def _pull(self, name: str) -> Pull:
        """Open file member ``name`` through a new handle on the archive."""
