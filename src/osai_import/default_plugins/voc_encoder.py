"""The built-in `voc` encoder: one Pascal VOC XML annotation per image, built with lxml.

Coordinates (see docs/encoders.md): each box is clipped to the image, then widened to
whole pixels (xmin/ymin floored, xmax/ymax ceiled) so the written box contains the
source box; a box with area never becomes a zero-area one, and a box with no area inside
the image is left out (OSAI refuses ``xmin >= xmax``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Literal, cast

from lxml import etree
from pydantic import Field

from osai_import import hookimpl
from osai_import.base import Annotation, Encoder, PluginOptions
from osai_import.errors import ItemError
from osai_import.records import Box, ImageRecord

VOC_ANNOTATION_TYPE = 0
# Float noise such as 0.1 + 0.2 must not add a pixel: values this close to a whole
# number count as that number.
SNAP = 1e-6

PixelBox = tuple[float, float, float, float, bool]
# lxml trees are best not shared between threads: each upload worker gets its own
# skeletons, deep-copied (in C) for every record rather than built element by element.
_LOCAL = threading.local()


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


def _templates() -> tuple[etree._Element, etree._Element]:
    """Return a fresh (annotation, object) pair of skeletons to deep-copy from."""
    head = etree.Element("annotation")
    sub = etree.SubElement
    sub(head, "filename")
    sub(head, "path")
    sub(sub(head, "source"), "database")
    size = sub(head, "size")
    for tag in ("width", "height", "depth"):
        sub(size, tag)
    sub(head, "segmented").text = "0"
    obj = etree.Element("object")
    for tag, text in (("name", ""), ("pose", "Unspecified"), ("truncated", "0"),
                      ("difficult", "0"), ("occluded", "0")):
        sub(obj, tag).text = text
    bndbox = sub(obj, "bndbox")
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        sub(bndbox, tag)
    return head, obj


class VocEncoder(Encoder):
    """Write Pascal VOC XML (annotationType 0): one object per box, in whole pixels."""

    name = "voc"
    Options = VocOptions

    @staticmethod
    def _skeletons() -> tuple[etree._Element, etree._Element]:
        pair = getattr(_LOCAL, "pair", None)
        if pair is None:
            pair = _LOCAL.pair = _templates()
        return cast(tuple[etree._Element, etree._Element], pair)

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
        head, template = self._skeletons()
        root = head.__copy__()  # a deep copy of the subtree, without copy.deepcopy's overhead
        try:
            self._fill_head(root, record, width, height, options)
            for box, (x1, y1, x2, y2, clipped) in boxes:
                obj = template.__copy__()
                name, pose, truncated, difficult, occluded, bndbox = obj
                name.text = box.label
                if box.pose != "Unspecified":
                    pose.text = box.pose
                if box.truncated or clipped:
                    truncated.text = "1"
                if box.difficult:
                    difficult.text = "1"
                if box.occluded:
                    occluded.text = "1"
                xmin, ymin, xmax, ymax = bndbox
                xmin.text, ymin.text, xmax.text, ymax.text = fmt(x1), fmt(y1), fmt(x2), fmt(y2)
                root.append(obj)
        except ValueError as exc:  # lxml refuses control characters and NUL in text
            raise ItemError(
                "voc.invalid_text",
                f"{record.path}: a name or label cannot be written to XML ({exc}); remove "
                "control characters from file names and category names",
            ) from None
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        return Annotation(VOC_ANNOTATION_TYPE, data)

    @staticmethod
    def _fill_head(root: etree._Element, record: ImageRecord, width: int, height: int,
                   options: VocOptions) -> None:
        filename, path, source, size = root[0], root[1], root[2], root[3]
        filename.text = record.name
        # The remote name, not the local path: the server has no use for the uploader's
        # folders, and they may be private.
        path.text = record.name
        source[0].text = options.database
        size[0].text, size[1].text = str(width), str(height)
        size[2].text = str(record.depth or 3)
        if options.folder is not None:
            folder = etree.Element("folder")
            folder.text = options.folder
            root.insert(0, folder)


@hookimpl(trylast=True)
def register_encoders(register: Any) -> None:
    """Register the `voc` encoder."""
    register(VocEncoder)
