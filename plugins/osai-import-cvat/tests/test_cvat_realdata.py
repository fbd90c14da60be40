"""The cvat reader on CVAT exports written by others, against what datumaro reads from them.

tests/data holds datumaro's CVAT test assets and the examples of CVAT's documentation
(see tests/data/LICENSE-NOTICE.md), each with ORACLE.json written by make_oracle.py:
datumaro's reading (or an independent parse where datumaro fails), boxes as
[label, xmin, ymin, xmax, ymax] with xmax = x + w: the convention of the reader, so
boxes must agree to within 1 px (they agree to 1e-4 here). Under the default shape
policies, the oracle's `boxes` (box, polygon, mask) are uploaded; polylines and points
are skipped with a warning; tracks' `outside` shapes are not on their frame.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from osai_import import ImageRecord, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import OsaiUploader, local_server
from osai_import_cvat import CvatReader

DATA = Path(__file__).parent / "data"
DATASETS = [
    "datumaro_for_images_export_project",
    "datumaro_for_images_export_task",
    "datumaro_for_video",
    "cvat_docs_images",
    "cvat_docs_video",
]
VIDEO = {"datumaro_for_video", "cvat_docs_video"}


def read(path: Path | str, **options: Any) -> list[ImageRecord]:
    reader = CvatReader(CvatReader.parse_options({"path": str(path), **options}, None, locate))
    return list(reader.records())


def oracle(name: str) -> dict[str, Any]:
    return json.loads((DATA / name / "ORACLE.json").read_text(encoding="utf-8"))


def rows(boxes: list[list[Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(b) for b in boxes)


def close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], tol: float) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0]
        and all(math.isclose(p, q, abs_tol=tol) for p, q in zip(x[1:], y[1:], strict=True))
        for x, y in zip(a, b, strict=True)
    )


def boxes_of(record: ImageRecord) -> list[tuple[Any, ...]]:
    return sorted((b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes)


def by_item(name: str, records: list[ImageRecord]) -> dict[Any, ImageRecord]:
    """Return the records by the oracle's item key: the frame for video, the file otherwise."""
    if name in VIDEO:
        return {r.extras["frame"]: r for r in records}
    return {r.key: r for r in records}


@pytest.mark.parametrize("name", DATASETS)
def test_reader_reads_what_the_oracle_reads(name: str) -> None:
    expected = oracle(name)
    records = by_item(name, read(DATA / name))
    for item in expected["items"]:
        key = item["frame"] if name in VIDEO else item["file"]
        if name in VIDEO and key not in records:
            # Frames the oracle knows only from an `outside` shape have no image here.
            assert not item["boxes"] and item["outside"], item
            continue
        record = records[key]
        labelled = [b for b in item["boxes"] if b[0] is not None]
        assert close(boxes_of(record), rows(labelled), 1.0), (key, boxes_of(record), labelled)
        assert close(boxes_of(record), rows(labelled), 1e-4)
        assert record.category == (item["tags"][0] if item["tags"] else None)
        skipped = [p for p in record.problems if p.code == "cvat.shape_skipped"]
        assert bool(skipped) == bool(item["polylines"] or item["points"]), record.problems
        if len(labelled) < len(item["boxes"]):  # datumaro reads shapes with label="" too
            assert "cvat.no_label" in {p.code for p in record.problems}


def test_a_project_export_finds_images_in_subset_folders() -> None:
    records = read(DATA / "datumaro_for_images_export_project")
    assert [r.key for r in records] == [
        f"{s}/img{i}.jpg" for s in ("Test", "Train", "Validation") for i in (0, 1)
    ]
    assert {r.name for r in records} == {"img0.jpg", "img1.jpg"}
    assert [r.extras["subset"] for r in records][:2] == ["Test", "Test"]
    assert all(isinstance(r.path, Path) and r.path.is_file() for r in records)
    only = read(DATA / "datumaro_for_images_export_project", subsets=["Train"])
    assert [r.key for r in only] == ["Train/img0.jpg", "Train/img1.jpg"]
    assert only[0].boxes[0].occluded  # occluded="1"


