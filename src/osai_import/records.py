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


class Severity(str, Enum):
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
    it to resume). ``path`` is where the image bytes are. ``name`` is the file name the
    image gets on the server. ``category`` is the optional image-level class.
    ``width``/``height``/``depth`` are known when the source states them; the check
    step fills them from the image header otherwise. ``extras`` carries reader-specific
    details (for instance the COCO image id) into reports; ``problems`` carries what the
    reader itself noticed about this item.
    """

    key: str
    path: Path
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
        # Accept lists and plain dicts from plugins; store immutable versions.
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "boxes", tuple(self.boxes))
        object.__setattr__(self, "problems", tuple(self.problems))
        if not isinstance(self.extras, MappingProxyType):
            object.__setattr__(self, "extras", _frozen_mapping(self.extras))

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy cannot be pickled; the plan stores records on disk between phases.
        return (
            _rebuild_record,
            (
                self.key, self.path, self.name, self.category, self.boxes, self.width,
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


def _rebuild_record(*args: Any) -> ImageRecord:
    return ImageRecord(*args)
