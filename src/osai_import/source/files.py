"""Open an image file safely, and read at send time exactly the file the check saw.

The check opens each image once (``open_image``) and notes its facts (``FileFacts``):
its device and inode, size and modification time, and whether its path was a symbolic
link. At send time ``read_checked`` opens the path once more, with the flags those facts
allow (no following a link that was not one; never blocking on a FIFO), checks the open
descriptor against the facts, and returns the bytes it read with their SHA-256 digest.
A file replaced, truncated, rewritten or turned into a link or a FIFO since the check is
refused by name (``image.changed`` or ``image.unreadable``), never sent, never a hang.

An image in an archive or a bucket (a ``SourcePath``) has no inode to hold on to: the
check reads it whole and notes its size and SHA-256 (``BlobFacts``), and the upload
reads it again and sends it only when both match.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from osai_import.errors import ItemError, SourceError
from osai_import.location import SourcePath

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


@dataclass(frozen=True, slots=True)
class BlobFacts:
    """What the check saw of an image in an archive or a bucket: its size and digest.

    ``dev``, ``ino`` and ``mtime_ns`` are 0: only the digest tells the bytes apart, and
    the journal, which notes a local file's identity, notes these.
    """

    size: int
    sha256: str
    version: str | None = None  # the store's ETag or generation, for messages
    dev: int = 0
    ino: int = 0
    mtime_ns: int = 0
    link: bool = False


Facts = FileFacts | BlobFacts


def read_blob(path: SourcePath) -> tuple[bytes, BlobFacts]:
    """Return the bytes of an image in an archive or a bucket, and their facts.

    Raises ItemError ``image.missing``, ``image.empty`` or ``image.unreadable`` (naming the
    path, and the archive's or the store's own words).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ItemError(
            "image.missing",
            f"{path}: the image does not exist; fix the path in the source or restore the file",
        ) from None
    except IsADirectoryError:
        raise ItemError(
            "image.unreadable", f"{path}: is a folder, not an image file; fix the path"
        ) from None
    except OSError as exc:
        raise ItemError(
            "image.unreadable", f"{path}: cannot read the file ({exc.strerror or exc})"
        ) from None
    except SourceError as exc:
        # An archive member that lies about its size or fails its CRC: the archive's words.
        raise ItemError("image.unreadable", str(exc)) from None
    if not data:
        raise ItemError(
            "image.empty", f"{path}: the file is empty (0 bytes); replace it with the real image"
        )
    return data, BlobFacts(len(data), hashlib.sha256(data).hexdigest())


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
            raise changed(path, "it was replaced while it was opened")
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


def read_checked(path: Path | SourcePath, facts: Facts) -> tuple[bytes, str]:
    """Return the bytes of the file the check saw at ``path`` and their SHA-256 (hex).

    Raises ItemError ``image.changed`` when the path now holds another file (another
    inode, a symbolic link where there was none), or the same file with another size or
    modification time (in an archive or a bucket: other bytes); ``image.unreadable`` or
    ``image.missing`` when it cannot be read.
    """
    if isinstance(path, SourcePath) or isinstance(facts, BlobFacts):
        return _blob_checked(path, facts)
    parts: list[bytes] = []
    digest = _read(path, facts, parts.append)
    return b"".join(parts), digest


def digest_checked(path: Path | SourcePath, facts: Facts) -> str:
    """Return the SHA-256 of the file the check saw, refused as ``read_checked`` refuses.

    An image in an archive or a bucket is not read again: the check's digest is it, and
    the upload compares the bytes it sends with it.
    """
    if isinstance(facts, BlobFacts):
        return facts.sha256
    if isinstance(path, SourcePath):
        raise TypeError(f"{path}: a stored image's facts are BlobFacts")
    return _read(path, facts, None)


def what_changed(was: Facts, now: Facts) -> str:
    """Say how the file at a path differs from the one the check saw, in a few words."""
    if isinstance(was, BlobFacts) or isinstance(now, BlobFacts):
        return "its bytes are not those the check read"
    if now.link and not was.link:
        return "its path is now a symbolic link"
    if (now.dev, now.ino) != (was.dev, was.ino):
        return "another file now has its name"
    return "its size or modification time is not what the check saw"


def read_image(path: Path | SourcePath) -> tuple[bytes, str, Facts]:
    """Open a file no check has seen (as ``open_image`` does); return bytes, digest, facts."""
    if isinstance(path, SourcePath):
        data, blob = read_blob(path)
        return data, blob.sha256, blob
    fd, st, link = open_image(path)
    os.close(fd)
    facts = facts_of(st, link)
    data, digest = read_checked(path, facts)
    return data, digest, facts


