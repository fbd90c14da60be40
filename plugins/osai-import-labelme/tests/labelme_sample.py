"""Write small LabelMe files for the tests: real images, LabelMe 5.x JSON as LabelMe saves it."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from osai_import.testing import make_image


def shape(label: str, points: list[list[float]], shape_type: str | None = "polygon",
          **more: Any) -> dict[str, Any]:
    """Return one shape as LabelMe 5.x writes it."""
    found: dict[str, Any] = {
        "label": label, "points": points, "group_id": None, "description": "",
        "shape_type": shape_type, "flags": {}, "mask": None,
    }
    found.update(more)
    return found


def mask_text(rows: list[str]) -> str:
    """Return a LabelMe mask: base64 of a one-channel PNG, ``#`` a set pixel, ``.`` not."""
    image = Image.new("L", (len(rows[0]), len(rows)), 0)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char == "#":
                image.putpixel((x, y), 1)
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def image_bytes(width: int, height: int, fmt: str = "JPEG",
                color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


def labelme_file(path: Path, shapes: list[dict[str, Any]], *, image_path: str | None,
                 size: tuple[int, int] | None = None, image_data: bytes | None = None,
                 flags: dict[str, bool] | None = None, **more: Any) -> Path:
    """Write a LabelMe 5.x JSON file and return its path."""
    document: dict[str, Any] = {
        "version": "5.4.1",
        "flags": flags or {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": base64.b64encode(image_data).decode("ascii") if image_data else None,
        "imageHeight": size[1] if size else None,
        "imageWidth": size[0] if size else None,
    }
    document.update(more)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def write_sample(root: Path) -> Path:
    """Write a LabelMe folder: images beside their JSON, one only as imageData, a mask."""
    make_image(root / "a.jpg", 40, 30)
    labelme_file(root / "a.json", [
        shape("cat", [[30.5, 20.25], [4.0, 2.0]], "rectangle"),
        shape("dog", [[10, 5], [20, 5], [15, 25]]),
        shape("lane", [[0, 0], [39, 29]], "line"),
    ], image_path="a.jpg", size=(40, 30))
    make_image(root / "sub" / "b.png", 20, 20)
    labelme_file(root / "sub" / "b.json", [
        shape("cat", [[10, 10], [13, 14]], "circle"),
        shape("dog", [[2.0, 3.0], [7.0, 6.0]], "mask", mask=mask_text([
            "......", "..##..", ".###..", "......"])),
    ], image_path="b.png", size=(20, 20))
    labelme_file(root / "sub" / "c.json", [
        shape("cat", [[1, 1], [9, 7]], "rectangle"),
    ], image_path="c.jpg", size=(12, 8), image_data=image_bytes(12, 8))
    labelme_file(root / "d.json", [], image_path="d.jpg", size=(16, 16),
                 image_data=image_bytes(16, 16, "PNG"))
    return root
