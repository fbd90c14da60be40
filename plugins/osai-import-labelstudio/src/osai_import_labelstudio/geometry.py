"""Label Studio's shapes, in percent of the image, to bounding boxes in pixels.

Label Studio stores positions in percent of ``original_width``/``original_height``:
``x_px = x / 100 * width``. A rectangle's ``x``/``y`` is its top-left corner and its
``rotation`` (degrees, clockwise on screen) turns it about that corner, in pixels: the
rotated corners are those label-studio-converter's YOLO OBB export writes. A brush is a
run-length encoded RGBA mask of the whole image (see :func:`mask_bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Bounds = tuple[float, float, float, float]


class BadShape(ValueError):
    """A shape whose numbers cannot be read; the message says which."""


def number(value: object, name: str) -> float:
    """Return ``value`` as a finite float, or raise BadShape naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadShape(f"`{name}` is {value!r}, not a number")
    if not math.isfinite(value):
        raise BadShape(f"`{name}` is {value!r}")
    return float(value)


def rectangle(x: float, y: float, w: float, h: float, rotation: float,
              width: float, height: float) -> Bounds:
    """Return the bounds in pixels of a rectangle in percent, rotated about its corner."""
    x0, y0 = x / 100 * width, y / 100 * height
    w_px, h_px = w / 100 * width, h / 100 * height
    if rotation % 360 == 0:
        return x0, y0, x0 + w_px, y0 + h_px
    angle = math.radians(rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    xs = (x0, x0 + w_px * cos, x0 + w_px * cos - h_px * sin, x0 - h_px * sin)
    ys = (y0, y0 + w_px * sin, y0 + w_px * sin + h_px * cos, y0 + h_px * cos)
    return min(xs), min(ys), max(xs), max(ys)


def polygon(points: object, width: float, height: float) -> Bounds:
    """Return the bounds in pixels of ``[[x, y], ...]`` points in percent."""
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)) or not points:
        raise BadShape("`points` is not a list of [x, y] points")
    xs: list[float] = []
    ys: list[float] = []
    for index, point in enumerate(points):
        if not isinstance(point, Sequence) or isinstance(point, (str, bytes)) or len(point) < 2:
            raise BadShape(f"point {index} is {point!r}, not [x, y]")
        xs.append(number(point[0], f"points[{index}][0]") / 100 * width)
        ys.append(number(point[1], f"points[{index}][1]") / 100 * height)
    return min(xs), min(ys), max(xs), max(ys)


def ellipse(x: float, y: float, rx: float, ry: float, rotation: float,
            width: float, height: float) -> Bounds:
    """Return the bounds in pixels of an ellipse: centre and radii in percent, rotated."""
    cx, cy = x / 100 * width, y / 100 * height
    a, b = abs(rx) / 100 * width, abs(ry) / 100 * height
    angle = math.radians(rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    half_w = math.hypot(a * cos, b * sin)
    half_h = math.hypot(a * sin, b * cos)
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def keypoint(x: float, y: float, radius: float, width: float, height: float) -> Bounds:
    """Return the square about a key point: its ``width`` (percent of the image's width)."""
    cx, cy, r = x / 100 * width, y / 100 * height, abs(radius) / 100 * width
    return cx - r, cy - r, cx + r, cy + r


class _Bits:
    """Read big-endian bit fields from bytes, as Label Studio's RLE writes them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.total = len(data) * 8

    def read(self, count: int) -> int:
        end = self.pos + count
        if end > self.total:
            raise BadShape(f"the RLE ends early (bit {self.pos} of {self.total})")
        first, last = self.pos // 8, (end + 7) // 8
        chunk = int.from_bytes(self.data[first:last], "big")
        value = (chunk >> (last * 8 - end)) & ((1 << count) - 1)
        self.pos = end
        return value


def mask_bounds(rle: object, width: int, height: int) -> Bounds | None:
    """Return the pixel bounds of a brush mask's painted pixels, or None when none is.

    The RLE is label-studio-converter's (``brush.decode_rle``, after thi.ng's rle-pack):
    a 32-bit count of values, a 5-bit word size less one, four 4-bit run-length sizes
    less one, then runs: a bit (1: one value repeated, 0: values one by one), 2 bits
    choosing the length size, the length less one, and the value(s). The values are the
    image's RGBA bytes row by row; a pixel is painted when its alpha is not 0. Runs are
    walked without building the image, so a 4000x3000 mask costs its runs, not 48 MB.
    """
    if not isinstance(rle, list) or not rle:
        raise BadShape("`rle` is not a list of byte values")
    try:
        bits = _Bits(bytes(rle))
    except (TypeError, ValueError):
        raise BadShape("`rle` holds values that are not bytes (0 to 255)") from None
    count = bits.read(32)
    if count != width * height * 4:
        raise BadShape(
            f"the RLE holds {count} values; a {width}x{height} RGBA mask has {width * height * 4}"
        )
    word = bits.read(5) + 1
    sizes = [bits.read(4) + 1 for _ in range(4)]
    found = _Found(width)
    i = 0
    while i < count:
        repeated = bits.read(1)
        j = min(i + 1 + bits.read(sizes[bits.read(2)]), count)
        if repeated:
            if bits.read(word):
                found.alpha_run(i, j)
            i = j
            continue
        while i < j:
            if bits.read(word) and i % 4 == 3:
                found.pixel(i // 4)
            i += 1
    return found.bounds()


class _Found:
    """The bounds of the painted pixels seen so far (rows and columns, inclusive)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def pixel(self, index: int) -> None:
        self.span(index, index)

    def alpha_run(self, start: int, end: int) -> None:
        """Take the alpha values among values ``start`` to ``end`` (excluded)."""
        first = start + (3 - start) % 4
        last = end - 1 - (end - 1 - 3) % 4
        if first <= last:
            self.span(first // 4, last // 4)

    def span(self, first: int, last: int) -> None:
        row0, row1 = first // self.width, last // self.width
        if row0 == row1:
            col0, col1 = first % self.width, last % self.width
        else:  # the run wraps: its rows together cover every column
            col0, col1 = 0, self.width - 1
        self.x0, self.x1 = min(self.x0, col0), max(self.x1, col1)
        self.y0, self.y1 = min(self.y0, row0), max(self.y1, row1)

    def bounds(self) -> Bounds | None:
        if self.x1 < 0:
            return None
        # Pixel i spans i to i + 1: the right and bottom edges are one past the last pixel.
        return float(self.x0), float(self.y0), float(self.x1 + 1), float(self.y1 + 1)
