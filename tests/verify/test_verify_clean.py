"""A clean run verifies: every image matched, exit 0, and nothing changed by looking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import osai_import
from osai_import.emulator import EmulatorSettings, LocalServer
from tests.run.support import stored
from tests.support import REALDATA, make_image
from tests.verify.support import dump, quickstart, verify_cli


def test_a_clean_quickstart_run_verifies_with_every_image_matched(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    sent = osai_import.upload(config, progress=False)
    assert sent.exit_code == 0 and sent.uploaded == 12
    journal = config.parent / ".osai-import" / "journal.sqlite"
    server_data = config.parent / ".osai-local" / "emulator.sqlite3"
    before = journal.read_bytes(), dump(journal), dump(server_data)

    result = verify_cli(config, cwd=config.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every image matches: 12 image(s) stored once" in result.stdout
    assert "the local server's inspection API" in result.stdout
    assert "Traceback" not in result.stderr

    report = osai_import.verify(config)
    assert report.ok and report.exit_code == 0
    assert report.read_by == "inspection"
    assert (report.journal_images, report.server_images, report.matched) == (12, 12, 12)
    assert report.differing == [] and report.not_checked == []

    # Read-only: the journal's file is byte for byte as it was, and neither the journal
    # nor the server's data holds anything else.
    assert (journal.read_bytes(), dump(journal), dump(server_data)) == before
    with LocalServer(EmulatorSettings(data_dir=config.parent / ".osai-local")) as server:
        data = stored(server, sent.dataset_id)
    assert len(data["images"]) == 12 and data["duplicates"] == 0
    assert len(data["sessions"]) == 1, "verify opened no upload session"


@pytest.mark.parametrize("name", ["sahi_terrain_coco", "datumaro_roboflow_yolo"])
def test_real_coco_and_yolo_datasets_verify(name: str, tmp_path: Path) -> None:
    data = tmp_path / name
    shutil.copytree(REALDATA / name, data, ignore=shutil.ignore_patterns("ORACLE.json"))
    made = subprocess.run([sys.executable, "-m", "osai_import", "init", str(data), "-o",
                           "upload.yaml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "upload.yaml"
    sent = osai_import.upload(config, progress=False)
    assert sent.exit_code == 0 and sent.uploaded >= 2, sent.to_dict()

    report = osai_import.verify(config)
    assert report.exit_code == 0, [d.to_dict() for d in report.differing]
    assert report.matched == report.journal_images == report.server_images == sent.uploaded
    assert _stored_boxes(tmp_path / ".osai-local", sent.dataset_id), "boxes were compared"


@pytest.mark.parametrize("precision", ["int", "float"])
def test_fractional_boxes_verify_as_the_server_got_them(precision: str, tmp_path: Path) -> None:
    # Fractional COCO boxes, one across the image's edge: the encoder clips them and rounds
    # them outwards (int) or writes them as they are (float); verify reads back the numbers
    # the annotation carried, so either way every image matches.
    make_image(tmp_path / "coco" / "a.jpg", 40, 30)
    make_image(tmp_path / "coco" / "b.png", 50, 20)
    boxes = [(1, [1.25, 2.5, 10.3, 7.75]), (1, [30.6, 20.1, 20.0, 15.0]), (2, [0.4, 0.6, 12.2, 9.9])]
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
                       {"id": 2, "file_name": "b.png", "width": 50, "height": 20}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": n, "image_id": image, "category_id": 1, "bbox": bbox,
                             "iscrowd": 0, "area": bbox[2] * bbox[3]}
                            for n, (image, bbox) in enumerate(boxes, 1)]}
    (tmp_path / "coco" / "instances.json").write_text(json.dumps(coco), encoding="utf-8")
    config = tmp_path / "coco.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"url": "local"}, "dataset": {"name": "fractions"},
        "source": {"type": "coco", "path": "coco/instances.json"},
        "annotations": {"type": "voc", "precision": precision}}), encoding="utf-8")
    sent = osai_import.upload(config, progress=False)
    assert sent.exit_code == 0 and sent.uploaded == 2, sent.to_dict()

    report = osai_import.verify(config)
    assert report.exit_code == 0, [d.to_dict() for d in report.differing]
    assert report.matched == 2
    stored_boxes = _stored_boxes(tmp_path / ".osai-local", sent.dataset_id)
    assert len(stored_boxes) == 3
    fractional = [b for b in stored_boxes if not all(float(v).is_integer() for v in b[1:])]
    assert bool(fractional) == (precision == "float")
    assert ("cat", 30.6, 20.1, 40.0, 30.0) in stored_boxes or precision == "int"


def _stored_boxes(data_dir: Path, dataset_id: object) -> list[tuple[object, ...]]:
    with LocalServer(EmulatorSettings(data_dir=data_dir)) as server:
        images = stored(server, dataset_id)["images"]
    return [(o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
            for image in images for o in image["objects"]]
