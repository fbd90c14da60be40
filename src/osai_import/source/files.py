"""Open an image file safely, and read at send time exactly the file the check saw.

The check opens each image once (``open_image``) and notes its facts (``FileFacts``):
its device and inode, size and modification time, and whether its path was a symbolic
link. At send time ``read_checked`` opens the path once more, with the flags those facts
allow (no following a link that was not one; never blocking on a FIFO), checks the open
descriptor against the facts, and returns the bytes it read with their SHA-256 digest.
A file replaced, truncated, rewritten or turned into a link or a FIFO since the check is
refused by name (``image.changed`` or ``image.unreadable``), never sent, never a hang.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from osai_import.errors import ItemError

_READ = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the check saw of an image file: its identity, its size and time, and the link."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    link: bool  # the path was a symbolic link (which the reader allowed)


def open_image(path: Path) -> tuple[int, os.stat_result, bool]:
    """Open ``path`` for reading without blocking; return the descriptor, its stat, the link.

    Only a regular file is opened: a folder, a FIFO or a device is refused with
    ``image.unreadable`` before any open (opening a FIFO can hang, opening a device can
    act), a missing file with ``image.missing``, an empty one with ``image.empty``.
    """
    try:
        seen = os.stat(path)
    except OSError as exc:
        raise _open_error(path, exc) from None
    _require_regular(path, seen)
    link = False
    try:
        fd = os.open(path, _READ | _NOFOLLOW)
    except OSError as exc:
        if exc.errno != errno.ELOOP or not _NOFOLLOW:
            raise _open_error(path, exc) from None
        # A symbolic link: the reader that named it allowed it, so it is followed here.
        link = True
        try:
            fd = os.open(path, _READ)
        except OSError as again:
            raise _open_error(path, again) from None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
            raise _changed(path, "it was replaced while it was opened")
        _require_regular(path, st)
    except BaseException:
        os.close(fd)
        raise
    return fd, st, link


def _require_regular(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ItemError("image.unreadable", f"{path}: is {what}, not an image file; fix the path")
    if st.st_size == 0:
        raise ItemError(
            "image.empty", f"{path}: the file is empty (0 bytes); replace it with the real image"
        )


def facts_of(st: os.stat_result, link: bool) -> FileFacts:
    """Return the facts of an open file's stat."""
    return FileFacts(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, link)


def read_checked(path: Path, facts: FileFacts) -> tuple[bytes, str]:
    """Return the bytes of the file the check saw at ``path`` and their SHA-256 (hex).

    Raises ItemError ``image.changed`` when the path now holds another file (another
    inode, a symbolic link where there was none), or the same file with another size or
    modification time; ``image.unreadable`` or ``image.missing`` when it cannot be read.
    """
    parts: list[bytes] = []
    digest = _read(path, facts, parts.append)
    return b"".join(parts), digest


def digest_checked(path: Path, facts: FileFacts) -> str:
    """Return the SHA-256 of the file the check saw, refused as ``read_checked`` refuses."""
    return _read(path, facts, None)


def what_changed(was: FileFacts, now: FileFacts) -> str:
    """Say how the file at a path differs from the one the check saw, in a few words."""
    if now.link and not was.link:
        return "its path is now a symbolic link"
    if (now.dev, now.ino) != (was.dev, was.ino):
        return "another file now has its name"
    return "its size or modification time is not what the check saw"


def read_image(path: Path) -> tuple[bytes, str, FileFacts]:
    """Open a file no check has seen (as ``open_image`` does); return bytes, digest, facts."""
    fd, st, link = open_image(path)
    os.close(fd)
    facts = facts_of(st, link)
    data, digest = read_checked(path, facts)
    return data, digest, facts


def _read(path: Path, facts: FileFacts, keep: Callable[[bytes], object] | None) -> str:
    flags = _READ if facts.link else _READ | _NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not facts.link:
            raise _changed(path, "its path is now a symbolic link") from None
        raise _open_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _changed(path, "it is no longer a regular file")
        if (st.st_dev, st.st_ino) != (facts.dev, facts.ino):
            raise _changed(path, "another file now has its name")
        if st.st_size != facts.size or st.st_mtime_ns != facts.mtime_ns:
            raise _changed(path, "its size or modification time is not what the check saw")
        digest = hashlib.sha256()
        remaining = st.st_size
        while remaining > 0:
            block = os.read(fd, min(_BLOCK, remaining))
            if not block:
                break
            digest.update(block)
            if keep is not None:
                keep(block)
            remaining -= len(block)
        if remaining or os.read(fd, 1):
            raise _changed(path, "its length changed while it was read")
    except OSError as exc:
        raise _open_error(path, exc) from None
    finally:
        os.close(fd)
    return digest.hexdigest()


def _changed(path: Path, why: str) -> ItemError:
    return ItemError(
        "image.changed",
        f"{path}: the file changed after it was checked ({why}); it was not sent: run again "
        "to check and send it as it is now",
    )


def _open_error(path: Path, exc: OSError) -> ItemError:
    if exc.errno == errno.ENOENT:
        return ItemError(
            "image.missing",
            f"{path}: the image file does not exist; fix the path in the source or restore the "
            "file",
        )
    reason = exc.strerror or str(exc)
    return ItemError(
        "image.unreadable", f"{path}: cannot read the file ({reason}); check its permissions"
    )
