"""What each entry of a COCO file becomes, for both of the `coco` reader's paths.

:class:`Entries` holds what a read shares between its passes (category names, the boxes
kept so far, problems) and turns one category list, one annotation or one image entry,
given as plain JSON values, into labels, kept boxes, notes and records. The ijson path
(``reader``) hands it every item; the msgspec path (``fast``) handles the common shapes
itself and hands it the others, so both say the same thing about the same file.
"""

from __future__ import annotations

import os
import posixpath
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from osai_import import (
    Box,
    ImageRecord,
    Problem,
    Severity,
    SourceError,
    SourcePath,
    is_inside,
)
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, BoxStore
from osai_import.default_plugins.coco_reader.geometry import (
    BadGeometry,
    bbox_box,
    segmentation_box,
    short,
)
from osai_import.default_plugins.coco_reader.options import CocoOptions

_NOTES_PER_IMAGE = 20  # details kept per image; the rest are counted
_SOURCE_PROBLEMS_PER_CODE = 100


@dataclass
class _Notes:
    """What went wrong with the annotations of one image: a few details and a count."""

    details: list[tuple[str, Severity, str]] = field(default_factory=list)
    total: int = 0

    def add(self, code: str, severity: Severity, detail: str) -> None:
        self.total += 1
        if len(self.details) < _NOTES_PER_IMAGE:
            self.details.append((code, severity, detail))


def item_key(root: Path | SourcePath, path: Path | SourcePath, relative: str) -> str:
    """Return an image's key: its path below the image folder, with ``/``, in NFC."""
    if isinstance(path, SourcePath) and isinstance(root, SourcePath) and path.is_relative_to(root):
        text = path.relative_to(root).as_posix()
    elif isinstance(path, Path) and isinstance(root, Path) and is_inside(root, path):
        text = Path(os.path.relpath(path, root)).as_posix()
    else:
        text = posixpath.normpath(relative)
    return unicodedata.normalize("NFC", text)


