"""The labelstudio reader on exports written by Label Studio, against what its converter reads.

tests/data holds exports copied from label-studio-converter's and label-studio-sdk's test
data (Apache-2.0, see tests/data/LICENSE-NOTICE.md), a brush export and two JSON-MIN
exports made by the converter itself, and ORACLE.json: the boxes label-studio-converter
0.0.59 gives for every annotation (tests/data/make_oracle.py says how). Convention: both
sides give float pixels, not rounded: ``x / 100 * original_width``; a rotated rectangle
is the bounds of its corners turned in pixels about its top-left corner (the converter's
YOLO OBB export); a brush is the bounds of its painted pixels. Boxes must agree to 1 px.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from osai_import import ImageRecord, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import OsaiUploader, local_server, make_image
from osai_import_labelstudio import LabelStudioReader

DATA = Path(__file__).parent / "data"
ORACLE = json.loads((DATA / "ORACLE.json").read_text(encoding="utf-8"))
FULL = sorted(ORACLE["exports"])
# A JSON-MIN export and the full export it was made from (the boxes are the same).
MIN = {"json_min/converter_yolo_min.json": "converter_yolo/data.json",
       "json_min/sdk_coco_min.json": "sdk_coco/data.json"}
# The sizes of the images the exports' tasks refer to (from their original_width/height).
SIZES = {"image1": (2800, 2800), "image2": (2800, 2800), "obb/image1": (597, 768),
         "obb/image2": (433, 768), "obb/image3": (716, 768), "poly/image2": (640, 426)}


def read(path: str, **options: Any) -> list[ImageRecord]:
    parsed = LabelStudioReader.parse_options({"path": str(DATA / path), **options}, None, locate)
    return list(LabelStudioReader(parsed).records())


def oracle_for(export: str) -> dict[str, list[tuple[Any, ...]]]:
    boxes = ORACLE["exports"][export]["boxes"]
    return {key: sorted(tuple(b) for b in rows) for key, rows in boxes.items()}


def boxes_of(record: ImageRecord) -> list[tuple[Any, ...]]:
    return sorted((b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes)


def close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], tol: float = 1.0) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and all(math.isclose(p, q, abs_tol=tol)
                             for p, q in zip(x[1:], y[1:], strict=True))
        for x, y in zip(a, b, strict=True))


def picked(record: ImageRecord) -> str:
    return f"{record.extras['task_id']}/{record.extras['annotation_id']}"


@pytest.mark.parametrize("export", FULL)
@pytest.mark.parametrize("annotation", ["first", "last"])
def test_reader_reads_what_the_converter_reads(export: str, annotation: str) -> None:
    expected = oracle_for(export)
    records = read(export, annotation=annotation, image_prefixes={"/": "/nowhere"},
                   images="/nowhere")
    assert records and all(r.width and r.height for r in records)
    for record in records:
        assert close(boxes_of(record), expected[picked(record)]), (record.key, picked(record))
        assert not [p for p in record.problems if p.severity.value == "error"], record.problems
    tasks = {key.split("/")[0] for key in expected}
    assert {str(r.extras["task_id"]) for r in records} == tasks


def test_two_annotators_first_and_last_are_the_converters_two_annotations() -> None:
    first = read("converter_yolo/data.json", image_prefixes={"/": "/nowhere"})
    last = read("converter_yolo/data.json", image_prefixes={"/": "/nowhere"}, annotation="last")
    assert [picked(r) for r in first] == ["1/1", "2/3"]
    assert [picked(r) for r in last] == ["1/2", "2/3"]
    by_user = read("converter_yolo/data.json", image_prefixes={"/": "/nowhere"}, completed_by=2)
    assert [picked(r) for r in by_user] == ["1/1", "2/None"]
    (note,) = by_user[1].problems
    assert by_user[1].boxes == () and note.code == "labelstudio.other_annotators"
    assert "no annotation by 2 (only by 1)" in note.message


@pytest.mark.parametrize("export", sorted(MIN))
def test_json_min_reads_as_the_full_export(export: str) -> None:
    expected = oracle_for(MIN[export])
    records = read(export, image_prefixes={"/": "/nowhere"}, images="/nowhere")
    assert records
    for record in records:
        assert close(boxes_of(record), expected[picked(record)]), record.key
    # JSON-MIN repeats a task once per annotation: still one record per task.
    assert len({r.key for r in records}) == len(records) == len(
        {k.split("/")[0] for k in expected})


def test_json_min_key_points_are_skipped_by_name() -> None:
    (record,) = read("json_min/sdk_coco_min.json", images="/nowhere")
    (skipped,) = record.problems
    assert skipped.code == "labelstudio.skipped"
    assert "keypoint_label[0], keypoint_label[1]" in skipped.message
    assert "task 175210175" in skipped.message and "sdk_coco_min.json" in skipped.message


def test_key_points_as_boxes_and_relations_ignored() -> None:
    (record,) = read("sdk_keypoints/data_keypoints.json", images="/nowhere",
                     results={"keypointlabels": "box"})
    labels = sorted(b.label for b in record.boxes)
    assert labels == ["left_eye", "nose", "person", "right_eye"]
    nose = next(b for b in record.boxes if b.label == "nose")
    # Centre x/100*216 = 139.2, half size 0.2285/100*216 = 0.49 px.
    assert math.isclose((nose.xmin + nose.xmax) / 2, 64.44444444444444 / 100 * 216)
    assert math.isclose(nose.xmax - nose.xmin, 2 * 0.2285263987391647 / 100 * 216)
    (ignored,) = record.problems
    assert ignored.code == "labelstudio.ignored" and "5 relation result(s)" in ignored.message


def prepared(tmp_path: Path) -> Path:
    """Copy the exports and make their images (real JPEG/PNG files of the stated sizes)."""
    root = shutil.copytree(DATA, tmp_path / "data")
    for name, size in SIZES.items():
        make_image(root / "images" / name, *size)
    make_image(root / "sdk_coco" / "test_image1.jpg", 500, 320)
    return root


@pytest.mark.parametrize(("export", "prefix"), [
    ("converter_obb/data_obb.json", "obb/"), ("converter_polygons/data_polygons.json", "poly/"),
    ("sdk_coco/data.json", None), ("brush/brush.json", None),
])
def test_upload_stores_the_oracle_boxes(tmp_path: Path, osai_uploader: OsaiUploader,
                                        export: str, prefix: str | None) -> None:
    root = prepared(tmp_path)
    source: dict[str, Any] = {"type": "labelstudio", "path": str(root / export)}
    if prefix is not None:
        source["image_prefixes"] = {"/": str(root / "images" / prefix)}
    result = osai_uploader.upload(source, annotations={"type": "voc", "precision": "float"})
    assert result.report.exit_code == 0, result.report.to_dict()
    stored = result.boxes()
    expected = oracle_for(export)
    records = list(LabelStudioReader(LabelStudioReader.parse_options(
        {k: v for k, v in source.items() if k != "type"}, None, locate)).records())
    assert len(stored) == len(records)
    for record in records:
        # Names without a suffix (`/image1`) get the one their bytes call for.
        (name,) = [n for n in stored if Path(n).stem == Path(record.name).stem]
        assert close(stored[name], expected[picked(record)]), (name, stored[name])


def test_cli_run_uploads_to_the_embedded_local_server(tmp_path: Path) -> None:
    export = shutil.copy(DATA / "converter_json_min" / "data.json", tmp_path / "export.json")
    # Label Studio keeps uploads in <data dir>/media/upload/<project>/: /data/upload/29/...
    make_image(tmp_path / "ls-data" / "media" / "upload" / "29" / "example.png", 128, 128)
    config = tmp_path / "labelstudio.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"url": "local", "data": "server-data"},
        "dataset": {"name": "ls-upload"},
        "source": {"type": "labelstudio", "path": "export.json",
                   "image_prefixes": {"/data/upload/": "ls-data/media/upload"}},
        "upload": {"journal": "journal"},
    }), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet"],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert Path(export).exists()
    with local_server(tmp_path / "server-data") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        stored = requests.get(f"{server.root_url}/_emulator/datasets/{listed['id']}",
                              timeout=10).json()
    (image,) = stored["images"]
    assert image["name"] == "example.png"
    ((label, *box),) = oracle_for("converter_json_min/data.json")["87/22"]
    (obj,) = image["objects"]
    assert obj["name"] == label == "Airplane"
    # The VOC encoder rounds outwards to whole pixels: 54.45..71.92 becomes 54..72.
    assert (obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]) == (54, 61, 72, 78)
    assert all(abs(s - o) <= 1 for s, o in zip(
        (obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]), box, strict=True))
    assert {c["name"] for c in stored["categories"]} == {"Airplane"}


def test_a_tar_gz_of_the_exports_reads_as_their_folder(tmp_path: Path) -> None:
    root = prepared(tmp_path)
    archive = tmp_path / "ls.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="ls")
    local = read_at(str(root / "brush" / "brush.json"))
    stored = read_at(f"{archive}/ls/brush/brush.json")
    assert [(r.key, r.name, r.boxes, r.width, r.height) for r in stored] == [
        (r.key, r.name, r.boxes, r.width, r.height) for r in local]
    assert isinstance(stored[0].path, SourcePath)
    assert stored[0].path.read_bytes() == local[0].path.read_bytes()


def read_at(path: str) -> list[ImageRecord]:
    parsed = LabelStudioReader.parse_options({"path": path}, None, locate)
    return list(LabelStudioReader(parsed).records())
