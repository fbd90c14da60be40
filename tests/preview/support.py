"""Datasets the preview tests draw: a small COCO file with every kind of item, real images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw


def coloured(path: Path, width: int, height: int, *, patch: tuple[int, int, int, int] | None = None,
             exif_orientation: int | None = None) -> Path:
    """Write a real JPEG or PNG; ``patch`` paints a white rectangle (stored pixels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (width, height), (40, 90, 160))
    if patch is not None:
        ImageDraw.Draw(image).rectangle((patch[0], patch[1], patch[2] - 1, patch[3] - 1),
                                        fill=(255, 255, 255))
    kwargs: dict[str, Any] = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(path, "PNG" if path.suffix == ".png" else "JPEG", quality=95, **kwargs)
    return path


def write_mixed_coco(root: Path) -> dict[str, Any]:
    """Write a COCO dataset with clean, clipped, missing, broken and refused items.

    Returns the config (as data; paths relative to ``root``). What it holds, by hand:
    a.jpg 100x80 (cat 10,10,30,30; dog 50.5,20.2,80.5,60.2), b.jpg 60x40 (cat 40,10,80,30,
    half outside), c.png 30x30 (no box), missing.jpg 50x50 (cat 1,1,6,6; no file),
    broken.jpg 40x40 (text, not an image), d.jpg 100x80 stated as "wide" (dog, dog, cat),
    e.jpg 20x20 (an annotation of an unknown category), and an annotation of image 99.
    """
    images = root / "images"
    coloured(images / "a.jpg", 100, 80)
    coloured(images / "b.jpg", 60, 40)
    coloured(images / "c.png", 30, 30)
    (images / "broken.jpg").write_text("this is not an image\n", encoding="utf-8")
    coloured(images / "d.jpg", 100, 80)
    coloured(images / "e.jpg", 20, 20)
    listed = [("a.jpg", 100, 80), ("b.jpg", 60, 40), ("c.png", 30, 30), ("missing.jpg", 50, 50),
              ("broken.jpg", 40, 40), ("d.jpg", "wide", 80), ("e.jpg", 20, 20)]
    boxes = [(1, 1, [10, 10, 20, 20]), (1, 2, [50.5, 20.2, 30, 40]), (2, 1, [40, 10, 40, 20]),
             (4, 1, [1, 1, 5, 5]), (6, 2, [0, 0, 10, 10]), (6, 2, [10, 10, 10, 10]),
             (6, 1, [20, 20, 10, 10]), (7, 77, [1, 1, 5, 5]), (99, 1, [1, 1, 2, 2])]
    data = {
        "images": [{"id": n, "file_name": name, "width": w, "height": h}
                   for n, (name, w, h) in enumerate(listed, 1)],
        "annotations": [{"id": n, "image_id": image, "category_id": category, "bbox": bbox,
                         "area": bbox[2] * bbox[3], "iscrowd": 0}
                        for n, (image, category, bbox) in enumerate(boxes, 1)],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    (root / "coco.json").write_text(json.dumps(data), encoding="utf-8")
    return {"dataset": {"name": "mixed"},
            "source": {"type": "coco", "path": "coco.json", "images": "images",
                       "image_category": "single"}}
