"""Read one LabelMe shape and turn its geometry into a box in pixels.

LabelMe's points are ``[x, y]`` pixel coordinates of the image as annotated, origin at
the top-left corner, as floats (no 1-based shift): they are osai-import's convention
already, so bounds are kept at the file's precision. A ``mask`` shape is a PNG of the
object's pixels, where pixel ``(i, j)`` covers ``[i, i + 1)`` and sits at the mask
rectangle's top-left point rounded to whole pixels (labelme's ``shapes_to_label``).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

Bounds = tuple[float, float, float, float]
"""``(xmin, ymin, xmax, ymax)`` in pixels."""

MAX_MASK_PIXELS = 100_000_000
"""A mask PNG claiming more pixels than this is refused without being decoded."""

# How many points LabelMe writes for each type; ``None``: at least the given minimum.
_EXACT = {"circle": 2, "mask": 2, "point": 1, "oriented_rectangle": 4}
_AT_LEAST = {"rectangle": 2, "line": 2, "linestrip": 2}


class BadShape(Exception):
    """A shape that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Shape:
    """One shape of a LabelMe file, checked: what it says, not yet what it becomes."""

    index: int
    label: str
    shape_type: str
    points: tuple[tuple[float, float], ...]
    group_id: int | str | None
    flags: dict[str, Any]
    description: str | None
    mask: str | None

    def named(self) -> str:
        """Return how messages name the shape: ``shapes[3] 'cat' (polygon)``."""
        return f"shapes[{self.index}] {self.label!r} ({self.shape_type})"


def read_shape(index: int, raw: Any) -> Shape:
    """Check one entry of ``shapes`` and return it; raise BadShape saying what is wrong.

    A shape without ``shape_type`` (or with ``null``) is a polygon, as LabelMe 3.x wrote
    them. ``line_color``/``fill_color`` and other keys of old or patched versions are
    ignored.
    """
    if not isinstance(raw, dict):
        raise BadShape(f"shapes[{index}] is {_kind(raw)}, not an object")
    label = raw.get("label")
    if not isinstance(label, str):
        raise BadShape(f"shapes[{index}]: `label` is {_kind(label)}, not a string")
    where = f"shapes[{index}] {label!r}"
    shape_type = raw.get("shape_type")
    if shape_type is None:
        shape_type = "polygon"
    elif not isinstance(shape_type, str) or not shape_type:
        raise BadShape(f"{where}: `shape_type` is {_kind(shape_type)}, not a type name")
    points = _points(raw.get("points"), f"{where} ({shape_type})")
    exact, least = _EXACT.get(shape_type), _AT_LEAST.get(shape_type, 1)
    if (exact is not None and len(points) != exact) or len(points) < least:
        wanted = f"exactly {exact}" if exact is not None else f"at least {least}"
        raise BadShape(
            f"{where} ({shape_type}): has {len(points)} point(s); a {shape_type} has {wanted}"
        )
    group_id = raw.get("group_id")
    if isinstance(group_id, bool) or not isinstance(group_id, (int, str, type(None))):
        raise BadShape(f"{where}: `group_id` is {_kind(group_id)}, not a number")
    flags = raw.get("flags")
    if flags is None:
        flags = {}
    if not isinstance(flags, dict):
        raise BadShape(f"{where}: `flags` is {_kind(flags)}, not an object")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise BadShape(f"{where}: `description` is {_kind(description)}, not a string")
    mask = raw.get("mask")
    if mask is not None and not isinstance(mask, str):
        raise BadShape(f"{where}: `mask` is {_kind(mask)}, not base64 PNG text")
    if shape_type == "mask" and not mask:
        raise BadShape(f"{where} (mask): has no `mask` (the base64 PNG of its pixels)")
    return Shape(index, label, shape_type, points, group_id, flags, description, mask or None)


def bounds(shape: Shape, point_size: float | None) -> Bounds | None:
    """Return the shape's box in pixels, or None when it has no area (a degenerate shape).

    Raises BadShape for a mask that cannot be decoded.
    """
    if shape.shape_type == "mask":
        return _mask_bounds(shape)
    if shape.shape_type == "circle":
        (cx, cy), (px, py) = shape.points
        radius = math.hypot(px - cx, py - cy)
        found: Bounds = (cx - radius, cy - radius, cx + radius, cy + radius)
    else:
        xs = [x for x, _ in shape.points]
        ys = [y for _, y in shape.points]
        found = (min(xs), min(ys), max(xs), max(ys))
        if shape.shape_type in ("point", "points") and point_size is not None:
            # Each point is a square of point_size centred on it.
            half = point_size / 2
            found = (found[0] - half, found[1] - half, found[2] + half, found[3] + half)
    return found if found[2] > found[0] and found[3] > found[1] else None


def _mask_bounds(shape: Shape) -> Bounds | None:
    """Return the bounds of a mask's non-zero pixels, placed as labelme places the mask.

    labelme (``shapes_to_label``) puts the mask's pixel (0, 0) at the rectangle's first
    point rounded to whole pixels. With whole-pixel points the mask covers the rectangle
    from that pixel to the second point's pixel included, and is cut to it; with
    fractional points the mask's own size counts. The top-left of the two points is used
    here, which is the first point in every file LabelMe writes.
    """
    assert shape.mask is not None
    where = shape.named()
    try:
        # Line breaks are allowed in base64 text; any other character means damage.
        data = base64.b64decode("".join(shape.mask.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadShape(f"{where}: `mask` is not valid base64 ({exc})") from None
    (ax, ay), (bx, by) = shape.points
    left, top = min(round(ax), round(bx)), min(round(ay), round(by))
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_MASK_PIXELS:
                raise BadShape(f"{where}: the mask claims {width}x{height} pixels")
            if len(image.getbands()) != 1:
                raise BadShape(
                    f"{where}: the mask has {len(image.getbands())} channels "
                    f"({image.mode}); LabelMe writes a one-channel PNG"
                )
            if all(float(v).is_integer() for v in (ax, ay, bx, by)):
                width = min(width, abs(round(bx) - round(ax)) + 1)
                height = min(height, abs(round(by) - round(ay)) + 1)
            box = image.crop((0, 0, width, height)).getbbox()
    except UnidentifiedImageError:
        raise BadShape(f"{where}: `mask` is not a PNG image ({data[:8]!r}...)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadShape(f"{where}: `mask` is not a readable PNG ({exc})") from None
    if box is None:
        return None  # no pixel set: nothing to box
    x0, y0, x1, y1 = box
    return (float(left + x0), float(top + y0), float(left + x1), float(top + y1))


def _points(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not value:
        raise BadShape(f"{where}: `points` is {_kind(value)}, not a list of [x, y]")
    points: list[tuple[float, float]] = []
    for number, point in enumerate(value):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(_is_number(v) for v in point)
        ):
            raise BadShape(f"{where}: point {number} is {point!r:.60}, not [x, y] numbers")
        x, y = float(point[0]), float(point[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadShape(f"{where}: point {number} is {point!r}, not finite numbers")
        points.append((x, y))
    return tuple(points)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """Name a JSON value's type the way the file's author would: `null`, a string, ..."""
    if value is None:
        return "null or missing"
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)
