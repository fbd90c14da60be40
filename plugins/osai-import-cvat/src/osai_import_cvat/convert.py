"""Turn one image's CVAT shapes and tags into boxes and a category, noting what is left out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from osai_import import Box, Severity
from osai_import_cvat.document import Shape
from osai_import_cvat.geometry import (
    BadShape,
    Bounds,
    box_bounds,
    cuboid_bounds,
    ellipse_bounds,
    mask_bounds,
    points_bounds,
    rotation,
    skeleton_bounds,
)
from osai_import_cvat.notes import Notes
from osai_import_cvat.options import CvatOptions

_TRUE = {"1", "true", "yes"}


def describe(shape: Shape) -> str:
    """Return how messages name a shape: ``<polygon 'car'>``."""
    return f"<{shape.kind} {shape.label!r}>" if shape.label.strip() else f"<{shape.kind}>"


def _bounds(shape: Shape) -> Bounds | None:
    if shape.kind == "box":
        return box_bounds(shape.attrib)
    if shape.kind == "ellipse":
        return ellipse_bounds(shape.attrib)
    if shape.kind == "cuboid":
        return cuboid_bounds(shape.attrib)
    if shape.kind == "mask":
        return mask_bounds(shape.attrib)
    if shape.kind == "skeleton":
        return skeleton_bounds(shape.parts)
    return points_bounds(shape.attrib)


def _flag(attributes: dict[str, str], name: str) -> bool:
    return attributes.get(name, "").strip().lower() in _TRUE


def boxes(shapes: Iterable[Shape], options: CvatOptions, notes: Notes) -> list[Box]:
    """Return the boxes the shapes give under the shape policies; note every other shape.

    ``occluded="1"`` sets the box's ``occluded``; the attributes ``difficult`` and
    ``truncated`` (true/1), and ``pose``, which CVAT keeps for Pascal VOC imports, set
    the box's fields of the same names.
    """
    found: list[Box] = []
    for shape in shapes:
        policy = getattr(options.shapes, shape.kind)
        name = describe(shape)
        if policy == "skip":
            notes.add(
                "cvat.shape_skipped", f"{shape.line}: {name} skipped (shapes.{shape.kind}: skip)"
            )
            continue
        if policy == "error":
            notes.add(
                "cvat.shape_refused",
                f"{shape.line}: {name} refused (shapes.{shape.kind}: error)",
            )
            continue
        if not shape.label.strip():
            notes.add("cvat.no_label", f"{shape.line}: {name} has no label")
            continue
        try:
            bounds = _bounds(shape)
            turned = shape.kind == "box" and rotation(shape.attrib) != 0.0
        except BadShape as exc:
            notes.add("cvat.bad_shape", f"{shape.line}: {name} {exc}")
            continue
        if bounds is None:
            what = "no painted pixel" if shape.kind == "mask" else "no visible point"
            notes.add("cvat.empty_shape", f"{shape.line}: {name} has {what}; left out")
            continue
        if turned:
            notes.add(
                "cvat.rotated",
                f"{shape.line}: {name} is rotated by {shape.attrib.get('rotation')}°; "
                "uploaded as the bounds of the rotated rectangle",
            )
        pose = shape.attributes.get("pose", "").strip()
        found.append(
            Box(
                shape.label,
                bounds.xmin,
                bounds.ymin,
                bounds.xmax,
                bounds.ymax,
                difficult=_flag(shape.attributes, "difficult"),
                truncated=_flag(shape.attributes, "truncated"),
                occluded=shape.attrib.get("occluded", "0").strip() == "1",
                pose=pose or "Unspecified",
            )
        )
    return found


def category(tags: Sequence[tuple[str, int]], options: CvatOptions, notes: Notes) -> str | None:
    """Return the image's category from its ``<tag>`` labels under ``options.tags``."""
    if not tags:
        return None
    if options.tags == "skip":
        listed = ", ".join(repr(label) for label, _ in tags)
        notes.add("cvat.tag_skipped", f"{tags[0][1]}: tag(s) {listed} not used (tags: skip)")
        return None
    labelled: list[tuple[str, int]] = []
    for label, line in tags:
        if label.strip():
            labelled.append((label, line))
        else:
            notes.add("cvat.no_label", f"{line}: <tag> has no label")
    distinct = list(dict.fromkeys(label for label, _ in labelled))
    if len(distinct) > 1:
        listed = ", ".join(repr(label) for label in distinct)
        if options.tags == "category":
            notes.add(
                "cvat.several_tags", f"{labelled[0][1]}: tags {listed}: which is the category?"
            )
            return None
        notes.add(
            "cvat.several_tags",
            f"{labelled[0][1]}: tags {listed}: {distinct[0]!r} taken (tags: first)",
            Severity.WARNING,
        )
    return distinct[0] if distinct else None
