"""Find a Pascal VOC folder's parts and read its split lists (``ImageSets/Main/<split>.txt``).

The folder may be local, or in an archive or a bucket (a ``SourcePath``). Local files are
asked about one by one, which the OS answers at once; a stored folder is listed once
(``Files``) and every question about a file in it is answered from that listing.
"""

from __future__ import annotations

import fnmatch
import io
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from osai_import import ItemError, SourceError, SourcePath, read_all
from osai_import_voc.roles import Held, count, suggestion

MAX_LIST_BYTES = 256 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".Jpg", ".bmp", ".webp")

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
                    f"{folder}: cannot list the folder: {exc.strerror or exc}"
                ) from None
        self._listed[folder] = found
        return found

    def is_dir(self, path: Dir) -> bool:
        """Tell whether ``path`` is a folder."""
        if isinstance(path, SourcePath):
            return self.listing(path) is not None
        return path.is_dir()

    def is_file(self, path: Dir) -> bool:
        """Tell whether ``path`` is a file."""
        if isinstance(path, SourcePath):
            listed = self.listing(path.parent)
            return listed is not None and listed.get(path.name) == "file"
        return path.is_file()

    def names(self, folder: Dir) -> list[str]:
        """Return the sorted names of the entries of ``folder`` (its iterdir)."""
        if isinstance(folder, SourcePath):
            return sorted(self.listing(folder) or {})
        return sorted(p.name for p in folder.iterdir())


@dataclass(frozen=True)
class VocFolder:
    """Where a VOC dataset's annotations, images and split lists are."""

    root: Dir
    annotations: Dir
    images: Dir
    lists: dict[str, Dir]  # split name -> ImageSets/Main/<split>.txt
    files: Files = field(default_factory=Files)


def find(path: Dir, annotations: str, images: str, given: frozenset[str] = frozenset()
         ) -> VocFolder:
    """Return the VOC folder at ``path`` (or at its only ``VOC*`` child, as in VOCdevkit/).

    ``given`` names the folder options the config sets (``annotations``, ``images``): a
    folder set there that does not exist stops the read at once. A default one that does
    not exist stops it too when another folder looks like it (its name is then
    suggested); else the read goes on, each item saying what it lacks.
    """
    files = Files()
    if not files.is_dir(path):
        raise SourceError(
            f"{path}: no such folder; set source.path to the VOC folder (the one holding "
            f"{annotations}/ and {images}/)"
        )
    root = path
    if not files.is_dir(path / annotations) and not files.is_dir(path / images):
        inner = sorted(
            path / name for name in files.names(path) if files.is_dir(path / name / annotations)
        )
        if len(inner) != 1:
            found = f" (found {', '.join(p.name for p in inner)}: pick one)" if inner else ""
            hint = "" if inner else suggestion(held_below(path, files), annotations, images)
            raise SourceError(
                f"{path}: not a Pascal VOC folder: no {annotations}/ or {images}/ in it{found}; "
                + (f"{hint}" if hint else "set source.path to the folder that holds them")
            )
        root = inner[0]
    for option, name in (("annotations", annotations), ("images", images)):
        if files.is_dir(root / name):
            continue
        hint = suggestion(held_below(root, files), annotations, images)
        if option in given or hint:
            raise SourceError(
                f"{root}: no {option} folder {name}/ (source.{option}"
                f"{'' if option in given else ', by default'}); "
                + (hint or f"set source.{option} to the folder that holds them")
            )
    return VocFolder(
        root,
        root / annotations,
        root / images,
        split_lists(root / "ImageSets" / "Main", files),
        files,
    )


def held_below(root: Dir, files: Files, limit: int = 64) -> dict[str, Held]:
    """Return what ``root`` (as ``"."``) and its first ``limit`` sub-folders hold."""
    names = files.names(root)
    held = {".": count([n for n in names if files.is_file(root / n)])}
    for name in [n for n in names if not n.startswith(".") and files.is_dir(root / n)][:limit]:
        try:
            held[name] = count(files.names(root / name))
        except OSError:
            continue  # an unreadable folder holds nothing to suggest
    return held


