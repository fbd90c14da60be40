"""Shared helpers of the voc plugin's tests: a writer of small, real VOC folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from osai_import.testing import make_image

Items = dict[str, tuple[int, int, list[tuple[str, tuple[float, ...]]]]]
WriteVoc = Callable[..., Path]

XML = """<annotation><filename>{name}</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = (
    "<object><name>{label}</name><difficult>{difficult}</difficult><bndbox><xmin>{box[0]}</xmin>"
    "<ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>"
)
SAMPLE: Items = {
    "a": (40, 30, [("cat", (1, 2, 20, 25)), ("dog", (10.5, 3.5, 39, 29))]),
    "b": (32, 32, [("dog", (0, 0, 32, 32))]),
    "c": (20, 10, []),
    "d": (16, 16, [("cat", (2, 2, 8, 8))]),
}


def _write_voc(
    root: Path, items: Items = SAMPLE, lists: dict[str, list[str]] | None = None
) -> Path:
    """Write a VOC folder: an image and an XML per item (second box difficult), and split lists."""
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for stem, (w, h, boxes) in items.items():
        make_image(root / "JPEGImages" / f"{stem}.jpg", w, h)
        objects = "".join(
            OBJECT.format(label=label, box=box, difficult=int(i == 1))
            for i, (label, box) in enumerate(boxes)
        )
        (root / "Annotations" / f"{stem}.xml").write_text(
            XML.format(name=f"{stem}.jpg", w=w, h=h, objects=objects), encoding="utf-8"
        )
    for split, ids in (lists or {}).items():
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return root


@pytest.fixture
def write_voc() -> WriteVoc:
    """Return the VOC folder writer: ``write_voc(root, items=SAMPLE, lists=None)``."""
    return _write_voc
