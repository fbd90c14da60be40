"""The per-record rules of the check step: names, labels, boxes, the EXIF frame.

The codes of the problems these rules find are listed in ``osai_import.codes``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from osai_import.records import Box, Problem, Severity

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".jif")
FORMAT_SUFFIXES = {"jpeg": JPEG_SUFFIXES, "png": (".png",)}
# Suffixes taken as "the file's extension"; anything else is part of the stem, so that
# adding the right extension to such a name never changes which names collide.
IMAGE_SUFFIXES = frozenset(
    (*JPEG_SUFFIXES, ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif")
)
_MAX_NAME_BYTES = 255
# Bidirectional overrides and isolates let a name display as something it is not.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# Boxes may overshoot the image by float noise (COCO's x + w); that much is clipped quietly.
BOX_EPSILON = 1e-3
_LISTED_BOXES = 5


def normalize(text: str) -> str:
    """Return ``text`` in Unicode NFC, so names typed on macOS (NFD) match others."""
    return unicodedata.normalize("NFC", text)


def clean_label(text: str) -> str:
    """Return a category or box label as the check keeps it: NFC, without outer spaces."""
    return normalize(text).strip()


def split_name(name: str) -> tuple[str, str]:
    """Split a name into stem and image extension ('' when it has none we know)."""
    dot = name.rfind(".")
    if dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES:
        return name[:dot], name[dot:]
    return name, ""


def name_key(name: str) -> str:
    """Return what two names are compared by: the NFC stem, ignoring case."""
    return split_name(normalize(name))[0].casefold()


def invalid_name_reason(name: str) -> str | None:
    """Say why ``name`` cannot be a remote file name, or return None when it can."""
    if not name.strip():
        return "is empty"
    if name in (".", "..") or not split_name(name)[0].strip(" ."):
        return "has no file name before its extension"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name.isascii() and name.isprintable():
        # The common case, in C: no control, direction or undecodable character.
        return None if len(name) <= _MAX_NAME_BYTES else f"is longer than {_MAX_NAME_BYTES} bytes"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "contains control characters (such as a newline or a tab)"
    if any(ch in _BIDI_CONTROLS for ch in name):
        return "contains invisible text-direction characters"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (the file name's bytes are in another encoding)"
    if len(encoded) > _MAX_NAME_BYTES:
        return f"is longer than {_MAX_NAME_BYTES} bytes"
    return None


def fixed_extension(name: str, fmt: str) -> str | None:
    """Return ``name`` with the extension its bytes call for, or None when it already has it."""
    stem, suffix = split_name(name)
    if suffix.lower() in FORMAT_SUFFIXES[fmt]:
        return None
    return stem + FORMAT_SUFFIXES[fmt][0]


def label_problem(label: str) -> str | None:
    """Say why a category or box label is unusable, or return None."""
    if label.isascii() and label.isprintable():
        return None  # the common case, checked in C
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in label):
        return "contains control characters"
    try:
        label.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def to_stored_frame(box: Box, orientation: int, width: int, height: int) -> Box:
    """Map a box drawn on the upright (EXIF-rotated) image to the stored pixel frame.

    ``width``/``height`` are the stored dimensions; orientations 5 to 8 swap them on
    display. Each case inverts the transform viewers apply for that EXIF orientation.
    """
    x1, y1 = _to_stored_point(box.xmin, box.ymin, orientation, width, height)
    x2, y2 = _to_stored_point(box.xmax, box.ymax, orientation, width, height)
    return replace(box, xmin=min(x1, x2), ymin=min(y1, y2), xmax=max(x1, x2), ymax=max(y1, y2))


def _to_stored_point(u: float, v: float, orientation: int, w: int, h: int) -> tuple[float, float]:
    if orientation == 2:
        return w - u, v
    if orientation == 3:
        return w - u, h - v
    if orientation == 4:
        return u, h - v
    if orientation == 5:
        return v, u
    if orientation == 6:
        return v, h - u
    if orientation == 7:
        return w - v, h - u
    if orientation == 8:
        return w - v, u
    return u, v


def _describe(index: int, box: Box) -> str:
    label = f" {box.label!r}" if box.label else ""
    return f"#{index + 1}{label} ({box.xmin:g}, {box.ymin:g}, {box.xmax:g}, {box.ymax:g})"


def _listing(entries: Sequence[str]) -> str:
    shown = ", ".join(entries[:_LISTED_BOXES])
    more = len(entries) - _LISTED_BOXES
    return f"{shown} and {more} more" if more > 0 else shown


def check_boxes(
    boxes: Iterable[Box],
    width: int | None,
    height: int | None,
    outside_policy: str,
    item: str,
) -> tuple[tuple[Box, ...], list[Problem]]:
    """Normalize labels, drop empty boxes and apply the outside policy; return kept boxes.

    With unknown ``width``/``height`` (an unreadable image) only the label and area
    rules apply. Problems are grouped: one per code for the whole record, listing boxes.
    """
    kept: list[Box] = []
    no_label: list[str] = []
    bad_label: list[str] = []
    empty: list[str] = []
    outside: list[str] = []
    for index, box in enumerate(boxes):
        label = clean_label(box.label)
        if label != box.label:
            box = replace(box, label=label)
        if not label:
            no_label.append(_describe(index, box))
        elif label_problem(label):
            bad_label.append(_describe(index, box))
        if box.width <= 0 or box.height <= 0:
            empty.append(_describe(index, box))
            continue
        if width is not None and height is not None:
            clipped = _clip(box, width, height)
            if clipped is not box and not _within(box, width, height, BOX_EPSILON):
                outside.append(_describe(index, box))
                if outside_policy == "drop" or (
                    outside_policy == "clip" and (clipped.width <= 0 or clipped.height <= 0)
                ):
                    continue
                if outside_policy == "error":
                    clipped = box
            box = clipped
        kept.append(box)
    problems: list[Problem] = []
    if no_label:
        problems.append(
            Problem(
                "box.no_label",
                Severity.ERROR,
                f"{len(no_label)} box(es) without a label: {_listing(no_label)}; give every box a "
                "label in the source (or check the reader's label column/field)",
                item,
            )
        )
    if bad_label:
        problems.append(
            Problem(
                "label.invalid",
                Severity.ERROR,
                f"box label(s) with control characters: {_listing(bad_label)}; fix the labels in "
                "the source",
                item,
            )
        )
    if empty:
        problems.append(
            Problem(
                "box.empty",
                Severity.WARNING,
                f"{len(empty)} box(es) with zero or negative width or height were dropped: "
                f"{_listing(empty)}; fix or remove them in the source",
                item,
            )
        )
    if outside:
        problems.append(_outside_problem(outside, width, height, outside_policy, item))
    return tuple(kept), problems


def _outside_problem(
    outside: list[str], width: int | None, height: int | None, policy: str, item: str
) -> Problem:
    where = f"{len(outside)} box(es) leave the {width}x{height} image: {_listing(outside)}"
    if policy == "error":
        return Problem(
            "box.outside",
            Severity.ERROR,
            f"{where}; fix them in the source, or set check.boxes_outside to clip or drop",
            item,
        )
    action = (
        "were clipped to the image (boxes entirely outside were dropped)"
        if policy == "clip"
        else "were dropped"
    )
    return Problem(
        "box.outside",
        Severity.WARNING,
        f"{where}; they {action}. Check the source's coordinates if this is unexpected",
        item,
    )


def _within(box: Box, width: int, height: int, tolerance: float) -> bool:
    return (
        box.xmin >= -tolerance
        and box.ymin >= -tolerance
        and box.xmax <= width + tolerance
        and box.ymax <= height + tolerance
    )


def _clip(box: Box, width: int, height: int) -> Box:
    if _within(box, width, height, 0.0):
        return box
    return replace(
        box,
        xmin=min(max(box.xmin, 0.0), float(width)),
        ymin=min(max(box.ymin, 0.0), float(height)),
        xmax=min(max(box.xmax, 0.0), float(width)),
        ymax=min(max(box.ymax, 0.0), float(height)),
    )
