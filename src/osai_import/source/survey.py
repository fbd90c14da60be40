"""A bounded look at a folder tree, for readers that detect their layout: ``survey``.

Detecting a layout must be cheap on any dataset: a folder of a million images is judged
from the first few thousand names, never walked whole. ``survey`` lists a tree breadth
first (so the top-level marker files come first: ``data.yaml``, ``annotations/``), each
folder's names sorted, hidden ones left out, and stops at a number of entries or a depth.
It works the same on a local folder, in an archive and in a bucket (one listing per
folder), and never raises: a folder it cannot list is noted in ``unreadable``.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from osai_import.location import SourcePath

IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".jfif", ".jpe",
})
"""File suffixes (lower case) that name images, for readers judging a layout."""


@dataclass(frozen=True)
class Survey:
    """What ``survey`` saw below ``root``: files and folders as relative posix paths.

    ``complete`` is False when the limit or the depth cut the walk short: what was not
    listed may still hold anything.
    """

    root: Path | SourcePath
    files: tuple[str, ...]
    dirs: tuple[str, ...]
    complete: bool
    unreadable: tuple[str, ...] = ()
    _suffixes: Counter[str] = field(default_factory=Counter, repr=False, compare=False)

    def path(self, relative: str) -> Path | SourcePath:
        """Return the path of a listed file or folder."""
        return self.root / relative if relative else self.root

    def named(self, *patterns: str) -> list[str]:
        """Return the listed files whose name (not its folders) matches a pattern, in order.

        Patterns are matched in lower case (``*.json``, ``data.y*ml``).
        """
        return [f for f in self.files
                if any(fnmatch.fnmatchcase(posixpath.basename(f).lower(), p) for p in patterns)]

    def images(self) -> list[str]:
        """Return the listed files that look like images (by suffix), in order."""
        return [f for f in self.files if _suffix(f) in IMAGE_SUFFIXES]

    def suffixes(self) -> Counter[str]:
        """Return how many listed files have each suffix (lower case, with its dot)."""
        if not self._suffixes:
            self._suffixes.update(_suffix(f) for f in self.files)
        return self._suffixes

    def has_dir(self, relative: str) -> bool:
        """Tell whether a folder was listed at ``relative`` (case-sensitive)."""
        return relative in self.dirs

    def folders_holding(self, names: Iterable[str]) -> Counter[str]:
        """Return the folders (relative, ``""`` for the root) that hold the given files.

        ``names`` are relative paths as a manifest writes them (``a.jpg``,
        ``train/a.jpg``); a folder counts once for each name found below it with that
        relative path. The most common folder is where the manifest's paths start from.
        """
        listed = set(self.files)
        found: Counter[str] = Counter()
        for name in names:
            clean = posixpath.normpath(name.replace("\\", "/").lstrip("/"))
            if clean.startswith("../") or clean in (".", ".."):
                continue
            for file in listed:
                if file == clean:
                    found[""] += 1
                elif file.endswith("/" + clean):
                    found[file[: -len(clean) - 1]] += 1
        return found

    def top_dirs(self) -> list[str]:
        """Return the folders directly below the root, sorted."""
        return [d for d in self.dirs if "/" not in d]


def _suffix(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def survey(root: Path | SourcePath, *, limit: int = 5000, depth: int = 6) -> Survey:
    """List ``root``'s tree breadth first, up to ``limit`` entries and ``depth`` levels.

    ``root`` is a local folder or a ``SourcePath`` folder. Hidden names (``.git``) are
    left out; a local symbolic link to a folder is listed as a folder but not entered
    (a link loop must not cost the limit).
    """
    files: list[str] = []
    dirs: list[str] = []
    unreadable: list[str] = []
    complete = True
    queue: deque[tuple[str, int]] = deque([("", 0)])
    seen = 0
    while queue:
        relative, level = queue.popleft()
        folder = root / relative if relative else root
        try:
            entries = _entries(folder)
        except OSError:
            unreadable.append(relative or ".")
            continue
        for name, kind, enter in entries:
            if name.startswith("."):
                continue
            if seen >= limit:
                return Survey(root, tuple(files), tuple(dirs), False, tuple(unreadable))
            seen += 1
            child = f"{relative}/{name}" if relative else name
            if kind == "dir":
                dirs.append(child)
                if level + 1 < depth and enter:
                    queue.append((child, level + 1))
                elif enter:
                    complete = False
            elif kind == "file":
                files.append(child)
    return Survey(root, tuple(files), tuple(dirs), complete, tuple(unreadable))


def _entries(folder: Path | SourcePath) -> list[tuple[str, str, bool]]:
    """Return ``(name, kind, enter)`` of a folder's entries, sorted by name."""
    if isinstance(folder, SourcePath):
        return [(name, kind, True) for name, kind in folder.entries()]
    found = []
    with os.scandir(folder) as listing:
        for entry in listing:
            try:
                if entry.is_dir():
                    found.append((entry.name, "dir", not entry.is_symlink()))
                elif entry.is_file():
                    found.append((entry.name, "file", False))
            except OSError:
                continue
    return sorted(found)
