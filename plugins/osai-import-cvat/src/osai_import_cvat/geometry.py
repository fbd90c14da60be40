"""The bounds of one CVAT shape, in absolute pixels (xmax/ymax are right/bottom edges).

Coordinates are taken as CVAT writes them: ``xtl``/``ytl``/``xbr``/``ybr`` and polygon
points are already edges in pixels of the image, so they are kept as written. A mask is
made of whole pixels: pixel ``i`` covers ``[i, i + 1)``, so a mask whose painted pixels
span columns ``3..5`` has ``xmin = left + 3`` and ``xmax = left + 6``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

MAX_POINTS = 1_000_000
"""More points than this in one shape is not an annotation."""


class BadShape(ValueError):
    """A shape whose attributes cannot be read; the message says which and why."""


class Bounds(NamedTuple):
    """A shape's bounding box: left, top, right and bottom edges in pixels."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


def number(attrib: Mapping[str, str], name: str) -> float:
    """Return the finite number written in attribute ``name``; raise BadShape otherwise."""
    text = attrib.get(name)
    if text is None:
        raise BadShape(f"has no `{name}`")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or "_" in text:
        raise BadShape(f"`{name}` is {text!r}, not a number")
    return value


def _whole(attrib: Mapping[str, str], name: str, least: int) -> int:
    text = attrib.get(name)
    if text is None:
        raise BadShape(f"has no `{name}`")
    try:
        value = int(text.strip())
    except ValueError:
        raise BadShape(f"`{name}` is {text!r}, not a whole number") from None
    if value < least:
        raise BadShape(f"`{name}` is {value}, less than {least}")
    return value


def rotation(attrib: Mapping[str, str]) -> float:
    """Return the ``rotation`` attribute in degrees (0 when absent)."""
    return number(attrib, "rotation") % 360.0 if "rotation" in attrib else 0.0


def box_bounds(attrib: Mapping[str, str]) -> Bounds:
    """Return a ``<box>``'s bounds; a rotated box gives the bounds of the rotated rectangle.

    CVAT turns a box about its centre, by ``rotation`` degrees clockwise.
    """
    x0, y0 = number(attrib, "xtl"), number(attrib, "ytl")
    x1, y1 = number(attrib, "xbr"), number(attrib, "ybr")
    angle = rotation(attrib)
    if angle == 0.0:
        return Bounds(x0, y0, x1, y1)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = abs(x1 - x0) / 2, abs(y1 - y0) / 2
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    ex, ey = hw * cos + hh * sin, hw * sin + hh * cos
    return Bounds(cx - ex, cy - ey, cx + ex, cy + ey)


def ellipse_bounds(attrib: Mapping[str, str]) -> Bounds:
    """Return an ``<ellipse>``'s exact bounds (``cx cy rx ry``, turned by ``rotation``)."""
    cx, cy = number(attrib, "cx"), number(attrib, "cy")
    rx, ry = abs(number(attrib, "rx")), abs(number(attrib, "ry"))
    radians = math.radians(rotation(attrib))
    cos, sin = math.cos(radians), math.sin(radians)
    ex = math.hypot(rx * cos, ry * sin)
    ey = math.hypot(rx * sin, ry * cos)
    return Bounds(cx - ex, cy - ey, cx + ex, cy + ey)


_CUBOID = tuple(
    f"{axis}{corner}{face}"
    for face in ("1", "2")
    for corner in ("tl", "bl", "tr", "br")
    for axis in ("x", "y")
)


def cuboid_bounds(attrib: Mapping[str, str]) -> Bounds:
    """Return a ``<cuboid>``'s bounds: those of its two faces' eight corners."""
    values = [number(attrib, name) for name in _CUBOID]
    return _extent(values[0::2], values[1::2])


def parse_points(attrib: Mapping[str, str]) -> tuple[list[float], list[float]]:
    """Return the x and y values of a ``points="x0,y0;x1,y1;..."`` attribute."""
    text = attrib.get("points")
    if text is None:
        raise BadShape("has no `points`")
    xs: list[float] = []
    ys: list[float] = []
    for index, pair in enumerate(text.split(";")):
        if not pair.strip():
            continue
        if index >= MAX_POINTS:
            raise BadShape(f"has more than {MAX_POINTS} points")
        parts = pair.split(",")
        if len(parts) != 2:
            raise BadShape(f"point {index + 1} is {pair.strip()!r}, not `x,y`")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise BadShape(f"point {index + 1} is {pair.strip()!r}, not two numbers") from None
        if not (math.isfinite(x) and math.isfinite(y)) or "_" in pair:
            raise BadShape(f"point {index + 1} is {pair.strip()!r}, not two finite numbers")
        xs.append(x)
        ys.append(y)
    if not xs:
        raise BadShape("has no points")
    return xs, ys


def points_bounds(attrib: Mapping[str, str]) -> Bounds:
    """Return the bounds of a polygon's, polyline's or point set's points."""
    xs, ys = parse_points(attrib)
    return _extent(xs, ys)


def mask_bounds(attrib: Mapping[str, str]) -> Bounds | None:
    """Return the bounds of a ``<mask>``'s painted pixels (None when none is painted).

    ``rle`` counts pixels row by row over the mask's ``width`` × ``height`` rectangle,
    starting with a run of unpainted pixels (as CVAT writes it: ``rle="0, 3, 2"`` paints
    the first three). The rectangle's top-left pixel is (``left``, ``top``).
    """
    text = attrib.get("rle")
    if text is None:
        raise BadShape("has no `rle`")
    left, top = _whole(attrib, "left", 0), _whole(attrib, "top", 0)
    width, height = _whole(attrib, "width", 1), _whole(attrib, "height", 1)
    total = width * height
    counts: list[int] = []
    for index, part in enumerate(text.split(",")):
        try:
            count = int(part.strip())
        except ValueError:
            raise BadShape(f"`rle` value {index + 1} is {part.strip()!r}, not a count") from None
        if count < 0:
            raise BadShape(f"`rle` value {index + 1} is {count}, a negative count")
        counts.append(count)
    if sum(counts) > total:
        raise BadShape(
            f"`rle` counts {sum(counts)} pixels, more than the {width}×{height} = {total} "
            "of the mask"
        )
    position = 0
    xmin, xmax, ymin, ymax = width, -1, height, -1
    for index, count in enumerate(counts):
        if index % 2 and count:  # odd runs are the painted ones
            first, last = position, position + count - 1
            row0, row1 = first // width, last // width
            ymin, ymax = min(ymin, row0), max(ymax, row1)
            # A run that wraps onto the next row covers that row's first and the
            # previous row's last column.
            xmin = min(xmin, 0 if row1 > row0 else first % width)
            xmax = max(xmax, width - 1 if row1 > row0 else last % width)
        position += count
    if xmax < 0:
        return None
    return Bounds(left + xmin, top + ymin, left + xmax + 1, top + ymax + 1)


def skeleton_bounds(parts: Sequence[Mapping[str, str]]) -> Bounds | None:
    """Return the bounds of a skeleton's points that are not ``outside`` (None if none is)."""
    xs: list[float] = []
    ys: list[float] = []
    for attrib in parts:
        if attrib.get("outside", "0").strip() == "1":
            continue
        px, py = parse_points(attrib)
        xs.extend(px)
        ys.extend(py)
    return _extent(xs, ys) if xs else None


def _extent(xs: Sequence[float], ys: Sequence[float]) -> Bounds:
    return Bounds(min(xs), min(ys), max(xs), max(ys))
