"""Find files of a YOLO dataset: image walks, label paths, and paths written on other machines.

The dataset may be local, or in an archive or a bucket (a ``SourcePath``). Local files
are asked about one by one, which the OS answers at once; a stored folder is listed once
(``Files``) and every question about a file in it is answered from that listing.
"""

from __future__ import annotations

import fnmatch
import io
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from osai_import import ItemError, SourceError, SourcePath, is_inside

# Ultralytics' image formats; the check step refuses the ones OSAI does not take, by name,
# which is better than leaving them out without a word.
IMAGE_SUFFIXES = frozenset(
    {
        ".bmp",
        ".dng",
        ".jpeg",
        ".jpg",
        ".jpe",
        ".mpo",
        ".png",
        ".tif",
        ".tiff",
        ".webp",
        ".pfm",
        ".heic",
    }
)
MAX_TEXT_BYTES = 64 * 1024 * 1024
"""Larger label, list or names files are refused: they are not what they claim to be."""

Dir = Path | SourcePath
"""A file or folder of the dataset: local, or in an archive or a bucket."""


class Files:
    """Tell which files and folders exist: asked of the OS locally, of listings when stored.

    In a bucket each question about one file is a request; so each stored folder is
    listed once (``SourcePath.entries()``) and its listing kept for the read.
    """

    def __init__(self) -> None:
        self._listed: dict[SourcePath, dict[str, str] | None] = {}

    def listing(self, folder: SourcePath) -> dict[str, str] | None:
        """Return ``{name: "file" | "dir"}`` of a stored folder; None when it is no folder."""
        if folder in self._listed:
            return self._listed[folder]
        found: dict[str, str] | None = None
        # A key that climbs above the store's root names nothing there: never asked.
        if folder.parts[:1] != ("..",):
            try:
                found = dict(folder.entries())
            except (FileNotFoundError, NotADirectoryError):
                found = None
            except OSError as exc:
                raise SourceError(
                    f"{folder}: cannot list the folder: {exc.strerror or exc}; check its "
                    "permissions"
                ) from None
        self._listed[folder] = found
        return found

    def kind(self, path: SourcePath) -> str | None:
        """Return ``"file"`` or ``"dir"`` for a stored path, None when nothing is there."""
        if self._listed.get(path) is not None or not path.name:
            # Listed already (no need to list its parent), or the root of the store.
            return "dir" if self.listing(path) is not None else None
        listed = self.listing(path.parent)
        return listed.get(path.name) if listed is not None else None

    def exists(self, path: Dir) -> bool:
        """Tell whether a file or a folder is at ``path``."""
        if isinstance(path, SourcePath):
            return self.kind(path) is not None
        return path.exists()

    def is_dir(self, path: Dir) -> bool:
        """Tell whether ``path`` is a folder."""
        if isinstance(path, SourcePath):
            return self.listing(path) is not None
        return path.is_dir()

    def is_file(self, path: Dir) -> bool:
        """Tell whether ``path`` is a file."""
        if isinstance(path, SourcePath):
            return self.kind(path) == "file"
        return path.is_file()

    def glob(self, folder: Dir, pattern: str) -> list[Dir]:
        """Return the sorted paths in ``folder`` whose names match ``pattern``, as pathlib does."""
        if isinstance(folder, SourcePath):
            names = sorted(self.listing(folder) or {})
            return [folder / n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return sorted(folder.glob(pattern))

    def subfolders(self, folder: Dir) -> list[Dir]:
        """Return the visible folders in ``folder``, sorted by name (none when it is missing)."""
        if isinstance(folder, SourcePath):
            listed = self.listing(folder) or {}
            names = sorted(n for n, k in listed.items() if k == "dir" and not n.startswith("."))
            return [folder / n for n in names]
        try:
            with os.scandir(folder) as listing:
                return sorted(
                    (folder / e.name for e in listing if not e.name.startswith(".") and e.is_dir()),
                    key=lambda p: p.name,
                )
        except OSError:
            return []

    def text_names(self, folder: Dir) -> set[str]:
        """Return the names of the ``.txt`` files in ``folder`` (empty when it does not exist)."""
        if isinstance(folder, SourcePath):
            listed = self.listing(folder) or {}
            return {n for n, k in listed.items() if n.endswith(".txt") and k == "file"}
        return text_names(folder)

    def walk_images(self, top: Dir, *, recursive: bool = True) -> Iterator[tuple[Dir, list[str]]]:
        """Yield ``(folder, sorted image file names)`` below ``top`` (see ``walk_images``)."""
        if not isinstance(top, SourcePath):
            yield from walk_images(top) if recursive else top_images(top)
            return
        listed = self.listing(top)
        if listed is None:
            raise SourceError(f"{top}: cannot list the folder: it is not a folder")
        entries = sorted(listed.items())
        files = [n for n, k in entries if k == "file" and is_image_name(n)]
        if files:
            yield top, files
        if recursive:
            for name, kind in entries:
                if kind == "dir" and not name.startswith("."):
                    yield from self.walk_images(top / name)


def is_image_name(name: str) -> bool:
    """Return True for a file name with an image suffix (any case), hidden files excepted."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def walk_images(top: Path) -> Iterator[tuple[Path, list[str]]]:
    """Yield ``(folder, sorted image file names)`` for ``top`` and its subfolders, sorted.

    Symbolic links to folders are followed once each (a link loop is not followed twice);
    hidden folders (``.git``, ``.ipynb_checkpoints``) are skipped.
    """
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path) -> Iterator[tuple[Path, list[str]]]:
        try:
            info = folder.stat()
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(
                f"{folder}: cannot list the folder: {exc.strerror}; check its permissions"
            ) from None
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        files = [e.name for e in entries if is_image_name(e.name) and _is_file(e)]
        if files:
            yield folder, files
        for entry in entries:
            if not entry.name.startswith(".") and _is_dir(entry):
                yield from visit(folder / entry.name)

    yield from visit(top)


def top_images(folder: Path) -> Iterator[tuple[Path, list[str]]]:
    """Yield ``(folder, sorted image file names)`` for ``folder`` alone, if it has images."""
    with os.scandir(folder) as listing:
        files = sorted(e.name for e in listing if is_image_name(e.name) and e.is_file())
    if files:
        yield folder, files


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def text_names(folder: Path) -> set[str]:
    """Return the names of the ``.txt`` files in ``folder`` (empty when it does not exist)."""
    try:
        with os.scandir(folder) as listing:
            return {e.name for e in listing if e.name.endswith(".txt") and _is_file(e)}
    except OSError:
        return set()


def label_folder(image_folder: Dir, root: Dir) -> Dir:
    """Return where the labels of images in ``image_folder`` live.

    The Ultralytics rule: the last ``images`` folder of the path becomes ``labels``
    (``images/train`` -> ``labels/train``, ``train/images`` -> ``train/labels``); without an
    ``images`` folder, labels sit beside their images (Darknet's ``obj_train_data``).
    """
    parts = list(image_folder.parts)
    floor = len(root.parts) if _is_within(image_folder, root) else 0
    for index in range(len(parts) - 1, floor - 1, -1):
        if parts[index] == "images":
            if isinstance(image_folder, SourcePath):
                above = image_folder
                for _ in parts[index:]:
                    above = above.parent
                return above.joinpath("labels", *parts[index + 1 :])
            parts[index] = "labels"
            return Path(*parts)
    return image_folder


def _is_within(path: Dir, root: Dir) -> bool:
    if isinstance(path, SourcePath) or isinstance(root, SourcePath):
        return isinstance(path, SourcePath) and isinstance(root, SourcePath) and (
            path == root or is_inside(root, path)
        )
    return path == root or root in path.parents


def inside(path: Dir, root: Dir) -> bool:
    """Return True when ``path``, with ``..`` resolved but not symbolic links, is in ``root``."""
    if isinstance(path, SourcePath) or isinstance(root, SourcePath):
        return _is_within(path, root)  # a SourcePath is normalized already
    return _is_within(Path(os.path.normpath(path)), Path(os.path.normpath(root)))


def relative_key(path: Dir, root: Dir) -> str:
    """Return ``path`` relative to ``root`` with ``/`` separators (absolute when outside)."""
    if isinstance(path, SourcePath) or isinstance(root, SourcePath):
        if isinstance(path, SourcePath) and isinstance(root, SourcePath):
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                pass
        return str(path)
    normal = Path(os.path.normpath(path))
    try:
        return normal.relative_to(os.path.normpath(root)).as_posix()
    except ValueError:
        return normal.as_posix()


def joined(base: Dir, text: str | PurePosixPath) -> Dir | None:
    """Return ``base / text`` normalized; None for an absolute path in an archive or bucket.

    An absolute path written in a stored dataset was written for some machine's disk: it
    names nothing in the archive or the bucket, and is never looked up on this one.
    """
    if isinstance(base, SourcePath):
        return None if str(text).startswith("/") else base / text
    return Path(os.path.normpath(base / text))


def written_path(text: str) -> PurePosixPath:
    """Turn a path as written in a list or config file into parts (``\\`` taken as ``/``)."""
    return PurePosixPath(text.strip().replace("\\", "/"))


def locate(
    text: str, bases: list[Dir], root: Dir, *, allow_outside: bool, files: Files | None = None
) -> tuple[Dir | None, list[str]]:
    """Find a path written in a dataset file; return it (or None) and every place tried.

    Relative paths are tried against each base folder. Paths written on another machine
    (``/content/ds/train/images``, Darknet's ``data/obj/1.jpg``, Roboflow's
    ``../train/images``) are then tried by their trailing parts inside ``root``, down to
    the file name, or to two parts for a folder. Unless ``allow_outside``, only paths inside
    ``root`` count, so that a downloaded dataset cannot pull in files from elsewhere. In an
    archive or a bucket, absolute paths are tried by their trailing parts only.
    """
    files = files or Files()
    written = written_path(text)
    tried: list[str] = []

    def accept(candidate: Dir) -> bool:
        if str(candidate) in tried:
            return False
        if not allow_outside and not inside(candidate, root):
            refused = " (outside the dataset folder: not followed unless allow_outside_root)"
            tried.append(f"{candidate}{refused if files.exists(candidate) else ''}")
            return False
        tried.append(str(candidate))
        return files.exists(candidate)

    if written.is_absolute():
        if isinstance(root, SourcePath):
            tried.append(f"{written} (an absolute path: looked for inside {root} only)")
        elif accept(Path(written)):
            return Path(written), tried
    else:
        for base in bases:
            candidate = joined(base, written)
            if candidate is not None and accept(candidate):
                return candidate, tried
    parts = [p for p in written.parts if p not in ("/", "..", ".")]
    # A bare folder name (`images`) would match the wrong folder too easily; a file name won't.
    shortest = 1 if PurePosixPath(*parts[-1:]).suffix else 2
    for start in range(max(len(parts) - shortest + 1, 1)):
        candidate = root.joinpath(*parts[start:])
        if accept(candidate):
            return candidate, tried
    return None, tried


def read_lines(path: Dir, where: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of a UTF-8 text file, lazily; raise ItemError naming it."""
    if isinstance(path, SourcePath):
        try:
            with open_text(path, where) as handle:
                yield from numbered(handle, where)
        except ItemError:
            raise
        except (OSError, SourceError) as exc:
            # A bucket's connection, or an archive's member, may fail halfway through.
            raise _unreadable(where, exc) from None
        return
    with open_text(path, where) as handle:
        yield from numbered(handle, where)


def lines_in(data: bytes | OSError | SourceError, where: str) -> Iterator[tuple[int, str]]:
    """Yield the lines of a text file already fetched (``read_all``), as ``read_lines`` does."""
    if isinstance(data, (OSError, SourceError)):
        raise _unreadable(where, data)
    if len(data) > MAX_TEXT_BYTES:
        raise ItemError(
            "yolo.unreadable",
            f"{where}: has {len(data)} bytes; a YOLO text file is small plain text",
        )
    # The same decoder as a file opened in text mode: the same lines, the same errors.
    yield from numbered(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig"), where)


def numbered(handle: Iterable[str], where: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text without its line end)`` of an open text file."""
    number = 0
    try:
        for number, line in enumerate(handle, 1):
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ItemError(
            "yolo.unreadable",
            f"{where}:{number + 1}: not UTF-8 text ({exc.reason}); save it as UTF-8",
        ) from None


def open_text(path: Dir, where: str, max_bytes: int = MAX_TEXT_BYTES) -> IO[Any]:
    """Open a small regular text file safely (no FIFOs, no huge files) as UTF-8 text."""
    if isinstance(path, SourcePath):
        return _open_stored(path, where, max_bytes)
    try:
        # O_NONBLOCK keeps a FIFO named like a label file from blocking the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ItemError(
            "yolo.unreadable", f"{where}: cannot read the file: {exc.strerror}"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        os.close(fd)
        what = (
            "is not a regular file"
            if not stat.S_ISREG(info.st_mode)
            else f"has {info.st_size} bytes"
        )
        raise ItemError("yolo.unreadable", f"{where}: {what}; a YOLO text file is small plain text")
    return os.fdopen(fd, "r", encoding="utf-8-sig", errors="strict", newline=None)


def _open_stored(path: SourcePath, where: str, max_bytes: int) -> IO[Any]:
    """Do ``open_text``'s work for a file in an archive or a bucket."""
    try:
        info = path.stat()
        if info.kind == "file" and info.size <= max_bytes:
            return path.open("r", encoding="utf-8-sig", errors="strict", newline=None)
    except (OSError, SourceError) as exc:
        raise _unreadable(where, exc) from None
    what = "is not a regular file" if info.kind != "file" else f"has {info.size} bytes"
    raise ItemError("yolo.unreadable", f"{where}: {what}; a YOLO text file is small plain text")


def _unreadable(where: str, exc: OSError | SourceError) -> ItemError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ItemError("yolo.unreadable", f"{where}: cannot read the file: {reason}")
