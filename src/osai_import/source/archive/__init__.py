"""Archives read in place: zip, tar and tar.gz members listed and streamed, never extracted.

``open_archive`` opens an archive once and indexes it, refusing with a ``SourceError``
that names the archive (and the member) whatever is hostile or broken, before any member
is read: paths that leave the archive's root or collide, links and special files in a
tar, encrypted zip members, declared sizes and ratios of a possible bomb, overlapping zip
entries, damage. ``Archive.open_member`` then streams one file member through a new
handle on the archive, so upload workers read several members at once; a member that
turns out damaged, or longer or shorter than it declared, is refused as it is read with
an ``ItemError`` (code ``image.unreadable``, a ``SourceError``) naming archive and member.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from osai_import.source.archive.base import ARCHIVE_SUFFIXES, Archive, Member, archive_kind
from osai_import.source.archive.limits import DEFAULT_LIMITS, ArchiveLimits
from osai_import.source.archive.tarred import TarArchive, open_tar
from osai_import.source.archive.zipped import ZipArchive, open_zip

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DEFAULT_LIMITS",
    "Archive",
    "ArchiveLimits",
    "Member",
    "TarArchive",
    "ZipArchive",
    "archive_kind",
    "open_archive",
]


def open_archive(label: str, kind: str, opener: Callable[[], BinaryIO],
                 limits: ArchiveLimits = DEFAULT_LIMITS) -> Archive:
    """Open and index an archive; raise SourceError, naming it, when it is hostile or broken.

    ``kind`` is what ``archive_kind`` returns; ``opener`` returns a new seekable binary
    handle on the archive at each call (one for the index, one per member stream). An
    ``OSError`` of the opening or the index pass becomes a ``SourceError``; once the
    archive is open, a member stream's own I/O errors stay ``OSError``.
    """
    if kind == "zip":
        return open_zip(label, opener, limits)
    if kind in ("tar", "tar.gz"):
        return open_tar(label, opener, limits, compressed=kind == "tar.gz")
    raise ValueError(f"{label}: unknown archive kind {kind!r}; expected zip, tar or tar.gz")
