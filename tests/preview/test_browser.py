"""Preview pages in a real Chromium: every box drawn where the ground truth says, filters work.

The ground truth is never the preview's own code: the quickstart's .xml files are parsed
here with the standard library, real datasets come with what established parsers read
(ORACLE.json), and the EXIF test paints a patch whose place in the stored pixels is known.
Boxes are measured on screen (``tests.browser.drawn``) and mapped back to image pixels.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

import osai_import
from tests.browser import DrawnFigure, drawn, screenshot, select, tolerance
from tests.preview.support import coloured
from tests.support import CONFIGS, REALDATA, clipped, oracle

Box = tuple[str, float, float, float, float]


def _open(chromium: Any, page: Path) -> dict[str, DrawnFigure]:
    chromium.get(page.as_uri())
    figures = drawn(chromium)
    assert figures, f"no figure drawn in {page}"
    return {figure.name: figure for figure in figures}


def _shown(chromium: Any) -> set[str]:
    return {figure.name for figure in drawn(chromium) if not figure.hidden}


def _assert_drawn(figure: DrawnFigure, truth: list[Box]) -> None:
    """Assert one rect per true box, each edge within the figure's tolerance."""
    def order(box: Box) -> tuple[Any, ...]:
        return (box[0], *(round(v) for v in box[1:]))

    rects = sorted(((r.label, r.xmin, r.ymin, r.xmax, r.ymax) for r in figure.rects), key=order)
    want = sorted(truth, key=order)
    assert [r[0] for r in rects] == [w[0] for w in want], (figure.name, rects, want)
    for rect, box in zip(rects, want, strict=True):
        for edge in range(1, 5):
            assert abs(rect[edge] - box[edge]) <= tolerance(figure), (figure.name, rect, box)


def _filters_work(chromium: Any, figures: dict[str, DrawnFigure]) -> None:
    """Choose each category, then each problem, and compare what shows with the data-*."""
    labels: dict[str, set[str]] = {}
    problems: dict[str, set[str]] = {}
    for name, figure in figures.items():
        for label in {r.label for r in figure.rects} | set(figure.category.split()):
            labels.setdefault(label, set()).add(name)
        for code in figure.problems.split():
            problems.setdefault(code, set()).add(name)
    assert labels
    for label, names in labels.items():
        select(chromium, "filter-category", label)
        assert _shown(chromium) == names, label
    select(chromium, "filter-category", "")
    for code, names in problems.items():
        select(chromium, "filter-problem", code)
        assert _shown(chromium) == names, code
    select(chromium, "filter-problem", "-")
    assert _shown(chromium) == {n for n, f in figures.items() if not f.problems}
    select(chromium, "filter-problem", "")
    assert _shown(chromium) == set(figures)


def _xml_boxes(path: Path) -> list[Box]:
    root = ET.parse(path).getroot()
    return [(obj.findtext("name") or "",
             *(float(obj.findtext(f"bndbox/{edge}") or "nan")
               for edge in ("xmin", "ymin", "xmax", "ymax")))
            for obj in root.iter("object")]


def test_the_quickstart_is_drawn_as_its_xml_files_say(chromium: Any, tmp_path: Path) -> None:
    photos = CONFIGS / "examples" / "quickstart"
    done = osai_import.preview(CONFIGS / "quickstart.yaml", output=tmp_path / "quickstart.html")
    assert done.shown == done.images == 12
    figures = _open(chromium, tmp_path / "quickstart.html")
    images = sorted(photos.glob("*/*.jpg"))
    assert set(figures) == {image.name for image in images}
    boxes = 0
    for image in images:
        xml = image.with_suffix(".xml")
        truth = _xml_boxes(xml) if xml.exists() else []
        boxes += len(truth)
        figure = figures[image.name]
        assert figure.category == image.parent.name
        with Image.open(image) as opened:
            assert (figure.width, figure.height) == opened.size
        _assert_drawn(figure, truth)
    assert boxes == done.source.boxes > 0
    screenshot(chromium, "preview-quickstart")
    _filters_work(chromium, figures)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "osai_import", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _remote_name(file: str, names: set[str]) -> str:
    """Return the remote name a dataset's file got: its name, or a disambiguated one."""
    base = Path(file).name
    found = [n for n in names if n in (base, file.replace("/", "_"))] or [
        n for n in names if n.endswith("_" + base)]
    assert len(found) == 1, (file, sorted(names))
    return found[0]