def split_lists(main: Dir, files: Files | None = None) -> dict[str, Dir]:
    """Return ``{split: path}`` for the split lists of ``ImageSets/Main``, by name.

    ``<class>_<split>.txt`` files (two columns, ``id 1``/``id -1``) are per-class lists of
    the same split and are not splits themselves (``train_train.txt`` is class ``train``).
    """
    files = files or Files()
    if not files.is_dir(main):
        return {}
    if isinstance(main, SourcePath):
        # pathlib's glob, dot files included, from the one listing.
        found: list[Dir] = [
            main / name for name in files.names(main) if fnmatch.fnmatchcase(name, "*.txt")
        ]
    else:
        found = sorted(main.glob("*.txt"))
    by_stem = {p.stem: p for p in found if files.is_file(p)}
    classes = [f for stem, f in by_stem.items() if _maybe_class_list(stem, by_stem)]
    # A devkit has a class list per class and split (80 in VOC2012): fetched at once.
    stored = [f for f in classes if isinstance(f, SourcePath)]
    fetched: dict[Dir, bytes | OSError | SourceError] = dict(
        zip(stored, read_all(stored), strict=True)
    )
    lists: dict[str, Dir] = {}
    for stem, file in by_stem.items():
        if _maybe_class_list(stem, by_stem) and _two_columns(file, fetched.get(file)):
            continue
        lists[stem] = file
    return lists


def _maybe_class_list(stem: str, by_stem: dict[str, Dir]) -> bool:
    head, sep, tail = stem.rpartition("_")
    return bool(sep and head and tail in by_stem)


def _two_columns(path: Dir, data: bytes | OSError | SourceError | None) -> bool:
    lines = read_lines(path, str(path)) if data is None else _lines_in(data, str(path))
    for _number, text in lines:
        tokens = text.split()
        if tokens and not tokens[0].startswith("#"):
            return len(tokens) == 2 and tokens[1].lstrip("-").isdigit()
    return False


def read_lines(path: Dir, where: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of a split list, lazily; raise SourceError naming it."""
    if isinstance(path, SourcePath):
        yield from _stored_lines(path, where)
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SourceError(f"{where}: cannot read the split list: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_LIST_BYTES:
        os.close(fd)
        raise SourceError(f"{where}: not a regular text file of a sensible size; fix or remove it")
    with os.fdopen(fd, "r", encoding="utf-8-sig", errors="strict") as handle:
        yield from _numbered(handle, where)


def _stored_lines(path: SourcePath, where: str) -> Iterator[tuple[int, str]]:
    """Do ``read_lines``' work for a list in an archive or a bucket, streaming it."""
    try:
        info = path.stat()
    except OSError as exc:
        raise SourceError(f"{where}: cannot read the split list: {exc.strerror or exc}") from None
    if info.kind != "file" or info.size > MAX_LIST_BYTES:
        raise SourceError(f"{where}: not a regular text file of a sensible size; fix or remove it")
    try:
        with path.open("r", encoding="utf-8-sig", errors="strict") as handle:
            yield from _numbered(handle, where)
    except OSError as exc:
        # A bucket's connection may fail halfway; a local read of a regular file does not.
        raise SourceError(f"{where}: cannot read the split list: {exc.strerror or exc}") from None


def _lines_in(data: bytes | OSError | SourceError, where: str) -> Iterator[tuple[int, str]]:
    """Yield the lines of a list already fetched, as ``read_lines`` yields a file's."""
    if isinstance(data, OSError):
        raise SourceError(f"{where}: cannot read the split list: {data.strerror or data}")
    if isinstance(data, SourceError):
        raise data
    if len(data) > MAX_LIST_BYTES:
        raise SourceError(f"{where}: not a regular text file of a sensible size; fix or remove it")
    # The same decoder as a file opened in text mode: same lines, same errors.
    yield from _numbered(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig"), where)


def _numbered(handle: Iterable[str], where: str) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, line in enumerate(handle, 1):
            yield number, line.strip()
    except UnicodeDecodeError:
        raise SourceError(f"{where}:{number + 1}: not UTF-8 text; save the file as UTF-8") from None


def safe_id(text: str, where: str) -> str:
    """Return an item id from a split list; refuse ones that would leave the dataset folder."""
    written = PurePosixPath(text.replace("\\", "/"))
    if written.is_absolute() or ".." in written.parts or text.startswith("~") or "\x00" in text:
        raise ItemError(
            "voc.bad_id", f"{where}: id {text!r} leads outside the dataset folder; fix the line"
        )
    return written.as_posix()


def image_for(
    images: Dir, item_id: str, filename: str | None, files: Files | None = None
) -> tuple[Dir | None, list[str]]:
    """Return an item's image (``<id>.<ext>``, else the XML's ``<filename>``) and names tried."""
    files = files or Files()
    stem = images / item_id
    tried = [stem.name + suffix for suffix in IMAGE_SUFFIXES]
    for name in tried:
        if files.is_file(stem.parent / name):
            return stem.parent / name, tried
    plain = (
        filename
        and "/" not in filename
        and "\\" not in filename
        and filename not in (".", "..", *tried)
    )
    if plain:
        assert filename is not None
        tried.append(filename)
        if files.is_file(stem.parent / filename):
            return stem.parent / filename, tried
    return None, tried