def _read(path: Path, facts: FileFacts, keep: Callable[[bytes], object] | None) -> str:
    digest = hashlib.sha256()
    for block in checked_blocks(path, facts):
        digest.update(block)
        if keep is not None:
            keep(block)
    return digest.hexdigest()


def checked_blocks(path: Path, facts: FileFacts, block_size: int = _BLOCK) -> Iterator[bytes]:
    """Open the file the check saw at ``path`` and yield its ``facts.size`` bytes in blocks.

    The open descriptor is checked first (a regular file, the same inode, size and time,
    no symbolic link where there was none); a length that changes while it is read is
    noticed before the generator ends. Every refusal is an ItemError (``image.changed``,
    ``image.missing``, ``image.unreadable``), never an OSError.
    """
    flags = _READ if facts.link else _READ | _NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not facts.link:
            raise changed(path, "its path is now a symbolic link") from None
        raise _open_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise changed(path, "it is no longer a regular file")
        if (st.st_dev, st.st_ino) != (facts.dev, facts.ino):
            raise changed(path, "another file now has its name")
        if st.st_size != facts.size or st.st_mtime_ns != facts.mtime_ns:
            raise changed(path, "its size or modification time is not what the check saw")
        remaining = st.st_size
        while remaining > 0:
            block = os.read(fd, min(block_size, remaining))
            if not block:
                break
            remaining -= len(block)
            # Checked before the last block is handed out: a stream holding it back
            # never sends a file that grew.
            if remaining == 0 and os.read(fd, 1):
                raise changed(path, "its length changed while it was read")
            yield block
        if remaining or (st.st_size == 0 and os.read(fd, 1)):
            raise changed(path, "its length changed while it was read")
    except OSError as exc:
        raise _open_error(path, exc) from None
    finally:
        os.close(fd)


def _blob_checked(path: Path | SourcePath, facts: Facts) -> tuple[bytes, str]:
    if not (isinstance(path, SourcePath) and isinstance(facts, BlobFacts)):
        raise TypeError(f"{path}: facts of another kind of file ({type(facts).__name__})")
    data, now = read_blob(path)
    if (now.size, now.sha256) != (facts.size, facts.sha256):
        raise changed(path, "its bytes are not those the check read")
    return data, now.sha256


def changed(path: Path | SourcePath, why: str) -> ItemError:
    """Return the error of a file that is not the one the check saw (``image.changed``)."""
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


# Images in buckets are fetched this many at a time: each is one round trip, and a chunk
# read one image after another would wait for them in series.
_FETCHERS = 16
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL  # noqa: PLW0603 - one pool for the process, made on first use
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_FETCHERS, thread_name_prefix="osai-fetch")
        return _POOL


def read_many(
    jobs: Sequence[tuple[Path | SourcePath, Facts | None]],
) -> list[tuple[bytes, str, Facts] | ItemError]:
    """Read each ``(path, facts)`` as ``read_checked`` (or ``read_image`` without facts).

    Returns, in order, ``(bytes, digest, facts)`` or the ItemError that refused it. Local
    files are read here, one after another; images in archives and buckets by a pool of
    threads at once.
    """

    def one(path: Path | SourcePath, facts: Facts | None) -> tuple[bytes, str, Facts] | ItemError:
        try:
            if facts is None:
                return read_image(path)
            data, digest = read_checked(path, facts)
            return data, digest, facts
        except ItemError as exc:
            return exc

    remote = [i for i, (path, _facts) in enumerate(jobs) if isinstance(path, SourcePath)]
    fetched = {}
    if len(remote) > 1:
        futures = {i: _pool().submit(one, *jobs[i]) for i in remote}
        fetched = {i: future.result() for i, future in futures.items()}
    return [fetched[i] if i in fetched else one(*job) for i, job in enumerate(jobs)]



def read_all(paths: Sequence[Path | SourcePath]) -> list[bytes | OSError | SourceError]:
    """Return each file's bytes, or the error that kept it from being read, in order.

    For readers that need many small files (annotation sidecars): files in archives and
    buckets are fetched by a pool of threads at once, local files read one after another.
    """

    def one(path: Path | SourcePath) -> bytes | OSError | SourceError:
        try:
            return path.read_bytes()
        except (OSError, SourceError) as exc:
            return exc

    stored = [i for i, path in enumerate(paths) if isinstance(path, SourcePath)]
    fetched: dict[int, bytes | OSError | SourceError] = {}
    if len(stored) > 1:
        futures = {i: _pool().submit(one, paths[i]) for i in stored}
        fetched = {i: future.result() for i, future in futures.items()}
    return [fetched[i] if i in fetched else one(path) for i, path in enumerate(paths)]
