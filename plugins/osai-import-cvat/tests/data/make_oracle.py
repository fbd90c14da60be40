"""Write ORACLE.json for each dataset here: what datumaro's CVAT importer reads from it.

Independent of the reader under test: it runs in its own virtual environment with
datumaro, and shares no code with osai_import_cvat. Made with:

    python3.11 -m venv /tmp/oracle-cvat
    /tmp/oracle-cvat/bin/pip install datumaro          # datumaro 1.13.12, numpy 2.4.6
    cd plugins/osai-import-cvat/tests/data
    /tmp/oracle-cvat/bin/python make_oracle.py

Convention of the boxes written, ``[label, xmin, ymin, xmax, ymax]`` in pixels, no
rounding beyond 4 decimals: a ``Bbox`` is ``[x, y, x + w, y + h]`` (CVAT's xtl, ytl, xbr,
ybr as written); a ``Polygon`` is the min/max of its points; a ``Mask`` is datumaro's
``get_bbox()`` (``[x, y, w, h]`` over whole pixels, ``w = x1 - x0 + 1``) as
``[x, y, x + w, y + h]``. Polylines and point sets are listed apart, with the same
bounds, since the reader skips them by default. Track shapes that datumaro marks
``outside`` are counted, not listed: the object is not on that frame. ``tags`` are the
labels of datumaro's ``Label`` annotations.

Where datumaro cannot read a file (the example in CVAT's own documentation tags an
image with a label its <meta> does not declare, and datumaro stops on it), the oracle
is an independent parse written here with defusedxml's ElementTree, which follows CVAT's
documentation of the format; ``oracle`` in ORACLE.json says which one was used.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

from datumaro.components.annotation import AnnotationType, LabelCategories
from datumaro.components.dataset import Dataset
from datumaro.components.errors import DatasetImportError
from defusedxml import ElementTree

HERE = Path(__file__).parent
DATASETS = [
    "datumaro_for_images_export_project",
    "datumaro_for_images_export_task",
    "datumaro_for_video",
    "cvat_docs_images",
    "cvat_docs_video",
]


def bounds(points: list[float]) -> list[float]:
    xs, ys = points[0::2], points[1::2]
    return [min(xs), min(ys), max(xs), max(ys)]


def rounded(values: list[float]) -> list[float]:
    return [round(float(v), 4) for v in values]


def read(name: str) -> dict[str, object]:
    root = HERE / name
    dataset = Dataset.import_from(str(root), "cvat")
    labels = dataset.categories()[AnnotationType.label]
    assert isinstance(labels, LabelCategories)

    def label(index: int | None) -> str | None:
        return None if index is None else labels[index].name

    items = []
    for item in sorted(dataset, key=lambda i: (i.subset, int(i.attributes.get("frame", 0)))):
        media = Path(item.media.path)
        try:
            file = media.relative_to(root / "images").as_posix()
        except ValueError:
            file = os.path.basename(media)
        entry: dict[str, object] = {
            "file": file,
            "subset": item.subset,
            "frame": int(item.attributes.get("frame", -1)),
            "boxes": [],
            "polylines": [],
            "points": [],
            "tags": [],
            "outside": 0,
        }
        for ann in item.annotations:
            if ann.attributes.get("outside"):
                entry["outside"] += 1  # type: ignore[operator]
                continue
            name_ = label(getattr(ann, "label", None))
            if ann.type == AnnotationType.bbox:
                x, y, w, h = ann.get_bbox()
                entry["boxes"].append([name_, *rounded([x, y, x + w, y + h])])  # type: ignore[attr-defined]
            elif ann.type == AnnotationType.polygon:
                entry["boxes"].append([name_, *rounded(bounds(ann.points))])  # type: ignore[attr-defined]
            elif ann.type == AnnotationType.mask:
                x, y, w, h = ann.get_bbox()
                entry["boxes"].append([name_, *rounded([x, y, x + w, y + h])])  # type: ignore[attr-defined]
            elif ann.type == AnnotationType.polyline:
                entry["polylines"].append([name_, *rounded(bounds(ann.points))])  # type: ignore[attr-defined]
            elif ann.type == AnnotationType.points:
                entry["points"].append([name_, *rounded(bounds(ann.points))])  # type: ignore[attr-defined]
            elif ann.type == AnnotationType.label:
                entry["tags"].append(name_)  # type: ignore[attr-defined]
            else:
                raise AssertionError(f"{name}: unexpected {ann.type}")
        items.append(entry)
    return {
        "dataset": name,
        "generated_by": "make_oracle.py",
        "oracle": "datumaro's CVAT importer (Dataset.import_from(path, 'cvat'))",
        "oracle_versions": {p: metadata.version(p) for p in ("datumaro", "numpy")},
        "box_convention": __doc__.split("Convention of the boxes written, ")[1].strip(),
        "categories": [c.name for c in labels],
        "items": items,
    }


def parse(name: str, reason: str) -> dict[str, object]:
    """Read the dataset's XML with ElementTree, following CVAT's description of the format."""
    root = HERE / name
    tree = ElementTree.parse(root / "annotations.xml")
    items: dict[int, dict[str, object]] = {}

    def entry(frame: int, file: str) -> dict[str, object]:
        return items.setdefault(frame, {
            "file": file, "subset": "", "frame": frame, "boxes": [], "polylines": [],
            "points": [], "tags": [], "outside": 0,
        })

    def add(target: dict[str, object], kind: str, label: str, el: object) -> None:
        attrib = el.attrib  # type: ignore[attr-defined]
        if kind == "box":
            values = [float(attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr")]
            target["boxes"].append([label, *rounded(values)])  # type: ignore[attr-defined]
        elif kind in ("polygon", "polyline", "points"):
            pts = [float(v) for pair in attrib["points"].split(";") for v in pair.split(",")]
            key = {"polygon": "boxes", "polyline": "polylines", "points": "points"}[kind]
            target[key].append([label, *rounded(bounds(pts))])  # type: ignore[attr-defined]

    for image in tree.getroot().iter("image"):
        target = entry(int(image.get("id")), image.get("name"))
        for child in image:
            if child.tag == "tag":
                target["tags"].append(child.get("label"))  # type: ignore[attr-defined]
            else:
                add(target, child.tag, child.get("label"), child)
    for track in tree.getroot().iter("track"):
        for child in track:
            target = entry(int(child.get("frame")), f"frame_{int(child.get('frame')):06d}.png")
            if child.get("outside") == "1":
                target["outside"] += 1  # type: ignore[operator]
            else:
                add(target, child.tag, track.get("label"), child)
    meta = tree.getroot().find("meta")
    return {
        "dataset": name,
        "generated_by": "make_oracle.py",
        "oracle": f"independent parse (ElementTree): {reason}",
        "oracle_versions": {p: metadata.version(p) for p in ("defusedxml",)},
        "box_convention": __doc__.split("Convention of the boxes written, ")[1].strip(),
        "categories": [lb.findtext("name") for lb in meta.iter("label")] if meta is not None else [],
        "items": [items[k] for k in sorted(items)],
    }


def main() -> None:
    for name in DATASETS:
        try:
            data = read(name)
        except DatasetImportError as exc:
            data = parse(name, f"datumaro failed: {exc.__cause__!r}")
        text = json.dumps(data, indent=1, ensure_ascii=False)
        (HERE / name / "ORACLE.json").write_text(text + "\n", encoding="utf-8")
        print(name, "written")


if __name__ == "__main__":
    main()
