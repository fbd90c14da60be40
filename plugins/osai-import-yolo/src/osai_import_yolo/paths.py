"""Find files of a YOLO dataset: image walks, label paths, and paths written on other machines."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TextIO

from osai_import import ItemError, SourceError

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


def label_folder(image_folder: Path, root: Path) -> Path:
    """Return where the labels of images in ``image_folder`` live.

    The Ultralytics rule: the last ``images`` folder of the path becomes ``labels``
    (``images/train`` -> ``labels/train``, ``train/images`` -> ``train/labels``); without an
    ``images`` folder, labels sit beside their images (Darknet's ``obj_train_data``).
    """
    parts = list(image_folder.parts)
    floor = len(root.parts) if _is_within(image_folder, root) else 0
    for index in range(len(parts) - 1, floor - 1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return Path(*parts)
    return image_folder


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def inside(path: Path, root: Path) -> bool:
    """Return True when ``path``, with ``..`` resolved but not symbolic links, is in ``root``."""
    return _is_within(Path(os.path.normpath(path)), Path(os.path.normpath(root)))


def relative_key(path: Path, root: Path) -> str:
    """Return ``path`` relative to ``root`` with ``/`` separators (absolute when outside)."""
    normal = Path(os.path.normpath(path))
    try:
        return normal.relative_to(os.path.normpath(root)).as_posix()
    except ValueError:
        return normal.as_posix()


def written_path(text: str) -> PurePosixPath:
    """Turn a path as written in a list or config file into parts (``\\`` taken as ``/``)."""
    return PurePosixPath(text.strip().replace("\\", "/"))


def locate(
    text: str, bases: list[Path], root: Path, *, allow_outside: bool
) -> tuple[Path | None, list[str]]:
    """Find a path written in a dataset file; return it (or None) and every place tried.

    Relative paths are tried against each base folder. Paths written on another machine
    (``/content/ds/train/images``, Darknet's ``data/obj/1.jpg``, Roboflow's
    ``../train/images``) are then tried by their trailing parts inside ``root``, down to
    the file name, or to two parts for a folder. Unless ``allow_outside``, only paths inside
    ``root`` count, so that a downloaded dataset cannot pull in files from elsewhere.
    """
    written = written_path(text)
    tried: list[str] = []

    def accept(candidate: Path) -> bool:
        if str(candidate) in tried:
            return False
        if not allow_outside and not inside(candidate, root):
            refused = " (outside the dataset folder: not followed unless allow_outside_root)"
            tried.append(f"{candidate}{refused if candidate.exists() else ''}")
            return False
        tried.append(str(candidate))
        return candidate.exists()

    if written.is_absolute():
        if accept(Path(written)):
            return Path(written), tried
    else:
        for base in bases:
            candidate = Path(os.path.normpath(base / written))
            if accept(candidate):
                return candidate, tried
    parts = [p for p in written.parts if p not in ("/", "..", ".")]
    # A bare folder name (`images`) would match the wrong folder too easily; a file name won't.
    shortest = 1 if PurePosixPath(*parts[-1:]).suffix else 2
    for start in range(max(len(parts) - shortest + 1, 1)):
        candidate = root.joinpath(*parts[start:])
        if accept(candidate):
            return candidate, tried
    return None, tried


def read_lines(path: Path, where: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of a UTF-8 text file, lazily; raise ItemError naming it."""
    with open_text(path, where) as handle:
        number = 0
        try:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise ItemError(
                "yolo.unreadable",
                f"{where}:{number + 1}: not UTF-8 text ({exc.reason}); save it as UTF-8",
            ) from None


def open_text(path: Path, where: str, max_bytes: int = MAX_TEXT_BYTES) -> TextIO:
    """Open a small regular text file safely (no FIFOs, no huge files) as UTF-8 text."""
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