def test_the_video_form_yields_every_frame_image_with_its_track_shapes() -> None:
    records = read(DATA / "cvat_docs_video")
    assert [r.extras["frame"] for r in records] == [0, 1, 2, 3, 4, 5, 6, 7, 13]
    assert [len(r.boxes) for r in records] == [1, 0, 0, 0, 0, 0, 1, 0, 1]
    assert all((r.width, r.height) == (640, 480) for r in records)  # <original_size>
    assert records[0].extras["frames"] == "number"
    # The frames are CVAT's frame_000000.PNG, found whatever the suffix's case.
    assert records[0].key == "frame_000000.PNG"


@pytest.mark.parametrize("name", DATASETS)
def test_upload_stores_the_oracle_boxes(name: str, osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.upload(
        {"type": "cvat", "path": str(DATA / name)},
        annotations={"type": "voc", "precision": "float"},
        check={"name_collisions": "disambiguate"},
    )
    expected = {
        (i["frame"] if name in VIDEO else i["file"]): i for i in oracle(name)["items"]
    }
    stored = result.boxes()
    failed = {p["item"] for p in result.report.problems if p["severity"] == "error"}
    if name == "datumaro_for_images_export_task":
        assert failed == {"img1.jpg"}  # its polygon has label="": cvat.no_label
    else:
        assert result.report.exit_code == 0, result.report.to_dict()
    for record in read(DATA / name):
        key = record.extras["frame"] if name in VIDEO else record.key
        if record.key in failed:
            assert record.path.name not in stored
            continue
        candidates = [n for n in stored if n in (record.name, record.key.replace("/", "_"))]
        assert len(candidates) == 1, (record.key, sorted(stored))
        want = rows(list(expected[key]["boxes"])) if key in expected else []
        assert close(sorted(stored[candidates[0]]), want, 1e-3), (key, stored[candidates[0]])


def test_cli_run_with_the_images_only_in_a_zip_beside_the_xml(tmp_path: Path) -> None:
    source = DATA / "datumaro_for_images_export_project"
    shutil.copy(source / "annotations.xml", tmp_path / "annotations.xml")
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as archive:
        for image in sorted((source / "images").rglob("*.jpg")):
            archive.write(image, image.relative_to(source / "images").as_posix())
    config = tmp_path / "cvat.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"url": "local", "data": "server-data"},
                "dataset": {"name": "cvat-project"},
                "source": {
                    "type": "cvat",
                    "path": "annotations.xml",
                    "images": "images.zip",
                    "subsets": ["Train"],
                },
                "upload": {"journal": "journal"},
            }
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert not (tmp_path / "images").exists()  # nothing was extracted
    with local_server(tmp_path / "server-data") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        stored = requests.get(
            f"{server.root_url}/_emulator/datasets/{listed['id']}", timeout=10
        ).json()
    images = {i["name"]: i for i in stored["images"]}
    assert sorted(images) == ["img0.jpg", "img1.jpg"]
    objects = {
        name: [(o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"]) for o in i["objects"]]
        for name, i in images.items()
    }
    # The voc encoder rounds to whole pixels; these boxes are whole already.
    assert objects == {
        "img0.jpg": [("label1", 0, 2, 4, 4)],
        "img1.jpg": [("label1", 1, 2, 6, 5)],
    }
    assert {c["name"] for c in stored["categories"]} == {"label1"}


def test_cvats_whole_export_zip_reads_as_its_folder(tmp_path: Path) -> None:
    source = DATA / "datumaro_for_images_export_project"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name != "ORACLE.json":
                out.write(path, path.relative_to(source).as_posix())
    stored = read(archive)
    local = read(source)
    assert all(isinstance(r.path, SourcePath) for r in stored)
    assert [(r.key, r.boxes, r.width) for r in stored] == [
        (r.key, r.boxes, r.width) for r in local
    ]
    assert [p.code for r in stored for p in r.problems] == [
        p.code for r in local for p in r.problems
    ]
    for a, b in zip(local, stored, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()


def test_the_video_form_reads_from_a_zip_too(tmp_path: Path) -> None:
    source = DATA / "datumaro_for_video"
    archive = tmp_path / "video.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(source).as_posix())
    stored = read(archive)
    assert [(r.key, r.boxes) for r in stored] == [(r.key, r.boxes) for r in read(source)]
    assert [r.extras["frame"] for r in stored] == [10, 13, 16]
