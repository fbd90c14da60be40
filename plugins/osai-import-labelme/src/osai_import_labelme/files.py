"""The dataset's files: JSON files found in name order, read safely, and images looked up.

The dataset may be local, or in an archive or a bucket (a ``SourcePath``). A stored
folder is listed once by its store, which answers every later question about a file in
it (does the image ``imagePath`` names exist?) from that listing. Stored JSON files are
fetched a batch at a time, in parallel (``read_all``); local ones are read one at a
time, when their turn comes.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from osai_import import SourceError, SourcePath, is_inside, read_all

Dir = Path | SourcePath
"""A file or folder of the dataset: local, or in an archive or a bucket."""

Read = bytes | OSError | SourceError
"""A JSON file's bytes, or what kept it from being read."""

_BATCH = 32  # stored JSON files fetched at once: enough to hide a bucket's round trips
MAX_JSON_BYTES = 512 * 1024 * 1024
"""Larger files are refused: a LabelMe file with its photo embedded is a few megabytes."""


class Tree:
    """The dataset folder ``root``: its JSON files, and the files its JSON files name."""

    def __init__(self, root: Dir) -> None:
        # Local roots are made absolute and normalized once, so that `..` in an imagePath
        # is judged on text (is_inside) and keys are relative to one spelling of the root.
        self.root: Dir = root if isinstance(root, SourcePath) else Path(os.path.abspath(root))

    def key(self, path: Dir) -> str:
        """Return ``path`` relative to the root, with ``/`` (the record's key)."""
        if isinstance(path, SourcePath) and isinstance(self.root, SourcePath):
            return path.relative_to(self.root).as_posix()
        assert isinstance(path, Path) and isinstance(self.root, Path)
        return path.relative_to(self.root).as_posix()

    def documents(
        self, files: Iterator[Dir]
    ) -> Iterator[tuple[Dir, Read]]:
        """Yield each JSON file with its bytes (or the error reading it), in order."""
        if isinstance(self.root, Path):
            for path in files:
                assert isinstance(path, Path)
                yield path, read_local(path)
            return
        batch: list[Dir] = []
        for path in files:
            batch.append(path)
            if len(batch) >= _BATCH:
                yield from zip(batch, read_all(batch), strict=True)
                batch = []
        if batch:
            yield from zip(batch, read_all(batch), strict=True)

    def json_files(self, *, recursive: bool, exclude: Sequence[str]) -> Iterator[Dir]:
        """Yield the ``.json`` files below the root, folder by folder, in name order.

        A folder's files come before its sub-folders; hidden files and folders (``.git``)
        are skipped; a local symbolic link to a folder is followed once.
        """
        seen: set[tuple[int, int]] = set()

        def visit(folder: Dir) -> Iterator[Dir]:
            entries = self._entries(folder, seen)
            for name, kind in entries:
                if kind == "file" and name.lower().endswith(".json"):
                    path = folder / name
                    if not any(fnmatch.fnmatchcase(self.key(path), p) for p in exclude):
                        yield path
            if recursive:
                for name, kind in entries:
                    if kind == "dir":
                        yield from visit(folder / name)

        yield from visit(self.root)

    def _entries(self, folder: Dir, seen: set[tuple[int, int]]) -> list[tuple[str, str]]:
        """Return a folder's visible ``(name, "file" | "dir")``, sorted by name."""
        if isinstance(folder, SourcePath):
            try:
                listed = folder.entries()
            except (FileNotFoundError, NotADirectoryError):
                raise SourceError(f"{folder}: cannot list the folder: it is not a folder") from None
            except OSError as exc:
                raise SourceError(
                    f"{folder}: cannot list the folder: {exc.strerror or exc}"
                ) from None
            return [(n, k) for n, k in listed if not n.startswith(".")]
        try:
            info = folder.stat()
            with os.scandir(folder) as listing:
                found = sorted(
                    (e.name, _local_kind(e)) for e in listing if not e.name.startswith(".")
                )
        except OSError as exc:
            raise SourceError(
                f"{folder}: cannot list the folder: {exc.strerror or exc}; check its permissions"
            ) from None
        if (info.st_dev, info.st_ino) in seen:
            return []  # a link back to a folder already read
        seen.add((info.st_dev, info.st_ino))
        return [(n, k) for n, k in found if k]

    def is_file(self, path: Dir) -> bool:
        """Tell whether a file is at ``path`` (stored: from its folder's listing)."""
        if isinstance(path, SourcePath):
            if not path.name:
                return False
            try:
                return path.is_file()
            except OSError as exc:
                raise SourceError(
                    f"{path.parent}: cannot list the folder: {exc.strerror or exc}"
                ) from None
        return path.is_file()

    def inside(self, path: Dir) -> bool:
        """Tell whether ``path`` (normalized) lies in the dataset folder."""
        if isinstance(path, SourcePath) != isinstance(self.root, SourcePath):
            return False
        return is_inside(self.root, path)

    def joined(self, folder: Dir, written: PurePosixPath) -> Dir:
        """Return ``folder / written`` with ``..`` resolved (on text, not links)."""
        if isinstance(folder, SourcePath):
            return folder / written
        return Path(os.path.normpath(folder / written))


def written_path(text: str) -> tuple[PurePosixPath, bool]:
    """Return a path as LabelMe wrote it, with ``/``, and whether it is absolute.

    LabelMe saves ``imagePath`` with the separators of the machine it ran on, so
    ``..\\images\\a.jpg`` and ``C:\\Users\\me\\a.jpg`` are read as Windows paths, as
    LabelMe itself reads them (``PureWindowsPath(...).as_posix()``).
    """
    windows = PureWindowsPath(text)
    absolute = bool(windows.drive) or text.startswith(("/", "\\"))
    parts = [p for p in windows.parts if p not in (windows.anchor, "")]
    if not absolute:
        return PurePosixPath(*parts) if parts else PurePosixPath("."), False
    return PurePosixPath("/", *parts), True


def read_local(path: Path) -> Read:
    """Return a local JSON file's bytes, or the OSError that kept it from being read.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device
    named like a JSON file is refused instead of hanging the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return OSError(f"{path.name} is not a regular file")
        if info.st_size > MAX_JSON_BYTES:
            return OSError(f"{path.name} has {info.st_size} bytes, more than a LabelMe file holds")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as exc:
        return exc
    finally:
        os.close(fd)


def _local_kind(entry: os.DirEntry[str]) -> str:
    try:
        if entry.is_dir():
            return "dir"
        return "file" if entry.is_file() else ""
    except OSError:
        return ""
