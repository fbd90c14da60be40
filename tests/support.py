"""Helpers shared by the tests: the checkout's folders, real image files made with Pillow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT / "tests" / "data" / "realdata"
# What a run of the shipped configs leaves beside them (the README's first command does):
# the local server's data and the journal. Tests that copy configs/ leave them behind.
LEFT_BY_RUNS = shutil.ignore_patterns(".osai-local", ".osai-import")
CONFIGS = ROOT / "configs"
DOCS = ROOT / "docs"


def make_image(
    path: Path,
    width: int = 32,
    height: int = 24,
    color: tuple[int, int, int] = (200, 30, 30),
    fmt: str | None = None,
    exif_orientation: int | None = None,
) -> Path:
    """Write a real JPEG or PNG (by ``fmt`` or the suffix) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or ("PNG" if path.suffix.lower() == ".png" else "JPEG")
    image = Image.new("RGB", (width, height), color)
    kwargs: dict[str, object] = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(path, fmt, **kwargs)
    return path


def oracle(name: str) -> dict[str, dict[str, Any]]:
    """Return {file: {"boxes", "labels", "size"}} of the whole dataset, as datumaro reads it.

    A view over all subsets is taken when there is one; otherwise views are joined, and a
    view listing the same files as one taken already (another encoding of the same
    annotations) is left out.
    """
    data = json.loads((REALDATA / name / "ORACLE.json").read_text(encoding="utf-8"))
    views = data["views"]
    whole = [v for k, v in views.items() if "all subsets" in k]
    images: dict[str, dict[str, Any]] = {}
    for view in whole or list(views.values()):
        found = view["oracles"].get("datumaro") or next(iter(view["oracles"].values()))
        files = {image["file"] for image in found["images"]}
        if files & set(images):
            continue
        for image in found["images"]:
            extras = image.get("box_extras") or [{}] * len(image.get("boxes", []))
            # COCO crowd regions are left out by the coco reader's default (iscrowd: skip).
            boxes = [b for b, e in zip(image.get("boxes", []), extras, strict=True)
                     if not e.get("is_crowd")]
            images[image["file"]] = {"boxes": boxes,
                                     "labels": image.get("labels") or [],
                                     "size": (image.get("width"), image.get("height"))}
    return images


def clipped(boxes: list[list[Any]], size: tuple[Any, Any]) -> list[tuple[Any, ...]]:
    """Return boxes clipped to the image as the check clips them; those left outside go."""
    width, height = size
    out = []
    for label, x1, y1, x2, y2 in boxes:
        if width and height:
            x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
            y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
            if x2 <= x1 or y2 <= y1:
                continue  # entirely outside: the check drops it
        out.append((label, x1, y1, x2, y2))
    return sorted(out, key=lambda b: (b[0], *(round(c) for c in b[1:])))