@pytest.mark.parametrize(("name", "reader"), [
    ("sahi_terrain_coco", "coco"),
    ("datumaro_coco_instances", "coco"),
    ("datumaro_roboflow_yolo", "yolo"),
])
def test_a_real_dataset_is_drawn_as_its_oracle_says(chromium: Any, tmp_path: Path, name: str,
                                                    reader: str) -> None:
    data = shutil.copytree(REALDATA / name, tmp_path / name,
                           ignore=shutil.ignore_patterns("ORACLE.json"))
    made = _cli("init", str(data), "-o", "upload.yaml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"type: {reader}" in (tmp_path / "upload.yaml").read_text(encoding="utf-8")
    done = _cli("preview", "upload.yaml", "-o", f"{name}.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = _open(chromium, tmp_path / f"{name}.html")
    truth = {f: v for f, v in oracle(name).items() if (data / f).is_file()}
    assert len(figures) == len(truth)
    for file, want in truth.items():
        figure = figures[_remote_name(file, set(figures))]
        assert (figure.width, figure.height) == tuple(want["size"])
        _assert_drawn(figure, clipped(want["boxes"], want["size"]))
    assert sum(len(f.rects) for f in figures.values()) > 0
    screenshot(chromium, f"preview-{name}")
    _filters_work(chromium, figures)


def test_exif_rotation_and_clipping_show_as_the_upload_sends_them(chromium: Any,
                                                                 tmp_path: Path) -> None:
    # A 300x200 photo stored sideways (EXIF orientation 6: viewers turn it upright, 200x300),
    # whose box was drawn on the upright view, around a white patch.
    stored_patch = (180, 40, 260, 90)  # in the stored pixels the upload sends
    rotated = coloured(tmp_path / "images" / "rotated.jpg", 300, 200, patch=stored_patch,
                       exif_orientation=6)
    with Image.open(rotated) as image:
        upright = ImageOps.exif_transpose(image)
        assert upright.size == (200, 300)
        x1, y1, x2, y2 = upright.convert("L").point(lambda v: 255 if v > 200 else 0).getbbox()
    # Beside it, an upright photo whose box crosses its right edge.
    coloured(tmp_path / "images" / "edge.jpg", 120, 80)
    (tmp_path / "coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "rotated.jpg", "width": 200, "height": 300},
                   {"id": 2, "file_name": "edge.jpg", "width": 120, "height": 80}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
             "iscrowd": 0, "area": 1},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [90, 20, 60, 30], "iscrowd": 0,
             "area": 1}],
        "categories": [{"id": 1, "name": "patch"}, {"id": 2, "name": "crossing"}]}),
        encoding="utf-8")
    config = {"dataset": {"name": "frames"},
              "source": {"type": "coco", "path": "coco.json", "images": "images"}}
    osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "frames.html")
    figures = _open(chromium, tmp_path / "frames.html")
    turned = figures["rotated.jpg"]
    # The stored frame, and the box mapped into it: around the patch as stored.
    assert (turned.width, turned.height) == (300, 200)
    assert set(turned.problems.split()) == {"box.exif_frame", "image.exif_orientation"}
    _assert_drawn(turned, [("patch", *stored_patch)])
    # The picture shown is the stored frame too: its white patch is under the box.
    href = chromium.execute_script(
        "return document.querySelector('figure[data-name=\"rotated.jpg\"] image')"
        ".getAttribute('href')")
    with Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))) as thumb:
        scale = 300 / thumb.size[0]
        box = thumb.convert("L").point(lambda v: 255 if v > 200 else 0).getbbox()
    assert box is not None
    seen = [edge * scale for edge in box]
    for got, want in zip(seen, stored_patch, strict=True):
        assert abs(got - want) <= 2 * scale, (seen, stored_patch)
    edge = figures["edge.jpg"]
    assert edge.problems == "box.outside"
    _assert_drawn(edge, [("crossing", 90, 20, 120, 50)])  # clipped at the right edge
    assert "were clipped to the image" in chromium.page_source
    screenshot(chromium, "preview-exif-and-clipping")
    select(chromium, "filter-problem", "box.outside")
    assert _shown(chromium) == {"edge.jpg"}
    select(chromium, "filter-problem", "")
