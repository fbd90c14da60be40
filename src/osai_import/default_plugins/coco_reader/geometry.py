"""Turn COCO geometry (a bbox, polygons, an RLE mask) into box corners, for the `coco` reader.

Corners are ``(xmin, ymin, xmax, ymax)`` floats in pixels, ``xmax``/``ymax`` being edges
(see ``osai_import.records``). Inputs are untrusted: anything malformed raises
:class:`BadGeometry` with a message that completes "annotation 12 ...".
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

# A 32-bit RLE count needs at most 7 groups of 5 bits; more is a corrupt (or hostile) string.
_MAX_RLE_GROUPS = 13


class BadGeometry(ValueError):
    """An annotation's bbox or segmentation cannot give a box (the message says why)."""


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _as_float(value: float) -> float:
    try:
        result = float(value)
    except OverflowError:
        raise BadGeometry(
            f"has the number {str(value)[:20]}..., too large for a coordinate") from None
    if not math.isfinite(result):
        raise BadGeometry(f"has the non-finite number {value!r}")
    return result


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 8, 4, 60, 40


def short(value: Any, limit: int = 60) -> str:
    """Return a repr of ``value`` cut to ``limit`` characters, cheap even for a huge value."""
    scalar = isinstance(value, (int, float, bool)) or value is None
    text = repr(value) if scalar else _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bbox_box(bbox: Any) -> tuple[float, float, float, float]:
    """Turn COCO ``[x, y, width, height]`` into ``(x, y, x + width, y + height)``."""
    if type(bbox) is list and len(bbox) == 4:
        x, y, w, h = bbox
        # The common case, kept short: it runs once per annotation of files with 10^6 of them.
        if type(x) is float and type(y) is float and type(w) is float and type(h) is float:
            x2, y2 = x + w, y + h
            if math.isfinite(x2) and math.isfinite(y2):
                return x, y, x2, y2
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_number(v) for v in bbox):
        raise BadGeometry(f"has bbox {short(bbox)}; expected [x, y, width, height], four numbers")
    x, y, w, h = (_as_float(v) for v in bbox)
    x2, y2 = x + w, y + h
    if not (math.isfinite(x2) and math.isfinite(y2)):
        raise BadGeometry(f"has bbox {short(bbox)}, whose corners overflow")
    return x, y, x2, y2


def segmentation_box(seg: Any) -> tuple[float, float, float, float] | None:
    """Return the box around a COCO segmentation (polygons or RLE); None for an empty mask."""
    if isinstance(seg, list):
        return _polygons_box(seg)
    if isinstance(seg, dict):
        return _rle_box(seg)
    raise BadGeometry(
        f"has segmentation {short(seg)}; expected polygons (a list) or RLE (an object)")


def _polygons_box(polygons: list[Any]) -> tuple[float, float, float, float]:
    xmin = ymin = math.inf
    xmax = ymax = -math.inf
    for number, poly in enumerate(polygons, start=1):
        if not isinstance(poly, list) or not all(_number(v) for v in poly):
            raise BadGeometry(
                f"has segmentation polygon {number} {short(poly)}; expected a list of numbers")
        if len(poly) % 2:
            raise BadGeometry(
                f"has segmentation polygon {number} with an odd count of numbers ({len(poly)})")
        if not poly:
            continue
        xs, ys = poly[0::2], poly[1::2]
        xmin, xmax = min(xmin, _as_float(min(xs))), max(xmax, _as_float(max(xs)))
        ymin, ymax = min(ymin, _as_float(min(ys))), max(ymax, _as_float(max(ys)))
    if xmin == math.inf:
        raise BadGeometry("has no bbox and a segmentation without points")
    return xmin, ymin, xmax, ymax


def _rle_box(rle: dict[str, Any]) -> tuple[float, float, float, float] | None:
    size, counts = rle.get("size"), rle.get("counts")
    if (not isinstance(size, list) or len(size) != 2
            or not all(type(v) is int and v > 0 for v in size)):
        raise BadGeometry(
            f"has RLE size {short(size)}; expected [height, width], positive integers")
    height, width = size
    if isinstance(counts, str):
        counts = decode_rle_string(counts)
    elif not isinstance(counts, list) or not all(type(v) is int and v >= 0 for v in counts):
        raise BadGeometry(
            f"has RLE counts {short(counts)}; expected non-negative integers or a string")
    # Runs alternate background/foreground in column-major order, starting with background.
    pos, found = 0, False
    xmin, ymin, xmax, ymax = width, height, -1, -1
    for index, run in enumerate(counts):
        if index % 2 and run:
            x0, y0 = divmod(pos, height)
            x1, y1 = divmod(pos + run - 1, height)
            found = True
            xmin, xmax = min(xmin, x0), max(xmax, x1)
            if x1 > x0:  # the run wraps into another column: it spans the full height
                ymin, ymax = 0, height - 1
            else:
                ymin, ymax = min(ymin, y0), max(ymax, y1)
        pos += run
    if pos > height * width:
        raise BadGeometry(
            f"has RLE counts covering {pos} pixels, more than its size {height}x{width}")
    if not found:
        return None
    return float(xmin), float(ymin), float(xmax + 1), float(ymax + 1)


def decode_rle_string(text: str) -> list[int]:
    """Decode pycocotools' compressed RLE string into run lengths."""
    counts: list[int] = []
    pos, end = 0, len(text)
    while pos < end:
        value, shift, more = 0, 0, True
        while more:
            if pos >= end:
                raise BadGeometry("has an RLE string that ends inside a number")
            char = ord(text[pos]) - 48
            if not 0 <= char < 64:
                raise BadGeometry(f"has an RLE string with the invalid character {text[pos]!r}")
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            pos += 1
            shift += 1
            if shift > _MAX_RLE_GROUPS:
                raise BadGeometry("has an RLE string with a run length too large")
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise BadGeometry("has an RLE string that decodes to a negative run length")
        counts.append(value)
    return counts
