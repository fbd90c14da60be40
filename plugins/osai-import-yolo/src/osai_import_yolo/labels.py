"""Read one YOLO label file: ``class x_center y_center width height`` per line, normalized."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from osai_import import ItemError, Problem, Severity
from osai_import_yolo.paths import Dir, read_lines

MAX_BOXES = 100_000
"""More lines than this in one label file is not a label file."""
ROUNDED_DECIMALS = 4
"""Values written with this many decimals or more are taken as rounded machine output."""
_SHOWN = 3


@dataclass(frozen=True, slots=True)
class NormalBox:
    """A box in normalized corners (0..1 of the image's width and height).

    ``ux``/``uy`` bound how far each corner may be from the value the labelling tool had
    before it rounded the text it wrote (0 for values written exactly, such as ``0.5``).
    """

    label: str
    x0: float
    y0: float
    x1: float
    y1: float
    ux: float = 0.0
    uy: float = 0.0


@dataclass
class Labels:
    """What one label file holds: its boxes and the problems of its lines."""

    boxes: list[NormalBox] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Findings:
    lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def add(self, code: str, line: int, text: str) -> None:
        self.lines.setdefault(code, []).append((line, text))


# What one bad line is, and several: (severity, singular, plural).
_MESSAGES: dict[str, tuple[Severity, str, str]] = {
    "yolo.bad_line": (
        Severity.ERROR,
        "a line that is not `class x_center y_center width height`",
        "lines that are not `class x_center y_center width height`",
    ),
    "yolo.unknown_class": (
        Severity.ERROR,
        "a class without a name",
        "lines whose class has no name",
    ),
    "yolo.out_of_range": (
        Severity.ERROR,
        "a box far outside the image (normalized values outside 0..1)",
        "boxes far outside the image (normalized values outside 0..1)",
    ),
    "yolo.clamped": (
        Severity.WARNING,
        "a box a hair outside the image, clamped to its edges",
        "boxes a hair outside the image, clamped to its edges",
    ),
    "yolo.empty_box": (
        Severity.WARNING,
        "a box with zero or negative width or height, left out",
        "boxes with zero or negative width or height, left out",
    ),
}
_FIXES = {
    "yolo.bad_line": "fix or delete these lines",
    "yolo.unknown_class": "add the missing class names (or set source.names)",
    "yolo.out_of_range": "YOLO values are fractions of the image size; fix the lines",
    "yolo.clamped": "nothing to do unless the boxes look wrong",
    "yolo.empty_box": "fix or delete these lines",
}


def _number(token: str) -> float:
    if "_" in token:
        raise ValueError(token)
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(token)
    return value


def _class_index(token: str) -> int:
    value = _number(token)
    if value < 0 or value != int(value):
        raise ValueError(token)
    return int(value)


def _rounding(token: str) -> float:
    """Return half a unit of the token's last decimal when it looks rounded, else 0."""
    if "e" in token.lower() or "." not in token:
        return 0.0
    decimals = len(token.split(".", 1)[1])
    return 0.5 * 10.0**-decimals if decimals >= ROUNDED_DECIMALS else 0.0


def _corners(
    values: list[float], tokens: list[str]
) -> tuple[float, float, float, float, float, float]:
    """Return the corners and their rounding bounds (x then y)."""
    errors = [_rounding(t) for t in tokens]
    if len(values) == 4:
        cx, cy, w, h = values
        ux, uy = errors[0] + errors[2] / 2, errors[1] + errors[3] / 2
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, ux, uy
    xs, ys = values[0::2], values[1::2]
    return min(xs), min(ys), max(xs), max(ys), max(errors[0::2]), max(errors[1::2])


def read_labels(
    path: Dir,
    where: str,
    names: Mapping[int, str],
    names_where: str,
    *,
    tolerance: float,
    polygons: bool,
) -> Labels:
    """Read a label file; bad lines become grouped problems naming the file and line."""
    return parse_labels(
        read_lines(path, where), where, names, names_where, tolerance=tolerance, polygons=polygons
    )


def parse_labels(
    lines: Iterable[tuple[int, str]],
    where: str,
    names: Mapping[int, str],
    names_where: str,
    *,
    tolerance: float,
    polygons: bool,
) -> Labels:
    """Parse the numbered lines of a label file (``read_lines``, or ``lines_in`` of its bytes).

    An ItemError the lines raise (the file cannot be read, is not UTF-8) becomes the
    file's problem.
    """
    found = _Findings()
    labels = Labels()
    try:
        for number, text in lines:
            tokens = text.split()
            if not tokens:
                continue
            if len(labels.boxes) >= MAX_BOXES:
                labels.problems.append(
                    Problem(
                        "yolo.bad_line",
                        Severity.ERROR,
                        f"{where}: more than {MAX_BOXES} boxes; this is not a label file",
                    )
                )
                return labels
            box = _line(tokens, number, text, names, found, tolerance=tolerance, polygons=polygons)
            if box is not None:
                labels.boxes.append(box)
    except ItemError as exc:
        labels.problems.append(Problem(exc.code, Severity.ERROR, str(exc)))
        return labels
    for code, lines in found.lines.items():
        severity, one, several = _MESSAGES[code]
        extra = f" (classes are named in {names_where})" if code == "yolo.unknown_class" else ""
        if len(lines) == 1:
            # file:line first, the form editors and terminals turn into a link.
            ((line, text),) = lines
            message = f"{where}:{line}: {one}{extra}: {text}; {_FIXES[code]}"
        else:
            shown = "; ".join(f"line {n}: {t}" for n, t in lines[:_SHOWN])
            more = f"; and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else ""
            message = f"{where}: {len(lines)} {several}{extra}: {shown}{more}; {_FIXES[code]}"
        labels.problems.append(Problem(code, severity, message))
    return labels


def _line(
    tokens: list[str],
    number: int,
    text: str,
    names: Mapping[int, str],
    found: _Findings,
    *,
    tolerance: float,
    polygons: bool,
) -> NormalBox | None:
    shown = text.strip()[:80]
    is_polygon = len(tokens) >= 7 and len(tokens) % 2 == 1
    if len(tokens) != 5 and not (polygons and is_polygon):
        hint = " (a segmentation polygon? set `polygons: true`)" if is_polygon else ""
        found.add("yolo.bad_line", number, f"{len(tokens)} values in {shown!r}{hint}")
        return None
    try:
        index = _class_index(tokens[0])
    except ValueError:
        found.add("yolo.bad_line", number, f"class {tokens[0]!r} is not a whole number >= 0")
        return None
    try:
        values = [_number(t) for t in tokens[1:]]
    except ValueError as exc:
        found.add("yolo.bad_line", number, f"{exc.args[0]!r} is not a finite number")
        return None
    name = names.get(index)
    if not name:
        found.add("yolo.unknown_class", number, f"class {index}")
        return None
    x0, y0, x1, y1, ux, uy = _corners(values, tokens[1:])
    if x1 <= x0 or y1 <= y0:
        found.add("yolo.empty_box", number, shown)
        return None
    overshoot = max(-x0, -y0, x1 - 1.0, y1 - 1.0, 0.0)
    if overshoot > tolerance:
        found.add("yolo.out_of_range", number, shown)
        return None
    # Overshoot within the text's own rounding is no news: clamp without a word.
    if overshoot > max(ux, uy) + 1e-12:
        found.add("yolo.clamped", number, f"{shown} (by {overshoot:.2g})")
    x0, y0 = max(x0, 0.0), max(y0, 0.0)
    x1, y1 = min(x1, 1.0), min(y1, 1.0)
    if x1 <= x0 or y1 <= y0:
        found.add("yolo.empty_box", number, shown)
        return None
    return NormalBox(name, x0, y0, x1, y1, ux, uy)
