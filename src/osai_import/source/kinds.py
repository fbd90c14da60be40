"""Tell an archive file by its name, without importing the archive readers.

Every config path goes through ``locate``, which asks this of each component: keeping it
apart from ``source.archive`` (tarfile, zipfile, lzma and the member index) keeps that
code out of start-up for the configs that read no archive.
"""

from __future__ import annotations

ARCHIVE_SUFFIXES: tuple[str, ...] = (".zip", ".tar", ".tar.gz", ".tgz")
_KINDS = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar.gz", ".tgz": "tar.gz"}


def archive_kind(name: str) -> str | None:
    """Return "zip", "tar" or "tar.gz" for a file name by its suffix (any case), else None."""
    lowered = name.lower()
    for suffix, kind in _KINDS.items():
        if lowered.endswith(suffix):
            return kind
    return None