def id_key(value: Any) -> str | None:
    """Return the string form of a COCO id (int or non-blank string), None if unusable."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _annotation_name(ann: dict[str, Any], index: int) -> str:
    key = id_key(ann.get("id"))
    return f"annotation {key}" if key is not None else f"annotations[{index}]"


def usable_file_name(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot name a file
        return False
    return True


def _size(value: Any) -> int | Literal[False] | None:
    """Return a positive size, None when unstated (absent, null, 0), False when invalid."""
    if value is None or value == 0:
        return None
    if type(value) is int and value > 0:
        return value
    if type(value) is float and value > 0 and value.is_integer():
        return int(value)
    return False


def absolute(path: Path | SourcePath) -> Path | SourcePath:
    return path if isinstance(path, SourcePath) else Path(os.path.abspath(path))


def _joined(root: Path | SourcePath, relative: str) -> Path | SourcePath:
    """Return the image path a ``file_name`` names below the image folder, normalized."""
    if isinstance(root, SourcePath):
        return root / relative
    return Path(os.path.normpath(os.path.join(root, relative)))


class Entries:
    """One read of a COCO file: what its passes share, and what each entry becomes."""

    def __init__(self, options: CocoOptions) -> None:
        self.options = options
        self.json: Path | SourcePath = absolute(options.path)
        self.root: Path | SourcePath = absolute(options.images or self.json.parent)
        self.names: list[str] = []
        self.category_index: dict[str, int] = {}
        self.store = BoxStore()
        self.notes: dict[str, _Notes] = {}
        self.first_index: dict[str, tuple[int, str]] = {}  # each image id's first place, key
        self.source_problems: list[Problem] = []
        self._per_code: dict[str, int] = {}

    # -- shared ---------------------------------------------------------------------
    def source_problem(self, code: str, severity: Severity, item: str, message: str) -> None:
        """Keep a problem that belongs to no image (a capped number per code)."""
        self._per_code[code] = self._per_code.get(code, 0) + 1
        if self._per_code[code] > _SOURCE_PROBLEMS_PER_CODE:
            return
        self.source_problems.append(Problem(code, severity, f"{self.json}: {message}", item))

    def finish(self) -> None:
        """Add one summary problem per code whose problems were too many to list."""
        for code, count in self._per_code.items():
            if count > _SOURCE_PROBLEMS_PER_CODE:
                severity = next(p.severity for p in self.source_problems if p.code == code)
                self.source_problems.append(Problem(
                    code, severity,
                    f"{self.json}: {count - _SOURCE_PROBLEMS_PER_CODE} more problems like the "
                    "ones above",
                    self.json.name))

    # -- pass 1: categories -----------------------------------------------------------
    def categories(self, categories: Any) -> None:
        """Map every category id to its name; a broken category list stops the read."""
        if categories is None:
            return
        if not isinstance(categories, list):
            raise SourceError(f"{self.json}: `categories` is {short(categories)}; expected a list")
        for index, cat in enumerate(categories):
            where = f"{self.json}: categories[{index}]"
            if not isinstance(cat, dict):
                raise SourceError(f"{where} is {short(cat)}, not an object; fix the file")
            key, name = id_key(cat.get("id")), cat.get("name")
            if key is None:
                raise SourceError(
                    f"{where} has id {short(cat.get('id'))}; expected an integer or a string")
            if not isinstance(name, str) or not name.strip():
                raise SourceError(
                    f"{where} (id {key}) has name {short(name)}; expected a non-empty string")
            if key in self.category_index:
                known = self.names[self.category_index[key]]
                if known != name:
                    raise SourceError(
                        f"{where}: category id {key} is listed twice, as {known!r} and {name!r}; "
                        "keep one of them")
                continue
            self.category_index[key] = len(self.names)
            self.names.append(name)

    # -- pass 2: annotations ----------------------------------------------------------
    def annotation(self, index: int, ann: Any) -> None:
        """Keep the box of annotation ``index`` if it is usable, or note why not."""
        if not isinstance(ann, dict):
            where = f"annotations[{index}]"
            self.source_problem("coco.bad_annotation", Severity.ERROR, where,
                                f"{where} is {short(ann)}, not an object; it was ignored")
            return
        self._annotation(index, ann)

    def _annotation(self, index: int, ann: dict[str, Any]) -> None:
        name = _annotation_name(ann, index)
        image = id_key(ann.get("image_id"))
        if image is None:
            self.source_problem(
                "coco.bad_annotation", Severity.ERROR, name,
                f"{name} has image_id {short(ann.get('image_id'))}; expected an integer or a "
                "string; it was ignored")
            return
        crowd = ann.get("iscrowd", 0)
        if crowd is None:
            crowd = 0
        if type(crowd) not in (int, float, bool) or crowd not in (0, 1):
            self._note(image, "coco.bad_annotation",
                       f"{name} has iscrowd {short(crowd)}; expected 0 or 1")
            return
        if crowd and self.options.iscrowd == "skip":
            return
        category = id_key(ann.get("category_id"))
        if category is None:
            self._note(image, "coco.bad_annotation",
                       f"{name} has category_id {short(ann.get('category_id'))}; expected an id "
                       "from `categories`")
            return
        label = self.category_index.get(category)
        if label is None:
            if not self.names:
                raise SourceError(
                    f"{self.json}: {name} has category_id {category}, but the file has no "
                    "usable `categories` list; add one ([{\"id\": 1, \"name\": \"cat\"}, ...])")
            self._note(image, "coco.unknown_category",
                       f"{name} has category_id {category}, which `categories` does not list")
            return
        try:
            box = self._box(ann)
        except BadGeometry as exc:
            self._note(image, "coco.bad_annotation", f"{name} {exc}")
            return
        if box is None:
            self._note(image, "coco.empty_region",
                       f"{name} has no bbox and an empty RLE mask; it was ignored",
                       Severity.WARNING)
            return
        difficult = bool(crowd) and self.options.iscrowd == "difficult"
        self.store.add(image, label, box, DIFFICULT if difficult else 0)

    @staticmethod
    def _box(ann: dict[str, Any]) -> tuple[float, float, float, float] | None:
        bbox = ann.get("bbox")
        if bbox is not None and bbox != []:
            return bbox_box(bbox)
        segmentation = ann.get("segmentation")
        if segmentation is None or segmentation == [] or segmentation == {}:
            raise BadGeometry("has neither a bbox nor a segmentation")
        return segmentation_box(segmentation)

    def _note(self, image: str, code: str, detail: str,
              severity: Severity = Severity.ERROR) -> None:
        self.notes.setdefault(image, _Notes()).add(code, severity, detail)

    # -- pass 3: images ---------------------------------------------------------------
    def image(self, index: int, entry: Any) -> ImageRecord | None:
        """Return the record of entry ``index`` of `images` (None when it is left out)."""
        first_index = self.first_index
        where = f"images[{index}]"
        if not isinstance(entry, dict):
            return self._broken(where, where, "coco.bad_image",
                                f"{where} is {short(entry)}, not an object")
        raw_id = entry.get("id")
        image_id = id_key(raw_id)
        if image_id is None:
            return self._broken(where, where, "coco.bad_image",
                                f"{where} has id {short(raw_id)}; expected an integer or a string")
        record_boxes = self.store.pop(image_id, self.names)
        notes = self.notes.pop(image_id, None)
        file_name = entry.get("file_name")
        usable = usable_file_name(file_name)
        relative = cast(str, file_name).replace("\\", "/") if usable else ""
        name = unicodedata.normalize("NFC", posixpath.basename(relative))
        path = _joined(self.root, relative) if name else None
        # Items are named by their file, as users know them ("train/0001.jpg"), not by an
        # id that a re-export renumbers; an entry without a usable file_name by its place.
        key = item_key(self.root, path, relative) if path is not None else where
        if image_id in first_index:
            # The first entry's key on purpose: the check step refuses every occurrence of
            # a repeated key, since no one can tell which entry the annotations were for.
            first, first_key = first_index[image_id]
            return self._broken(first_key, name or where, "coco.duplicate_image",
                                f"image id {image_id} is listed again at {where} (first at "
                                f"images[{first}], {first_key}); give every image its own id",
                                path=path)
        first_index[image_id] = (index, key)
        if path is None:
            return self._broken(where, where, "coco.bad_image",
                                f"image {image_id} ({where}) has file_name {short(file_name)}; "
                                "expected a relative path to an image such as train/0001.jpg")
        file_name = cast(str, file_name)
        shown = file_name if len(file_name) <= 200 else file_name[:197] + "..."
        intro = f"{self.json}: image {image_id} ({shown})"
        if not is_inside(self.root, path):
            return self._broken(key, name, "path.outside",
                                f"{intro}: file_name points outside the image folder {self.root}; "
                                "refused (set `images` to a folder that holds it)", path=path)
        problems = self._problems(intro, key, notes)
        sizes: dict[str, int | None] = {}
        for dim in ("width", "height"):
            value = _size(entry.get(dim))
            if value is False:
                problems.append(Problem("coco.bad_size", Severity.WARNING,
                                        f"{intro}: {dim} {short(entry.get(dim))} is not a positive "
                                        "integer; the image header is used instead", key))
                value = None
            sizes[dim] = value
        if self.options.drop_empty and not record_boxes and not problems:
            return None
        # legacy_key: osai-import 0.1 keyed COCO items by id; its journal is read by it.
        return ImageRecord(
            key=key, path=path, name=name, category=self.category_of(record_boxes),
            boxes=record_boxes, width=sizes["width"], height=sizes["height"],
            extras={"coco_image_id": raw_id, "file_name": file_name, "legacy_key": image_id},
            problems=tuple(problems),
        )

    @staticmethod
    def _problems(intro: str, item: str, notes: _Notes | None) -> list[Problem]:
        if notes is None:
            return []
        problems = [Problem(code, severity, f"{intro}: {detail}", item)
                    for code, severity, detail in notes.details]
        if notes.total > len(notes.details):
            problems.append(Problem(
                "coco.bad_annotation", Severity.ERROR,
                f"{intro}: {notes.total - len(notes.details)} more annotation problems", item))
        return problems

    def category_of(self, boxes: tuple[Box, ...]) -> str | None:
        """Return the image-level category the `image_category` option gives these boxes."""
        rule = self.options.image_category
        if rule == "none" or not boxes:
            return None
        if rule == "single":
            labels = {box.label for box in boxes}
            return labels.pop() if len(labels) == 1 else None
        # max() keeps the first of equal areas: the earliest box in the file wins a tie.
        return max(boxes, key=lambda b: max(b.width, 0.0) * max(b.height, 0.0)).label

    def _broken(self, key: str, name: str, code: str, message: str, *,
                path: Path | SourcePath | None = None) -> ImageRecord:
        """Return a record that only carries an error: it names the entry and is never uploaded."""
        if not message.startswith(str(self.json)):
            message = f"{self.json}: {message}"
        return ImageRecord(
            key=key, path=path or self.root / name, name=name,
            problems=(Problem(code, Severity.ERROR, message, key),),
        )

    def report_leftovers(self) -> None:
        """Warn about annotations whose image `images` does not list, then finish."""
        for image, count in self.store.leftovers().items():
            notes = self.notes.pop(image, None)
            total = count + (notes.total if notes else 0)
            self.source_problem(
                "coco.unknown_image", Severity.WARNING, f"image_id {image}",
                f"{total} annotation(s) refer to image_id {image}, which `images` does not "
                "list; they were ignored")
        for image, notes in self.notes.items():
            self.source_problem(
                "coco.unknown_image", Severity.WARNING, f"image_id {image}",
                f"{notes.total} annotation(s) refer to image_id {image}, which `images` does "
                "not list; they were ignored")
        self.notes.clear()
        self.finish()


