"""Write ORACLE.json (and the exports made by Label Studio's own code) with label-studio-converter.

Run in a virtualenv of its own, never in osai-import's:

    python3.11 -m venv /tmp/oracle-labelstudio
    /tmp/oracle-labelstudio/bin/pip install label-studio-converter==0.0.59
    /tmp/oracle-labelstudio/bin/python plugins/osai-import-labelstudio/tests/data/make_oracle.py

Versions used for the committed ORACLE.json: Python 3.11.7, label-studio-converter 0.0.59
(with ijson 3.2.3, numpy 2.4.6, Pillow 13.0.0).

It shares no code with the reader. What it writes:

1. ``brush/brush.json``: one task whose brush result is made by the converter's
   ``brush.image2annotation`` from ``brush/mask.png`` (the converter's tests/test.png).
2. ``json_min/*.json``: the converter's ``convert_to_json_min`` of two full exports.
3. ``ORACLE.json``: for every export, the boxes of every annotation, keyed
   ``"<task id>/<annotation id>"``, as ``[label, xmin, ymin, xmax, ymax]`` in pixels:
   - rectangles and polygons: the converter's ``convert_to_coco`` ``bbox`` ``[x, y, w, h]``
     (floats, not rounded: ``x * original_width / 100``; polygons: the bounds of the
     points), turned into corners ``(x, y, x + w, y + h)``;
   - rotated rectangles (``converter_obb``): the converter's YOLO OBB export
     (``convert_to_yolo(is_obb=True)``), whose four corners are rotated in pixels about the
     top-left corner; the box is their bounds times ``original_width``/``original_height``.
     (Its COCO export rotates in percent units, which is wrong for images that are not
     square, so it is not the oracle for those.)
   - brushes: the converter's ``brush.decode_rle``, reshaped to ``[height, width, 4]`` as
     its PNG export does; the box is the bounds of the pixels whose alpha is not 0, right
     and bottom edges one past the last pixel.
   The converter yields every annotation that was not cancelled, so every one is listed.
   Key points are not boxes for the converter's COCO export; they are not listed.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import label_studio_converter
import numpy as np
from label_studio_converter import Converter, brush

HERE = Path(__file__).resolve().parent
COCO = {
    "converter_yolo/data.json": "converter_yolo/label_config.xml",
    "converter_polygons/data_polygons.json": "converter_polygons/label_config_polygons.xml",
    "converter_json_min/data.json": "converter_json_min/label_config.xml",
    "sdk_coco/data.json": "sdk_coco/label_config.xml",
    "sdk_keypoints/data_keypoints.json": "sdk_keypoints/label_config_keypoints.xml",
}
OBB = {"converter_obb/data_obb.json": "converter_obb/label_config_obb.xml"}
MIN = {
    "json_min/converter_yolo_min.json": "converter_yolo/data.json",
    "json_min/sdk_coco_min.json": "sdk_coco/data.json",
}
BRUSH_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="tag" toName="image">
    <Label value="Airplane"/>
  </BrushLabels>
</View>"""


def make_brush() -> None:
    annotation = brush.image2annotation(
        str(HERE / "brush" / "mask.png"), label_name="Airplane", from_name="tag",
        to_name="image",
    )
    for n, result in enumerate(annotation["result"]):
        result["id"] = f"brush{n}"  # image2annotation draws a random id
    task = {
        "id": 1,
        "data": {"image": "mask.png"},
        "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": False, **annotation}],
        "predictions": [],
    }
    (HERE / "brush" / "brush.json").write_text(json.dumps([task], indent=1) + "\n")


def make_json_min() -> None:
    for out, source in MIN.items():
        with tempfile.TemporaryDirectory() as tmp:
            converter = Converter(str(HERE / COCO[source]), tmp, download_resources=False)
            converter.convert_to_json_min(str(HERE / source), tmp, is_dir=False)
            data = json.loads((Path(tmp) / "result.json").read_text())
        (HERE / out).parent.mkdir(exist_ok=True)
        (HERE / out).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def coco_boxes(export: str, config: str) -> dict[str, list[list[object]]]:
    with tempfile.TemporaryDirectory() as tmp:
        converter = Converter(str(HERE / config), tmp, download_resources=False)
        items = list(converter.iter_from_json_file(str(HERE / export)))
        converter.convert_to_coco(str(HERE / export), tmp, is_dir=False)
        coco = json.loads((Path(tmp) / "result.json").read_text())
    assert len(coco["images"]) == len(items), (export, len(coco["images"]), len(items))
    names = {c["id"]: c["name"] for c in coco["categories"]}
    boxes: dict[str, list[list[object]]] = {}
    for image_id, item in enumerate(items):
        key = f"{item['id']}/{item['annotation_id']}"
        boxes[key] = [
            [names[a["category_id"]], a["bbox"][0], a["bbox"][1],
             a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            for a in coco["annotations"] if a["image_id"] == image_id
        ]
    return boxes


def obb_boxes(export: str, config: str) -> dict[str, list[list[object]]]:
    with tempfile.TemporaryDirectory() as tmp:
        converter = Converter(str(HERE / config), tmp, download_resources=False)
        items = list(converter.iter_from_json_file(str(HERE / export)))
        converter.convert_to_yolo(str(HERE / export), tmp, is_dir=False, is_obb=True)
        classes = (Path(tmp) / "classes.txt").read_text().split("\n")
        boxes: dict[str, list[list[object]]] = {}
        for item in items:
            (region, *_), *_ = item["output"].values()
            width, height = region["original_width"], region["original_height"]
            name = Path(item["input"]["image"]).stem
            rows = []
            for line in (Path(tmp) / "labels" / f"{name}.txt").read_text().splitlines():
                number, *corners = line.split()
                xs = [float(v) * width for v in corners[0::2]]
                ys = [float(v) * height for v in corners[1::2]]
                rows.append([classes[int(number)], min(xs), min(ys), max(xs), max(ys)])
            boxes[f"{item['id']}/{item['annotation_id']}"] = rows
    return boxes


def brush_boxes(export: str) -> dict[str, list[list[object]]]:
    boxes: dict[str, list[list[object]]] = {}
    for task in json.loads((HERE / export).read_text()):
        for annotation in task["annotations"]:
            rows = []
            for result in annotation["result"]:
                width, height = result["original_width"], result["original_height"]
                values = brush.decode_rle(result["value"]["rle"])
                alpha = np.reshape(values, [height, width, 4])[:, :, 3]
                ys, xs = np.nonzero(alpha)
                rows.append([result["value"]["brushlabels"][0], int(xs.min()), int(ys.min()),
                             int(xs.max()) + 1, int(ys.max()) + 1])
            boxes[f"{task['id']}/{annotation['id']}"] = rows
    return boxes


def main() -> None:
    make_brush()
    make_json_min()
    exports: dict[str, object] = {}
    for export, config in COCO.items():
        exports[export] = {"how": "convert_to_coco", "boxes": coco_boxes(export, config)}
    for export, config in OBB.items():
        exports[export] = {"how": "convert_to_yolo(is_obb=True)",
                           "boxes": obb_boxes(export, config)}
    exports["brush/brush.json"] = {"how": "brush.decode_rle", "boxes": brush_boxes(
        "brush/brush.json")}
    oracle = {
        "tool": f"label-studio-converter {label_studio_converter.__version__}",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "convention": "[label, xmin, ymin, xmax, ymax] in pixels, not rounded",
        "exports": exports,
    }
    text = json.dumps(oracle, indent=1)
    # One box per line: a list of numbers and a label is easier to read and to diff.
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    (HERE / "ORACLE.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
