"""List a folder once, in little memory, and tell what kind each entry is."""

from __future__ import annotations

import bisect
import os
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["dir", "file", "link", "other"]


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC (file names typed on macOS are NFD)."""
    return unicodedata.normalize("NFC", text)


def printable(text: str) -> str:
    """Return a file name as text any report can hold: undecodable bytes escaped."""
    # File names that are not valid UTF-8 reach Python as surrogate escapes, which no
    # JSON report, journal or HTTP request can carry; show their bytes instead.
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: Kind


class Listing:
    """One folder's entries sorted by name, in little memory: a class folder can hold
    tens of thousands of files, and sorting needs them all. Only the names are kept, with
    the kinds of the few entries that are not regular files; sidecars are found by
    bisecting the names."""

    __slots__ = ("_names", "_sidecars", "_special")

    def __init__(self, names: list[str], special: dict[str, Kind], sidecars: bool) -> None:
        self._names = names
        self._special = special
        self._sidecars = sidecars

    def entries(self) -> Iterator[Entry]:
        """Yield the entries in name order."""
        special = self._special
        for name in self._names:
            yield Entry(name, special.get(name, "file"))

    def get(self, stem: str) -> list[Entry] | None:
        """Return the ``stem.xml`` entries, any spelling of ``xml``, folders left out."""
        if not self._sidecars:
            return None
        names, prefix = self._names, stem + "."
        # Every name that starts with the prefix sits in one run of the sorted names.
        index = bisect.bisect_left(names, prefix)
        found = []
        while index < len(names) and names[index].startswith(prefix):
            name = names[index]
            kind = self._special.get(name, "file")
            if name[len(prefix):].lower() == "xml" and kind != "dir":
                found.append(Entry(name, kind))
            index += 1
        return found or None


def child_path(folder: str, name: str) -> str:
    """Return ``str(Path(folder) / name)`` for a Path's text, without parsing a Path again."""
    if folder == ".":
        return name
    # Of a Path's texts only a root ("/", "//") ends with a slash.
    return folder + name if folder.endswith("/") else f"{folder}/{name}"


def target_kind(path: Path) -> Kind:
    """Return the kind of what a symbolic link points at (a broken link counts as a file)."""
    try:
        info = os.stat(path)
    except OSError:
        return "file"  # a broken link: the check step reports the missing file
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(info.st_mode) else "other"


def first_visit(folder: Path, seen: set[tuple[int, int]]) -> bool:
    """Tell whether ``folder`` is met for the first time, noting it in ``seen``."""
    # Followed links can reach a folder twice or loop forever; each folder is read once.
    try:
        info = os.stat(folder)
    except OSError:
        return False
    ident = (info.st_dev, info.st_ino)
    if ident in seen:
        return False
    seen.add(ident)
    return True


def entry_kind(entry: os.DirEntry[str]) -> Kind:
    """Return the kind of a directory entry, without following a link."""
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "dir"
        return "file" if entry.is_file(follow_symlinks=False) else "other"
    except OSError:
        return "other"
