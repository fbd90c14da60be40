"""Find a Pascal VOC folder's parts and read its split lists (``ImageSets/Main/<split>.txt``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from osai_import import ItemError, SourceError

MAX_LIST_BYTES = 256 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".Jpg", ".bmp", ".webp")


@dataclass(frozen=True)
class VocFolder:
    """Where a VOC dataset's annotations, images and split lists are."""

    root: Path
    annotations: Path
    images: Path
    lists: dict[str, Path]  # split name -> ImageSets/Main/<split>.txt


def find(path: Path, annotations: str, images: str) -> VocFolder:
    """Return the VOC folder at ``path`` (or at its only ``VOC*`` child, as in VOCdevkit/)."""
    if not path.is_dir():
        raise SourceError(
            f"{path}: no such folder; set source.path to the VOC folder (the one holding "
            f"{annotations}/ and {images}/)"
        )
    root = path
    if not (path / annotations).is_dir() and not (path / images).is_dir():
        inner = sorted(p for p in path.iterdir() if (p / annotations).is_dir())
        if len(inner) != 1:
            found = f" (found {', '.join(p.name for p in inner)}: pick one)" if inner else ""
            raise SourceError(
                f"{path}: not a Pascal VOC folder: no {annotations}/ or {images}/ in it{found}; "
                "set source.path to the folder that holds them"
            )
        root = inner[0]
    return VocFolder(
        root, root / annotations, root / images, split_lists(root / "ImageSets" / "Main")
    )


def split_lists(main: Path) -> dict[str, Path]:
    """Return ``{split: path}`` for the split lists of ``ImageSets/Main``, by name.

    ``<class>_<split>.txt`` files (two columns, ``id 1``/``id -1``) are per-class lists of
    the same split and are not splits themselves (``train_train.txt`` is class ``train``).
    """
    if not main.is_dir():
        return {}
    files = {p.stem: p for p in sorted(main.glob("*.txt")) if p.is_file()}
    lists: dict[str, Path] = {}
    for stem, file in files.items():
        head, sep, tail = stem.rpartition("_")
        if sep and head and tail in files and _two_columns(file):
            continue
        lists[stem] = file
    return lists


def _two_columns(path: Path) -> bool:
    for _number, text in read_lines(path, str(path)):
        tokens = text.split()
        if tokens and not tokens[0].startswith("#"):
            return len(tokens) == 2 and tokens[1].lstrip("-").isdigit()
    return False


def read_lines(path: Path, where: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of a split list, lazily; raise SourceError naming it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SourceError(f"{where}: cannot read the split list: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_LIST_BYTES:
        os.close(fd)
        raise SourceError(f"{where}: not a regular text file of a sensible size; fix or remove it")
    with os.fdopen(fd, "r", encoding="utf-8-sig", errors="strict") as handle:
        number = 0
        try:
            for number, line in enumerate(handle, 1):
                yield number, line.strip()
        except UnicodeDecodeError:
            raise SourceError(
                f"{where}:{number + 1}: not UTF-8 text; save the file as UTF-8"
            ) from None


def safe_id(text: str, where: str) -> str:
    """Return an item id from a split list; refuse ones that would leave the dataset folder."""
    written = PurePosixPath(text.replace("\\", "/"))
    if written.is_absolute() or ".." in written.parts or text.startswith("~") or "\x00" in text:
        raise ItemError(
            "voc.bad_id", f"{where}: id {text!r} leads outside the dataset folder; fix the line"
        )
    return written.as_posix()


def image_for(images: Path, item_id: str, filename: str | None) -> tuple[Path | None, list[str]]:
    """Return an item's image (``<id>.<ext>``, else the XML's ``<filename>``) and names tried."""
    stem = images / item_id
    tried = [stem.name + suffix for suffix in IMAGE_SUFFIXES]
    for name in tried:
        if (stem.parent / name).is_file():
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
        if (stem.parent / filename).is_file():
            return stem.parent / filename, tried
    return None, tried
