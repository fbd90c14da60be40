"""LabelStudioReader.detect on the real exports of tests/data, and on other tools' layouts.

The exports come from label-studio-converter and label-studio-sdk (see
tests/data/LICENSE-NOTICE.md); their images are not in those repositories, so the tests
that need them make images where Label Studio keeps them: uploads in
``media/upload/<project>/``, absolute references (``/image1``) in an ``images`` folder,
relative references beside the export.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_labelstudio_conformance import write_sample

from osai_import import Detection, ImageRecord
from osai_import.detect.verdicts import detect_all
from osai_import.plugin.manager import build_plugins
from osai_import.source.locate import locate
from osai_import.testing import make_image
from osai_import_labelstudio import LabelStudioReader

DATA = Path(__file__).parent / "data"
# Each real export, the confidence of its detection without its images (full exports
# 0.7, JSON-MIN 0.65), and the option the reasons then name.
EXPORTS = {
    "converter_yolo/data.json": (0.7, "set `image_prefixes: {'/': <folder>}`"),
    "converter_obb/data_obb.json": (0.7, "set `image_prefixes: {'/': <folder>}`"),
    "converter_polygons/data_polygons.json": (0.7, "set `image_prefixes: {'/': <folder>}`"),
    "converter_json_min/data.json": (0.7, "set `images` to Label Studio's media/upload folder"),
    "sdk_keypoints/data_keypoints.json": (
        0.7, "set `images` to Label Studio's media/upload folder"),
    "sdk_coco/data.json": (0.7, "set `images` to the folder the references are relative to"),
    "json_min/converter_yolo_min.json": (0.65, "set `image_prefixes: {'/': <folder>}`"),
    "json_min/sdk_coco_min.json": (
        0.65, "set `images` to the folder the references are relative to"),
}


def detect(path: Path) -> Detection:
    found = LabelStudioReader.detect(path)
    assert found is not None and found.reasons
    return found


def read(options: dict[str, Any]) -> list[ImageRecord]:
    parsed = LabelStudioReader.parse_options(options, None, locate)
    return list(LabelStudioReader(parsed).records())


def boxes(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [(r.key.rsplit("/", 1)[-1], r.boxes, r.width, r.height) for r in records]


def references(export: Path) -> list[str]:
    tasks = json.loads(export.read_text(encoding="utf-8"))
    return [t["data"]["image"] if "data" in t else t["image"] for t in tasks]


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_a_real_export_without_its_images_matches_and_names_the_option(name: str) -> None:
    confidence, hint = EXPORTS[name]
    found = detect(DATA / name)
    assert found.confidence == confidence, found.reasons
    assert found.sources == ({"path": DATA / name},)
    assert hint in found.reasons[1]
    # Without images the same boxes are read: the realdata tests' options map nothing.
    nowhere = read({"path": str(DATA / name), "image_prefixes": {"/": "/nowhere"},
                    "images": "/nowhere"})
    assert boxes(read(dict(found.sources[0]))) == boxes(nowhere)


def test_the_brush_export_finds_its_mask_beside_it() -> None:
    found = detect(DATA / "brush")
    assert found.confidence == 0.95
    assert found.sources == ({"path": DATA / "brush" / "brush.json"},)
    (record,) = read(dict(found.sources[0]))
    assert record.path == DATA / "brush" / "mask.png" and not record.problems


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_a_real_export_with_its_images_in_a_label_studio_folder(
        name: str, tmp_path: Path) -> None:
    root = tmp_path / "ls"
    (root / "export").mkdir(parents=True)
    export = Path(shutil.copy(DATA / name, root / "export" / Path(name).name))
    expected: dict[str, Any] = {"path": export}
    for ref in references(export):
        if ref.startswith("/data/upload/"):
            make_image(root / "media" / "upload" / ref.removeprefix("/data/upload/"))
            expected["images"] = root / "media" / "upload"
        elif ref.startswith("/"):
            make_image(root / "images" / ref.lstrip("/"), fmt="PNG")
            expected["image_prefixes"] = {"/": root / "images"}
        else:
            make_image(root / "export" / ref)
    found = detect(root)
    assert found.confidence == (0.95 if EXPORTS[name][0] == 0.7 else 0.9), found.reasons
    assert found.sources == (expected,)
    records = read(dict(found.sources[0]))
    assert records and all(r.path.is_file() for r in records)
    assert not [p for r in records for p in r.problems if p.severity.value == "error"]
    nowhere = read({"path": str(DATA / name), "image_prefixes": {"/": "/nowhere"},
                    "images": "/nowhere"})
    assert boxes(records) == boxes(nowhere)


def test_the_test_data_folder_is_nine_exports_and_one_other_file() -> None:
    found = detect(DATA)
    assert found.confidence == 0.95  # the brush export's mask is beside it
    assert sorted(s["path"] for s in found.sources) == sorted(
        [DATA / n for n in EXPORTS] + [DATA / "brush" / "brush.json"])
    assert ("1 other .json file(s) looked at are not Label Studio exports: ORACLE.json is "
            "an object with keys tool, python, numpy, convention, exports, not a Label Studio "
            "task") in found.reasons
    assert found.reasons[0].startswith("brush/brush.json is a list of Label Studio tasks")


def test_label_studio_ranks_first_among_the_installed_readers(tmp_path: Path) -> None:
    write_sample(tmp_path / "ls")
    verdicts = detect_all(tmp_path / "ls", build_plugins([]))
    assert verdicts[0].reader == "labelstudio" and verdicts[0].confidence == 0.95
    assert all(v.confidence < 0.9 for v in verdicts[1:]), [
        (v.reader, v.confidence) for v in verdicts]


# other tools' layouts


def _coco(root: Path) -> None:
    make_image(root / "images" / "a.jpg")
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
        "categories": [{"id": 1, "name": "cat"}]}), encoding="utf-8")


def _labelme(root: Path) -> None:
    make_image(root / "a.jpg")
    (root / "a.json").write_text(json.dumps({
        "version": "5.2.1", "flags": {}, "imagePath": "a.jpg", "imageData": None,
        "imageHeight": 24, "imageWidth": 32,
        "shapes": [{"label": "cat", "points": [[1, 1], [5, 5]], "shape_type": "rectangle",
                    "group_id": None, "flags": {}}]}), encoding="utf-8")


def _cvat(root: Path) -> None:
    make_image(root / "images" / "a.jpg")
    (root / "annotations.xml").write_text(
        '<annotations><version>1.1</version><image id="0" name="a.jpg" width="32" '
        'height="24"><box label="cat" xtl="1" ytl="1" xbr="5" ybr="5"/></image>'
        "</annotations>", encoding="utf-8")


def _yolo(root: Path) -> None:
    make_image(root / "images" / "train" / "a.jpg")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n", encoding="utf-8")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat]\n",
                                    encoding="utf-8")


def _voc(root: Path) -> None:
    make_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir()
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
        encoding="utf-8")


def _list_of_boxes(root: Path) -> None:
    make_image(root / "a.jpg")
    (root / "boxes.json").write_text(json.dumps([
        {"file_name": "a.jpg", "label": "cat", "bbox": [1, 1, 5, 5]}]), encoding="utf-8")


@pytest.mark.parametrize(("layout", "why"), [
    (_coco, "annotations/instances.json is an object with keys images, annotations, "
            "categories, not a Label Studio task"),
    (_labelme, "a.json is an object with keys version, flags, imagePath, imageData, "
               "imageHeight, imageWidth, ..., not a Label Studio task"),
    (_cvat, "no .json file in"),
    (_yolo, "no .json file in"),
    (_voc, "no .json file in"),
    (_list_of_boxes, "boxes.json is a list of objects (file_name, label, bbox) without `data` "
                     "or Label Studio regions"),
])
def test_other_tools_layouts_are_not_claimed(layout: Any, why: str, tmp_path: Path) -> None:
    layout(tmp_path)
    found = detect(tmp_path)
    assert found.confidence == 0.0 and not found.sources
    assert any(why in reason for reason in found.reasons), found.reasons


def test_broken_and_unreadable_files_are_reasons(tmp_path: Path) -> None:
    broken = tmp_path / "export.json"
    broken.write_text('[{"id": 1, "data": {"image": "a.jpg"}, "annotations": [}]',
                      encoding="utf-8")
    found = detect(broken)
    assert found.confidence == 0.0
    assert "export.json is not valid JSON" in found.reasons[1]
    dangling = tmp_path / "gone.json"
    os.symlink(tmp_path / "nowhere.json", dangling)
    assert "gone.json cannot be read" in detect(dangling).reasons[1]
    (tmp_path / "notes.txt").write_text("[]", encoding="utf-8")
    assert detect(tmp_path / "notes.txt").reasons == (
        "notes.txt is not a .json file; Label Studio exports JSON",)
    for text in ("", "[]", "[1, 2]", "{}"):
        broken.write_text(text, encoding="utf-8")
        assert detect(broken).confidence == 0.0
