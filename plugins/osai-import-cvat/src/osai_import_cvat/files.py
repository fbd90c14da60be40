"""Find files the same way on disk, in an archive and in a bucket: the XML, images, frames."""

from __future__ import annotations

import os
import re
from pathlib import Path

from osai_import import SourceError, SourcePath

Where = Path | SourcePath

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
_DRIVE = re.compile(r"^[A-Za-z]:$")
_DEPTH = 32
_FRAME = re.compile(r"^frame_(\d+)$")


def entries(folder: Where) -> list[tuple[str, str]]:
    """Return a folder's ``(name, "file" or "dir")`` sorted by name, hidden ones left out."""
    found: list[tuple[str, str]] = []
    if isinstance(folder, SourcePath):
        found.extend(folder.entries())
    else:
        with os.scandir(folder) as listing:
            for entry in listing:
                try:
                    kind = "dir" if entry.is_dir() else "file"
                except OSError:
                    continue
                found.append((entry.name, kind))
    return sorted((name, kind) for name, kind in found if not name.startswith("."))


def find_xml(path: Where) -> Where:
    """Return the XML ``path`` names: itself, or the ``annotations.xml`` (or only .xml) in it."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder; check `source.path` in the config")
    if (path / "annotations.xml").is_file():
        return path / "annotations.xml"
    xmls = [n for n, kind in entries(path) if kind == "file" and n.lower().endswith(".xml")]
    if len(xmls) == 1:
        return path / xmls[0]
    found = f"several XML files ({', '.join(xmls)})" if xmls else "no annotations.xml"
    raise SourceError(
        f"{path}: {found}; point `source.path` at the CVAT XML file itself"
    )


def images_root(xml: Where, given: Where | None) -> Where:
    """Return the images folder: ``given``, else ``images/`` beside the XML, else its folder."""
    if given is not None:
        if not given.is_dir():
            raise SourceError(
                f"{given}: no such folder (or archive); check `source.images` in the config"
            )
        return given
    beside = xml.parent / "images"
    return beside if beside.is_dir() else xml.parent


def confine(name: str) -> tuple[list[str], bool]:
    """Return the parts of an image ``name`` kept inside the images folder, and whether it left.

    An absolute name or one whose ``..`` climbs above the folder is looked for inside
    it: ``/data/a.jpg`` as ``data/a.jpg``, ``../a.jpg`` as ``a.jpg``.
    """
    parts: list[str] = []
    outside = name.startswith("/")
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            else:
                outside = True
            continue
        if not parts and _DRIVE.match(part):
            outside = True
            continue
        parts.append(part)
    return parts, outside


def frame_number(name: str) -> int | None:
    """Return N for an image named ``frame_00000N.<image suffix>``, None for other names."""
    stem, suffix = os.path.splitext(name)
    found = _FRAME.match(stem)
    if found is None or suffix.lower() not in IMAGE_SUFFIXES:
        return None
    return int(found.group(1))


def walk_images(folder: Where) -> list[tuple[str, Where]]:
    """Return ``(path relative to folder, path)`` of every image below ``folder``.

    They come sorted by their relative path as a string, the order CVAT's default
    ("lexicographical") sorting gives a task's images, so ``a.jpg`` comes before ``a/b.jpg``.
    """
    found: list[tuple[str, Where]] = []
    pending: list[tuple[str, Where]] = [("", folder)]
    while pending:
        prefix, here = pending.pop()
        for name, kind in entries(here):
            if kind == "dir":
                if prefix.count("/") >= _DEPTH:
                    continue  # a link loop on disk, not a task's folders
                pending.append((f"{prefix}{name}/", here / name))
            elif os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                found.append((f"{prefix}{name}", here / name))
    found.sort(key=lambda item: item[0])
    return found
