"""Write ORACLE.json in each LabelMe folder here: what labelme's own code reads from it.

Run with labelme installed in a separate venv (never the project's):

    python3.11 -m venv /tmp/oracle-labelme
    /tmp/oracle-labelme/bin/pip install labelme        # labelme 6.3.1, numpy 2.4.6, pillow 13.0.0
    QT_QPA_PLATFORM=offscreen /tmp/oracle-labelme/bin/python \
        plugins/osai-import-labelme/tests/data/make_oracle.py

labelme 6.3.1 is the newest release that installs on Python 3.11 (labelme 7 needs 3.12).
This script shares no code with the reader. For each JSON file it uses:

- ``labelme.LabelFile(path)`` to load the file (image bytes, shapes, flags). LabelMe
  6.x refuses shapes without ``shape_type``, which LabelMe 3.x files lack
  (``labelme_tutorial_2018``); for those files the JSON is read here with ``json`` and
  a missing ``shape_type`` taken as ``polygon`` (what LabelMe 3.x drew), noted as
  ``"loaded_by": "json"``.
- ``points_bounds``: the shape's bounds from its points as labelme loaded them: min/max
  of the points, and for a circle the centre +- the distance to the second point (the
  square labelme's ``shape_to_mask`` draws its ellipse in).
- ``raster_bounds``: the bounds of the pixels labelme itself paints for the shape,
  ``[xmin, ymin, xmax + 1, ymax + 1]`` of the non-zero pixels (a pixel covers
  ``[i, i + 1)``): ``labelme.utils.shape_to_mask`` for drawn shapes, and for a ``mask``
  shape labelme's own ``shapes_to_label`` placement (the mask pasted at the first point).
  Rasterizing fills whole pixels touched by the outline, so for drawn shapes these are
  whole numbers within about 1.5 px of the points' bounds; for masks they are exact.
- ``objects``: shapes grouped as labelme2coco groups them (same label and ``group_id``;
  a shape without ``group_id`` alone), each with the union of its shapes' bounds.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import labelme
import numpy as np
import PIL.Image
from labelme.utils import shape_to_mask, shapes_to_label

HERE = Path(__file__).parent
NAMES = [
    "labelme_bbox_detection",
    "labelme_instance_segmentation",
    "labelme_primitives",
    "labelme_classification",
    "labelme_tutorial",
    "labelme_tutorial_2018",
    "tony607_labelme2coco",
]


def pixel_bounds(mask: np.ndarray) -> list[float] | None:
    found = np.argwhere(mask)
    if not len(found):
        return None
    (y0, x0), (y1, x1) = found.min(axis=0), found.max(axis=0)
    return [float(x0), float(y0), float(x1 + 1), float(y1 + 1)]


def point_bounds(shape: dict[str, Any]) -> list[float]:
    points = [(float(x), float(y)) for x, y in shape["points"]]
    if shape["shape_type"] == "circle":
        (cx, cy), (px, py) = points
        r = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
        return [cx - r, cy - r, cx + r, cy + r]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def raster(shape: dict[str, Any], size: tuple[int, int]) -> list[float] | None:
    height, width = size
    if shape["shape_type"] == "mask":
        _cls, ins = shapes_to_label((height, width), [shape], {shape["label"]: 1})
        return pixel_bounds(ins > 0)
    return pixel_bounds(shape_to_mask((height, width), shape["points"], shape["shape_type"]))


def load(path: Path) -> tuple[str, bytes, list[dict[str, Any]], dict[str, Any]]:
    """Return (loaded_by, image bytes, shapes, flags) of one LabelMe file."""
    try:
        label_file = labelme.LabelFile(str(path))
        return "labelme.LabelFile", label_file.image_data, label_file.shapes, label_file.flags
    except Exception as exc:
        raw = json.loads(path.read_bytes())
        if any("shape_type" in s for s in raw["shapes"]):
            raise RuntimeError(f"{path}: labelme refused a file with shape types: {exc}") from exc
        import base64

        image = base64.b64decode(raw["imageData"])
        shapes = [
            {**s, "shape_type": s.get("shape_type") or "polygon", "group_id": s.get("group_id"),
             "mask": None}
            for s in raw["shapes"]
        ]
        return "json", image, shapes, raw.get("flags") or {}


def oracle(folder: Path) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == "ORACLE.json":
            continue
        loaded_by, image, shapes, flags = load(path)
        with PIL.Image.open(io.BytesIO(image)) as opened:
            width, height = opened.size
        listed = []
        objects: dict[Any, dict[str, Any]] = {}
        for index, shape in enumerate(shapes):
            entry = {
                "index": index,
                "label": shape["label"],
                "shape_type": shape["shape_type"],
                "group_id": shape["group_id"],
                "points_bounds": point_bounds(shape),
                "raster_bounds": raster(shape, (height, width)),
            }
            listed.append(entry)
            group = (shape["label"], shape["group_id"]) if shape["group_id"] is not None else index
            if group not in objects:
                objects[group] = {"label": shape["label"], "shapes": [], "bounds": None,
                                  "raster": None}
            made = objects[group]
            made["shapes"].append(index)
            for key, value in (("bounds", entry["points_bounds"]),
                               ("raster", entry["raster_bounds"])):
                if value is not None:
                    old = made[key] or value
                    made[key] = [min(old[0], value[0]), min(old[1], value[1]),
                                 max(old[2], value[2]), max(old[3], value[3])]
        files[path.name] = {
            "loaded_by": loaded_by,
            "image_sha256": hashlib.sha256(image).hexdigest(),
            "image_size": [width, height],
            "flags": flags,
            "shapes": listed,
            "objects": list(objects.values()),
        }
    return {
        "dataset": folder.name,
        "generated_by": "make_oracle.py",
        "oracle_versions": {
            name: metadata.version(name) for name in ("labelme", "numpy", "pillow")
        },
        "python": sys.version.split()[0],
        "box_convention": "[xmin, ymin, xmax, ymax] in pixels of the image labelme loads; "
        "points_bounds from the points as loaded (circle: centre +- radius); raster_bounds "
        "from the pixels labelme paints, right/bottom edge = last pixel + 1; masks pasted "
        "at the first point as labelme's shapes_to_label does. Not rounded.",
        "files": files,
    }


def main() -> None:
    for name in NAMES:
        folder = HERE / name
        result = oracle(folder)
        (folder / "ORACLE.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(name, len(result["files"]), "file(s)")


if __name__ == "__main__":
    main()
