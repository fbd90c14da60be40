"""The built-in `voc` encoder: one Pascal VOC XML annotation per image.

Coordinates (see docs/encoders.md): each box is clipped to the image, then widened to
whole pixels (xmin/ymin floored, xmax/ymax ceiled) so the written box contains the
source box; a box with area never becomes a zero-area one, and a box with no area inside
the image is left out (OSAI refuses ``xmin >= xmax``).

The document is written as text, byte for byte what lxml's pretty printer writes for the
same tree: joining strings costs a fraction of building and serializing an lxml tree for
every image. Text that is not plain (markup characters, control characters) still goes
through lxml, so it is checked and escaped exactly as lxml does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Literal, cast

from lxml import etree
from pydantic import Field

from osai_import import (
    Annotation,
    Box,
    Encoder,
    ImageRecord,
    ItemError,
    PluginOptions,
    hookimpl,
)

VOC_ANNOTATION_TYPE = 0
# Float noise such as 0.1 + 0.2 must not add a pixel: values this close to a whole
# number count as that number.
SNAP = 1e-6

PixelBox = tuple[float, float, float, float, bool]

# Characters lxml writes as they are: XML characters other than the escaped & < > and
# CR, without the C0 controls, surrogates and U+FFFE/U+FFFF that lxml refuses.
_PLAIN = re.compile("[\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n<annotation>\n"
_HEAD = (
    "  <filename>{name}</filename>\n"
    "  <path>{name}</path>\n"
    "  <source>\n"
    "    <database>{database}</database>\n"
    "  </source>\n"
    "  <size>\n"
    "    <width>{width}</width>\n"
    "    <height>{height}</height>\n"
    "    <depth>{depth}</depth>\n"
    "  </size>\n"
    "  <segmented>0</segmented>\n"
)
_OBJECT = (
    "  <object>\n"
    "    <name>{}</name>\n"
    "    <pose>{}</pose>\n"
    "    <truncated>{}</truncated>\n"
    "    <difficult>{}</difficult>\n"
    "    <occluded>{}</occluded>\n"
    "    <bndbox>\n"
    "      <xmin>{}</xmin>\n"
    "      <ymin>{}</ymin>\n"
    "      <xmax>{}</xmax>\n"
    "      <ymax>{}</ymax>\n"
    "    </bndbox>\n"
    "  </object>\n"
)
_END = "</annotation>\n"


class VocOptions(PluginOptions):
    """Options of the `voc` encoder."""

    precision: Literal["int", "float"] = Field(
        default="int",
        description="`int`: whole pixels that contain the source box; `float`: the clipped "
        "source values as they are",
    )
    empty: Literal["skip", "annotation"] = Field(
        default="skip",
        description="images without boxes: send no annotation (`skip`), or an annotation "
        "with the size and no objects",
    )
    folder: str | None = Field(default=None, description="text of <folder>; omitted when unset")
    database: str = Field(default="Unknown", description="text of <source><database>")


def _outward(low: float, high: float) -> tuple[int, int]:
    """Return whole pixels that contain [low, high], ignoring float noise below SNAP."""
    first, last = math.floor(low + SNAP), math.ceil(high - SNAP)
    if first >= last:  # a sub-SNAP box: keep it at least one pixel wide
        first, last = math.floor(low), math.ceil(high)
    return first, last


def pixel_box(box: Box, width: int, height: int, precision: str = "int") -> PixelBox | None:
    """Return (xmin, ymin, xmax, ymax, clipped) as written, or None when nothing is inside.

    ``clipped`` is True when the box crossed an image edge by more than SNAP.
    """
    x1 = box.xmin if box.xmin > 0 else 0.0
    y1 = box.ymin if box.ymin > 0 else 0.0
    x2 = box.xmax if box.xmax < width else float(width)
    y2 = box.ymax if box.ymax < height else float(height)
    if not (x1 < x2 and y1 < y2):
        return None
    clipped = (box.xmin < -SNAP or box.ymin < -SNAP
               or box.xmax > width + SNAP or box.ymax > height + SNAP)
    if precision == "float":
        return x1, y1, x2, y2, clipped
    ix1, ix2 = _outward(x1, x2)
    iy1, iy2 = _outward(y1, y2)
    return ix1, iy1, ix2, iy2, clipped


def _int_text(value: float) -> str:
    return str(int(value))


def _float_text(value: float) -> str:
    text = repr(float(value))  # the shortest text that reads back as the same float
    if "e" in text:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text


def _escape(text: str) -> str:
    """Return ``text`` as lxml writes it inside an element; raise ValueError where lxml does."""
    if _PLAIN.fullmatch(text):
        return text
    scratch = etree.Element("x")
    # lxml's own check and escaping: the same error message, and the same bytes.
    scratch.text = text
    return etree.tostring(scratch, encoding="UTF-8")[3:-4].decode("utf-8")


class VocEncoder(Encoder):
    """Write Pascal VOC XML (annotationType 0): one object per box, in whole pixels."""

    name = "voc"
    Options = VocOptions

    def encode(self, record: ImageRecord) -> Annotation | None:
        """Return the VOC annotation of ``record``, or None when it has no box to write."""
        options = cast(VocOptions, self.options)
        width, height = record.width, record.height
        if width is None or height is None:
            raise ItemError(
                "voc.size_unknown",
                f"{record.path}: the image size is unknown, so its boxes cannot be written; "
                "records must pass the check step (which reads the size) before encoding",
            )
        precision = options.precision
        for box in record.boxes:
            if not box.label:
                raise ItemError(
                    "voc.no_label",
                    f"{record.path}: a box has no label; VOC objects need a name (the check "
                    "step reports such boxes)",
                )
        boxes = [(box, pixel) for box in record.boxes
                 if (pixel := pixel_box(box, width, height, precision)) is not None]
        if not boxes and options.empty == "skip":
            return None
        fmt: Callable[[float], str] = _int_text if precision == "int" else _float_text
        try:
            # Texts are checked in a fixed order (name, database, folder, then each box's
            # label and pose): the first one refused is the one the error quotes.
            name = _escape(record.name)
            head = _HEAD.format(
                name=name,
                database=_escape(options.database),
                width=str(width),
                height=str(height),
                depth=str(record.depth or 3),
            )
            if options.folder is not None:
                head = f"  <folder>{_escape(options.folder)}</folder>\n{head}"
            parts = [_DECLARATION, head]
            for box, (x1, y1, x2, y2, clipped) in boxes:
                label = _escape(box.label)
                pose = "Unspecified" if box.pose == "Unspecified" else _escape(box.pose)
                parts.append(_OBJECT.format(
                    label,
                    pose,
                    "1" if box.truncated or clipped else "0",
                    "1" if box.difficult else "0",
                    "1" if box.occluded else "0",
                    fmt(x1), fmt(y1), fmt(x2), fmt(y2),
                ))
        except ValueError as exc:  # lxml refuses control characters and NUL in text
            raise ItemError(
                "voc.invalid_text",
                f"{record.path}: a name or label cannot be written to XML ({exc}); remove "
                "control characters from file names and category names",
            ) from None
        parts.append(_END)
        return Annotation(VOC_ANNOTATION_TYPE, "".join(parts).encode("utf-8"))


@hookimpl(trylast=True)
def register_encoders(register: Any) -> None:
    """Register the `voc` encoder."""
    register(VocEncoder)
