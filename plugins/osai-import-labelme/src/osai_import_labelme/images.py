"""Find the image of one LabelMe file: the file ``imagePath`` names, or its ``imageData``.

Order: the file ``imagePath`` names, relative to the JSON file (inside the dataset
folder unless ``allow_outside_root``); else a file of that base name beside the JSON
(``imagePath`` written on another machine: a warning says so); else the image embedded
as ``imageData``, decoded only when read. ``prefer_embedded`` puts ``imageData`` first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from osai_import import Problem, Severity, SourcePath, embedded_image
from osai_import_labelme.document import Document
from osai_import_labelme.files import Dir, Tree, written_path

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)


@dataclass
class Image:
    """Where one LabelMe file's image is, the name it gets, and what was noticed."""

    path: Dir
    name: str
    source: str
    """``file``, ``embedded`` or ``missing``."""
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Looked:
    """The places looked at for an image: the paths, and how messages show them."""

    paths: list[Dir] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, path: Dir, text: str) -> None:
        self.paths.append(path)
        self.texts.append(text)


def find_image(
    tree: Tree,
    json_path: Dir,
    key: str,
    document: Document,
    *,
    allow_outside: bool,
    prefer_embedded: bool,
) -> Image:
    """Return the image of the LabelMe file ``json_path`` (``key`` names it in messages)."""
    written = document.image_path
    base = written_path(written)[0].name if written else ""
    if document.embedded_suffix is not None and prefer_embedded:
        return _embedded(json_path, document, base)
    looked = _Looked()
    found = _written(tree, json_path, written, looked, allow_outside) if written else None
    if found is not None:
        return Image(found, found.name, "file")
    beside = json_path.parent / base if _usable_name(base) else None
    if beside is not None and beside not in looked.paths:
        if _is_image_file(tree, beside, json_path):
            note = Problem(
                "labelme.path_fixed",
                Severity.WARNING,
                f"{key}: imagePath {written!r} was not found ({'; '.join(looked.texts)}); "
                f"used {_shown(tree, beside)} beside the JSON file",
                key,
            )
            return Image(beside, beside.name, "file", [note])
        looked.add(beside, _shown(tree, beside))
    if document.embedded_suffix is not None:
        return _embedded(json_path, document, base)
    name = base if _usable_name(base) else f"{json_path.stem}.jpg"
    problem = Problem(
        "labelme.image_missing",
        Severity.ERROR,
        f"{key}: no image: imagePath {written!r} was not found (looked at "
        f"{'; '.join(looked.texts) or 'nothing: imagePath is empty'}) and the file has no "
        "imageData; put the image where imagePath says, or save the JSON in LabelMe with "
        "the image data",
        key,
    )
    # Pointed at a place inside the dataset, so that the check never opens a file outside.
    return Image(json_path.parent / name, name, "missing", [problem])


def _written(
    tree: Tree, json_path: Dir, written: str, looked: _Looked, allow_outside: bool
) -> Dir | None:
    """Return the file ``imagePath`` names if it may be used, noting each place looked at."""
    path, absolute = written_path(written)
    if absolute:
        if isinstance(tree.root, SourcePath):
            looked.texts.append(f"{written} (an absolute path: looked for beside the JSON only)")
            return None
        candidate: Dir = Path(os.path.normpath(path))
    else:
        candidate = tree.joined(json_path.parent, path)
    if not tree.inside(candidate) and not allow_outside:
        exists = isinstance(candidate, Path) and candidate.is_file()
        refused = " (outside the dataset folder: followed only with allow_outside_root)"
        looked.add(candidate, f"{candidate}{refused if exists else ''}")
        return None
    looked.add(candidate, _shown(tree, candidate))
    return candidate if _is_image_file(tree, candidate, json_path) else None


def _embedded(json_path: Dir, document: Document, base: str) -> Image:
    """Return the image held as base64 in ``imageData``, named without decoding it."""
    if _usable_name(base) and PurePosixPath(base).suffix.lower() in IMAGE_SUFFIXES:
        name = base
    else:
        # imagePath is absent, or names no image (LabelMe's tutorial names the JSON
        # itself): the JSON's stem, with the suffix of the format the data starts with.
        name = json_path.stem + (document.embedded_suffix or "")
    if not _usable_name(name):
        name = "image" + (document.embedded_suffix or "")
    return Image(embedded_image(json_path, ["imageData"], name), name, "embedded")


def _is_image_file(tree: Tree, path: Dir, json_path: Dir) -> bool:
    # The JSON file itself is never its own image, whatever imagePath says.
    return path != json_path and path.suffix.lower() != ".json" and tree.is_file(path)


def _usable_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\x00" not in name


def _shown(tree: Tree, path: Dir) -> str:
    """Return how messages show a place looked at: relative to the dataset when inside."""
    return tree.key(path) if tree.inside(path) else str(path)
