"""The yolo reader on datasets written by other tools, against what datumaro and globox read.

tests/data holds copies of datumaro's YOLO test assets (MIT, see tests/data/LICENSE-NOTICE.md)
with ORACLE.json: the boxes established parsers read, as [label, xmin, ymin, xmax, ymax]
with xmin = (cx - w / 2) * W and W, H from the image file, rounded to 4 decimals.
Convention here: the same formula, then corners clamped to the image when the six-decimal
label values overshoot it by rounding (-7.5e-06 becomes 0.0, as the oracles round it).
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
from osai_import.testing import OsaiUploader, local_server
from osai_import_yolo import YoloReader

DATA = Path(__file__).parent / "data"
DATASETS = ["datumaro_yolo_strict", "datumaro_yolo_labels", "datumaro_roboflow_yolo"]


def oracle(name: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return {relative image path: sorted boxes} as datumaro read the dataset."""
    data = json.loads((DATA / name / "ORACLE.json").read_text(encoding="utf-8"))
    (view,) = data["views"].values()
    images = view["oracles"]["datumaro"]["images"]
    assert view["agreement"]["datumaro vs globox"] == "agree"
    return {image["file"]: sorted(tuple(b) for b in image["boxes"]) for image in images}


def close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], tol: float) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0]
        and all(math.isclose(p, q, abs_tol=tol) for p, q in zip(x[1:], y[1:], strict=True))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("name", DATASETS)
def test_reader_reads_what_the_oracle_reads(name: str) -> None:
    records = list(YoloReader(YoloReader.parse_options({"path": str(DATA / name)})).records())
    read = {
        r.key: sorted((b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in r.boxes) for r in records
    }
    expected = oracle(name)
    assert sorted(read) == sorted(expected)
    for key, boxes in expected.items():
        assert close(read[key], boxes, 1e-4), (key, read[key], boxes)
    assert all(r.width and r.height for r in records)


def test_two_images_named_alike_in_two_splits_are_two_items() -> None:
    records = list(
        YoloReader(YoloReader.parse_options({"path": str(DATA / "datumaro_yolo_labels")})).records()
    )
    assert [r.key for r in records] == ["images/train/1.jpg", "images/val/1.jpg"]
    assert [r.name for r in records] == ["1.jpg", "1.jpg"]
    assert [r.extras["split"] for r in records] == ["train", "val"]


def test_roboflow_yaml_with_a_wrong_folder_is_read_with_a_warning() -> None:
    records = list(
        YoloReader(
            YoloReader.parse_options({"path": str(DATA / "datumaro_roboflow_yolo")})
        ).records()
    )
    notes = [p for r in records for p in r.problems]
    assert {p.code for p in notes} == {"yolo.path_fixed"}
    fixed = next(p.message for p in notes if "../valid/images" in p.message)
    assert "used val/images instead" in fixed and "data.yaml" in fixed
    assert [r.extras["split"] for r in records] == ["train", "train", "val"]


@pytest.mark.parametrize("name", DATASETS)
def test_upload_stores_the_oracle_boxes(name: str, osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.upload(
        {"type": "yolo", "path": str(DATA / name)},
        annotations={"type": "voc", "precision": "float"},
        check={"name_collisions": "disambiguate"},
    )
    assert result.report.exit_code == 0, result.report.to_dict()
    expected = oracle(name)
    stored = result.boxes()
    assert len(stored) == len(expected)
    # Names: the file name, or with its folders when two images share it (images_train_1.jpg).
    for file, boxes in expected.items():
        candidates = [n for n in stored if n in (Path(file).name, file.replace("/", "_"))]
        assert len(candidates) == 1, (file, sorted(stored))
        assert close(stored[candidates[0]], boxes, 1e-3), (file, stored[candidates[0]], boxes)


def test_cli_run_uploads_to_the_embedded_local_server(tmp_path: Path) -> None:
    dataset = shutil.copytree(DATA / "datumaro_yolo_strict", tmp_path / "ds")
    config = tmp_path / "yolo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"url": "local", "data": "server-data"},
                "dataset": {"name": "yolo-strict"},
                "source": {"type": "yolo", "path": "ds"},
                "upload": {"journal": "journal"},
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert dataset.exists()
    with local_server(tmp_path / "server-data") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        stored = requests.get(
            f"{server.root_url}/_emulator/datasets/{listed['id']}", timeout=10
        ).json()
    (image,) = stored["images"]
    assert image["name"] == "1.jpg"
    # Corners within the six-decimal rounding of whole pixels are those pixels:
    # (-0.0000075, 2, 3.9999975, 4) is (0, 2, 4, 4).
    assert sorted(
        (o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"]) for o in image["objects"]
    ) == [("label_2", 0, 2, 4, 4), ("label_4", 3, 3, 5, 6)]
    assert {c["name"] for c in stored["categories"]} == {"label_2", "label_4"}


def seen(record: ImageRecord, root: Path | SourcePath) -> tuple[Any, ...]:
    """Return what a record says, its path and the paths in its messages made relative."""
    path = record.path
    if isinstance(path, SourcePath) and isinstance(root, SourcePath):
        rel = path.relative_to(root).as_posix()
    else:
        assert isinstance(path, Path) and isinstance(root, Path)
        rel = path.relative_to(root).as_posix()
    # Messages name the places they looked at, in the dataset's folder or above it.
    shown = [(str(root), "<root>"), (str(root.parent), "<above>")]
    problems = []
    for p in record.problems:
        message = p.message
        for text, mark in shown:
            message = message.replace(text, mark)
        problems.append((p.code, p.severity, p.item, message))
    return (record.key, record.name, record.category, record.boxes, record.width,
            record.height, record.depth, record.extras, rel, problems)


@pytest.mark.parametrize("name", DATASETS)
def test_a_tar_gz_of_the_dataset_reads_as_its_folder(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(DATA / name, arcname="dataset")
    inside = f"{archive}/dataset"
    root = locate(inside)  # as the config step turns source.path into a location
    assert isinstance(root, SourcePath)
    stored = list(YoloReader(YoloReader.parse_options({"path": inside}, None, locate)).records())
    local = list(YoloReader(YoloReader.parse_options({"path": str(DATA / name)})).records())
    assert [seen(r, root) for r in stored] == [seen(r, DATA / name) for r in local]
    assert all(isinstance(r.path, SourcePath) for r in stored)
    for a, b in zip(local, stored, strict=True):
        assert b.path.read_bytes() == a.path.read_bytes()
