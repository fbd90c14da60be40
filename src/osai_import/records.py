"""The items of the record stream: ImageRecord, Box and Problem.

Coordinate convention (the one every reader converts to and every encoder reads):
boxes are in absolute pixels of the image as stored on disk (before any EXIF rotation),
with the origin at the top-left corner, x growing to the right and y downwards.
``xmin``/``ymin`` are the left/top edges and ``xmax``/``ymax`` the right/bottom edges,
so ``width = xmax - xmin``. Values are floats and keep the source's precision: COCO's
``[x, y, w, h]`` becomes ``(x, y, x + w, y + h)`` and Pascal VOC numbers are kept as
written (no 1-based shift). Rounding to whole pixels happens only in encoders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from osai_import.location import SourcePath

_PATH = type(Path())  # the concrete class Path() makes on this system
_new = object.__new__
_set = object.__setattr__


class Severity(str, Enum):  # noqa: UP042 - a StrEnum would change str() and format() of values
    """How bad a problem is: errors keep an item from being uploaded."""

    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found with one item, under a stable code such as ``image.missing``."""

    code: str
    severity: Severity
    message: str
    item: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the problem as JSON-ready data for reports."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "item": self.item,
            "message": self.message,
        }

    def __reduce_ex__(self, protocol: Any) -> Any:
        # The dataclass default pickles through fields(), slow for millions of items; a
        # subclass, which may add fields, keeps it.
        if type(self) is not Problem:
            return object.__reduce_ex__(self, protocol)
        return (Problem, (self.code, self.severity, self.message, self.item))


@dataclass(frozen=True, slots=True)
class Box:
    """One bounding box in absolute pixels (see the module docstring for the convention)."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False
    truncated: bool = False
    occluded: bool = False
    pose: str = "Unspecified"

    def __post_init__(self) -> None:
        for name in ("xmin", "ymin", "xmax", "ymax"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Box.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"Box.{name} must be finite, got {value!r}")

    def __reduce_ex__(self, protocol: Any) -> Any:
        # The dataclass default pickles through fields(), slow for millions of boxes; a
        # subclass, which may add fields, keeps it.
        if type(self) is not Box:
            return object.__reduce_ex__(self, protocol)
        return (
            _rebuild_box,
            (
                self.label, self.xmin, self.ymin, self.xmax, self.ymax, self.difficult,
                self.truncated, self.occluded, self.pose,
            ),
        )

    @property
    def width(self) -> float:
        """Return ``xmax - xmin``."""
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        """Return ``ymax - ymin``."""
        return self.ymax - self.ymin


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image of a source, as every reader yields it and every encoder reads it.

    ``key`` is stable across runs and unique within its source (the journal relies on
    it to resume). ``path`` is where the image bytes are: a ``pathlib.Path`` for a local
    file, a ``SourcePath`` inside an archive or a bucket (a string is taken as local).
    ``name`` is the file name the image gets on the server. ``category`` is the optional
    image-level class.
    ``width``/``height``/``depth`` are known when the source states them; the check
    step fills them from the image header otherwise. ``extras`` carries reader-specific
    details (for instance the COCO image id) into reports; ``problems`` carries what the
    reader itself noticed about this item.
    """

    key: str
    path: Path | SourcePath
    name: str
    category: str | None = None
    boxes: tuple[Box, ...] = ()
    width: int | None = None
    height: int | None = None
    depth: int | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    problems: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("ImageRecord.key must not be empty")
        if not self.name:
            raise ValueError(f"ImageRecord {self.key!r}: name must not be empty")
        # Accept strings, lists and plain dicts from plugins; store immutable versions. The
        # exact-type tests skip building again what already is one (Path() parses anew).
        if type(self.path) is not _PATH and not isinstance(self.path, SourcePath):
            _set(self, "path", Path(self.path))
        if type(self.boxes) is not tuple:
            _set(self, "boxes", tuple(self.boxes))
        if type(self.problems) is not tuple:
            _set(self, "problems", tuple(self.problems))
        if not isinstance(self.extras, MappingProxyType):
            _set(self, "extras", _frozen_mapping(self.extras))

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy cannot be pickled; the plan stores records on disk between phases.
        # A local path travels as its text: a pickled Path is rebuilt from its parts, slower.
        path = self.path if isinstance(self.path, SourcePath) else str(self.path)
        return (
            _rebuild_record,
            (
                self.key, path, self.name, self.category, self.boxes, self.width,
                self.height, self.depth, dict(self.extras), self.problems,
            ),
        )

    @property
    def labels(self) -> set[str]:
        """Return every category name this record refers to (image-level and boxes)."""
        names = {box.label for box in self.boxes if box.label}
        if self.category:
            names.add(self.category)
        return names


# Unpickling sets the fields of a record or box that was checked when it was first built,
# without running the checks (or the conversions) of __post_init__ again.

_BOX_FIELDS = (
    "label", "xmin", "ymin", "xmax", "ymax", "difficult", "truncated", "occluded", "pose"
)
_RECORD_FIELDS = (
    "key", "path", "name", "category", "boxes", "width", "height", "depth", "extras", "problems"
)


def _rebuild_box(*values: Any) -> Box:
    box = _new(Box)
    for name, value in zip(_BOX_FIELDS, values, strict=True):
        _set(box, name, value)
    return box


def _rebuild_record(*values: Any) -> ImageRecord:
    record = _new(ImageRecord)
    for name, value in zip(_RECORD_FIELDS, values, strict=True):
        _set(record, name, value)
    if not isinstance(record.path, SourcePath):
        _set(record, "path", Path(record.path))
    _set(record, "extras", MappingProxyType(record.extras))
    return record
