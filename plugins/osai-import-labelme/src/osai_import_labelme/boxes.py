"""Turn the shapes of one LabelMe file into boxes, by the options' per-type policies.

Every shape ends up somewhere: a box, a named problem of the item (skipped, refused,
degenerate, unreadable), or the count of labels left out by the options (reported once
for the whole source).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from osai_import import Box, Problem, Severity
from osai_import_labelme.options import LabelmeOptions
from osai_import_labelme.shapes import BadShape, Bounds, Shape, bounds, read_shape

_SHOWN = 5  # shapes listed by name in one problem; the rest are counted

# code: (severity, what the listed shapes are, what happened to them)
_MESSAGES: dict[str, tuple[Severity, str, str]] = {
    "labelme.bad_shape": (
        Severity.ERROR, "cannot be read", "fix them in LabelMe or in the file"),
    "labelme.shape_refused": (
        Severity.ERROR, "have a type set to `error` in source.shapes",
        "set that type to box or skip to upload the image"),
    "labelme.shape_skipped": (
        Severity.WARNING, "have a type set to `skip` in source.shapes",
        "left out; set that type to box to upload them as their bounding box"),
    "labelme.degenerate": (
        Severity.WARNING, "have no area (zero width or height, or an empty mask)",
        "left out"),
}


@dataclass
class _Object:
    """One box to be: the shapes it is made of (several when merged by group_id)."""

    label: str
    bounds: Bounds
    shapes: list[Shape]

    def grow(self, shape: Shape, more: Bounds) -> None:
        self.shapes.append(shape)
        self.bounds = (
            min(self.bounds[0], more[0]),
            min(self.bounds[1], more[1]),
            max(self.bounds[2], more[2]),
            max(self.bounds[3], more[3]),
        )


@dataclass
class Boxes:
    """What one file's shapes became: boxes, their details (for ``extras``), problems."""

    boxes: list[Box] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def shape_boxes(
    shapes: list[Any], options: LabelmeOptions, key: str, left_out: Counter[str]
) -> Boxes:
    """Return the boxes of a file's ``shapes``; count labels left out in ``left_out``.

    ``key`` names the file in messages. Shapes sharing a label and a ``group_id`` become
    one box around all of them under ``groups: merge``.
    """
    found: dict[str, list[str]] = {}
    objects: list[_Object] = []
    groups: dict[tuple[str, int | str], _Object] = {}
    for index, raw in enumerate(shapes):
        try:
            shape = read_shape(index, raw)
        except BadShape as exc:
            found.setdefault("labelme.bad_shape", []).append(str(exc))
            continue
        label = options.rename.get(shape.label, shape.label)
        if label in options.ignore_labels or (
            options.labels is not None and label not in options.labels
        ):
            left_out[label] += 1
            continue
        policy = options.shapes.of(shape.shape_type)
        if policy != "box":
            code = "labelme.shape_refused" if policy == "error" else "labelme.shape_skipped"
            found.setdefault(code, []).append(shape.named())
            continue
        try:
            box = bounds(shape, options.point_size)
        except BadShape as exc:
            found.setdefault("labelme.bad_shape", []).append(str(exc))
            continue
        if box is None:
            found.setdefault("labelme.degenerate", []).append(shape.named())
            continue
        group = (label, shape.group_id) if shape.group_id is not None else None
        if group is not None and options.groups == "merge" and group in groups:
            groups[group].grow(shape, box)
            continue
        made = _Object(label, box, [shape])
        objects.append(made)
        if group is not None:
            groups[group] = made
    result = Boxes()
    for made in objects:
        result.boxes.append(_box(made))
        result.details.append(_details(made))
    result.problems = [_problem(code, key, items) for code, items in found.items()]
    return result


def _box(made: _Object) -> Box:
    # A flag named like a Box field is that field, on any shape of the object.
    def flag(name: str) -> bool:
        return any(s.flags.get(name) is True for s in made.shapes)

    xmin, ymin, xmax, ymax = made.bounds
    return Box(
        made.label, xmin, ymin, xmax, ymax,
        difficult=flag("difficult"), truncated=flag("truncated"), occluded=flag("occluded"),
    )


def _details(made: _Object) -> dict[str, Any]:
    """Return what LabelMe says of an object beyond its box, as plain JSON data."""
    flags: dict[str, Any] = {}
    for shape in made.shapes:
        flags.update(shape.flags)
    first = made.shapes[0]
    return {
        "shapes": [s.index for s in made.shapes],
        "shape_types": [s.shape_type for s in made.shapes],
        "label": first.label,
        "group_id": first.group_id,
        "description": next((s.description for s in made.shapes if s.description), None),
        "flags": flags,
    }


def _problem(code: str, key: str, items: list[str]) -> Problem:
    severity, what, outcome = _MESSAGES[code]
    shown = "; ".join(items[:_SHOWN])
    more = f"; and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    count = f"{len(items)} shape{'s' if len(items) > 1 else ''}"
    if len(items) == 1:
        what = what.replace("have ", "has ", 1)
    return Problem(code, severity, f"{key}: {count} {what}: {shown}{more}; {outcome}", key)
