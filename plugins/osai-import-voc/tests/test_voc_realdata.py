"""The voc reader on datumaro's VOC test assets, against what datumaro and globox read.

tests/data holds copies (MIT, see tests/data/LICENSE-NOTICE.md) with ORACLE.json. The
convention is datumaro's and globox's: VOC numbers as written, no 1-based shift
(supervision subtracts 1 from xmin/ymin; we do not).
"""

from __future__ import annotations

import json
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
from osai_import_voc import VocReader

DATA = Path(__file__).parent / "data"


def datumaro(name: str) -> dict[str, dict[str, Any]]:
    """Return {image file: the datumaro oracle's image entry} of the detection view."""
    data = json.loads((DATA / name / "ORACLE.json").read_text(encoding="utf-8"))
    view = data["views"]["voc:Annotations (detection)"]
    return {image["file"]: image for image in view["oracles"]["datumaro"]["images"]}


def read(name: str, **options: Any) -> list[Any]:
    return list(VocReader(VocReader.parse_options({"path": str(DATA / name), **options})).records())


@pytest.mark.parametrize("name", ["datumaro_voc1", "datumaro_voc2_noimages", "datumaro_voc3"])
def test_reader_reads_what_datumaro_reads(name: str) -> None:
    expected = datumaro(name)
    records = {r.path.relative_to(DATA / name).as_posix(): r for r in read(name)}
    assert sorted(records) == sorted(expected)
    for file, image in expected.items():
        record = records[file]
        assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes] == [
            tuple(b) for b in image["boxes"]
        ]
        for box, flags in zip(record.boxes, image.get("box_extras", []), strict=True):
            assert (box.difficult, box.truncated, box.occluded) == (
                flags["difficult"],
                flags["truncated"],
                flags["occluded"],
            )
            assert box.pose == flags.get("pose", "Unspecified")
        assert record.extras["split"] == image["subset"]
        assert ("voc.image_missing" in {p.code for p in record.problems}) == image.get(
            "image_missing", False
        )


def test_part_boxes_are_left_out_with_a_note() -> None:
    (_, annotated) = read("datumaro_voc1")
    (note,) = annotated.problems
    assert (
        note.code == "voc.part_ignored"
        and "(head)" in note.message
        and "Annotations/2007_000001.xml" in note.message
    )
    assert [b.label for b in annotated.boxes] == ["cat", "person"]


def test_splits_are_chosen_by_name() -> None:
    assert [r.key for r in read("datumaro_voc1", split="train")] == ["2007_000001"]
    assert [r.key for r in read("datumaro_voc1", split=["train", "test"])] == [
        "2007_000001",
        "2007_000002",
    ]
    assert [r.key for r in read("datumaro_voc1", unannotated="skip")] == ["2007_000001"]


@pytest.mark.parametrize("name", ["datumaro_voc1", "datumaro_voc3"])
def test_upload_stores_what_datumaro_reads(name: str, osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.upload({"type": "voc", "path": str(DATA / name)})
    assert result.report.exit_code == 0, result.report.to_dict()
    stored = {image["name"]: image for image in result.images}
    expected = {Path(file).name: image for file, image in datumaro(name).items()}
    assert sorted(stored) == sorted(expected)
    for file, image in expected.items():
        assert result.boxes()[file] == sorted(tuple(b) for b in image["boxes"])
        flags = [(o["difficult"], o["truncated"]) for o in stored[file]["objects"]]
        assert flags == [
            (int(f["difficult"]), int(f["truncated"])) for f in image.get("box_extras", [])
        ]
    assert result.report.warnings_by_code.get("voc.part_ignored", 0) == (name == "datumaro_voc1")


def test_annotations_without_images_are_not_uploaded(osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.upload({"type": "voc", "path": str(DATA / "datumaro_voc2_noimages")})
    assert result.report.exit_code == 1 and result.images == []
    assert result.report.skipped_by_code == {"voc.image_missing": 5}


def test_cli_run_uploads_to_the_embedded_local_server(tmp_path: Path) -> None:
    shutil.copytree(DATA / "datumaro_voc3", tmp_path / "voc")
    config = tmp_path / "voc.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"url": "local", "data": "server-data"},
                "dataset": {"name": "voc3"},
                "source": {"type": "voc", "path": "voc", "split": "train"},
                "upload": {"journal": "journal"},
            }
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with local_server(tmp_path / "server-data") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        stored = requests.get(
            f"{server.root_url}/_emulator/datasets/{listed['id']}", timeout=10
        ).json()
    (image,) = stored["images"]
    assert image["name"] == "2007_000001.jpg" and (image["width"], image["height"]) == (20, 10)
    assert [
        (o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"], o["truncated"])
        for o in image["objects"]
    ] == [("cat", 1, 2, 3, 4, 1)]


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


@pytest.mark.parametrize("name", ["datumaro_voc1", "datumaro_voc2_noimages", "datumaro_voc3"])
def test_a_tar_gz_of_the_dataset_reads_as_its_folder(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(DATA / name, arcname="dataset")
    inside = f"{archive}/dataset"
    root = locate(inside)  # as the config step turns source.path into a location
    assert isinstance(root, SourcePath)
    stored = list(VocReader(VocReader.parse_options({"path": inside}, None, locate)).records())
    local = read(name)
    assert [seen(r, root) for r in stored] == [seen(r, DATA / name) for r in local]
    assert all(isinstance(r.path, SourcePath) for r in stored)
    for a, b in zip(local, stored, strict=True):
        if a.path.is_file():
            assert b.path.read_bytes() == a.path.read_bytes()
