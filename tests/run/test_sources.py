"""Sources as users keep them, uploaded from the CLI: splits, zips, tars and buckets.

Each test runs the real ``osai-import run`` as a child process against a local server
and checks what the server holds: every image once, with its category and its boxes.
The Roboflow export is real (tests/data/realdata/datumaro_roboflow_coco: its train and
val splits, each numbering its images from 1) with a third split made here the same way.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from osai_import.emulator import LocalServer
from osai_import.testing.s3 import LocalS3
from tests.reliability.support import datasets, new_server, run_cli, stored
from tests.support import REALDATA, make_image

ROBOFLOW = REALDATA / "datumaro_roboflow_coco"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    running = new_server(tmp_path / "server")
    try:
        yield running
    finally:
        running.stop()


def _config(path: Path, server: LocalServer, source: Any, name: str = "sources") -> Path:
    path.write_text(yaml.safe_dump({
        "dataset": {"name": name},
        "source": source,
        "server": {"url": server.base_url, "timeout": 10},
        "upload": {"workers": 2, "retries": 2, "backoff": 0.02},
    }), encoding="utf-8")
    return path


def _held(server: LocalServer, name: str) -> dict[str, Any]:
    """Return the one dataset called ``name`` as the server holds it."""
    found = [d for d in datasets(server) if d["name"] == name]
    assert len(found) == 1, f"datasets named {name!r}: {found}"
    return stored(server, found[0]["id"])


def _stored_boxes(held: dict[str, Any]) -> dict[str, tuple[str | None, list[tuple[Any, ...]]]]:
    """Return ``{image: (category, sorted boxes)}`` of a stored dataset; each image once."""
    names = Counter(image["name"] for image in held["images"])
    assert all(n == 1 for n in names.values()), f"stored more than once: {names}"
    by_id = {c["id"]: c["name"] for c in held["categories"]}
    return {
        image["name"]: (
            by_id.get(image["classifyCategoryId"]),
            sorted((o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
                   for o in image["objects"]),
        )
        for image in held["images"]
    }


def _roboflow_export(root: Path) -> Path:
    """Copy the real export (train, val as valid) and add a test split numbered from 1."""
    export = root / "roboflow"
    shutil.copytree(ROBOFLOW / "train", export / "train")
    shutil.copytree(ROBOFLOW / "val", export / "valid")
    make_image(export / "test" / "test_001.jpg", 10, 5, (30, 160, 90))
    (export / "test" / "_annotations.coco.json").write_text(json.dumps({
        "categories": [{"id": 1, "name": "label_0"}, {"id": 2, "name": "label_1"}],
        "images": [{"id": 1, "width": 10, "height": 5, "file_name": "test_001.jpg"}],
        "annotations": [{"id": 0, "image_id": 1, "category_id": 2, "bbox": [1, 1, 4, 3],
                         "area": 12, "iscrowd": 0}],
    }), encoding="utf-8")
    return export


def _expected_roboflow(export: Path) -> dict[str, tuple[str | None, list[tuple[Any, ...]]]]:
    """Return what the three splits hold, read from their JSON files directly."""
    expected: dict[str, tuple[str | None, list[tuple[Any, ...]]]] = {}
    for split in ("train", "valid", "test"):
        data = json.loads((export / split / "_annotations.coco.json").read_text())
        names = {c["id"]: c["name"] for c in data["categories"]}
        for image in data["images"]:
            boxes = sorted(
                (names[a["category_id"]], round(a["bbox"][0]), round(a["bbox"][1]),
                 round(a["bbox"][0] + a["bbox"][2]), round(a["bbox"][1] + a["bbox"][3]))
                for a in data["annotations"]
                # The coco reader leaves crowd regions out by default (`iscrowd: skip`).
                if a["image_id"] == image["id"] and not a.get("iscrowd"))
            expected[image["file_name"]] = (None, boxes)
    return expected


def _rounded(found: dict[str, tuple[str | None, list[tuple[Any, ...]]]]
             ) -> dict[str, tuple[str | None, list[tuple[Any, ...]]]]:
    return {name: (category, [(b[0], *(round(v) for v in b[1:])) for b in boxes])
            for name, (category, boxes) in found.items()}


def test_roboflow_splits_by_three_configs_go_into_one_dataset(
        tmp_path: Path, server: LocalServer) -> None:
    export = _roboflow_export(tmp_path)
    configs = [
        _config(tmp_path / f"{split}.yaml", server,
                {"type": "coco", "path": f"roboflow/{split}/_annotations.coco.json"}, "roboflow")
        for split in ("train", "valid", "test")
    ]
    for config in configs:
        result = run_cli(config)
        assert result.returncode == 0, result.stderr
    held = _held(server, "roboflow")
    assert _rounded(_stored_boxes(held)) == _expected_roboflow(export)
    # A second round sends nothing: every image is known by its name and bytes.
    for config in configs:
        again = run_cli(config)
        assert again.returncode == 0, again.stderr
        assert again.report is not None and again.report["counts"]["uploaded"] == 0
    assert len(_held(server, "roboflow")["images"]) == 4


def test_roboflow_splits_as_three_sources_of_one_config(
        tmp_path: Path, server: LocalServer) -> None:
    export = _roboflow_export(tmp_path)
    config = _config(tmp_path / "all.yaml", server, [
        {"type": "coco", "path": f"roboflow/{split}/_annotations.coco.json", "label": split}
        for split in ("train", "valid", "test")
    ], "roboflow-one-config")
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    held = _held(server, "roboflow-one-config")
    assert _rounded(_stored_boxes(held)) == _expected_roboflow(export)
    assert {c["name"] for c in held["categories"]} == {"label_0", "label_1"}
    # The splits number their images from 1: the keys keep their source apart.
    report = result.report
    assert report is not None and report["counts"]["uploaded"] == 4


def test_a_coco_file_whose_images_are_only_in_a_zip(tmp_path: Path, server: LocalServer) -> None:
    # As CVAT exports COCO: the JSON beside a zip holding the images.
    export = tmp_path / "cvat"
    (export / "annotations").mkdir(parents=True)
    images = {}
    for n in range(5):
        frame = make_image(tmp_path / "tmp" / f"frame_{n:03d}.jpg", 40, 30, (n * 40, 90, 30))
        images[f"images/frame_{n:03d}.jpg"] = frame.read_bytes()
    with zipfile.ZipFile(export / "images.zip", "w") as out:
        for name, data in images.items():
            out.writestr(name, data)
    (export / "annotations" / "instances_default.json").write_text(json.dumps({
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "images": [{"id": n + 1, "width": 40, "height": 30, "file_name": f"frame_{n:03d}.jpg"}
                   for n in range(5)],
        "annotations": [{"id": n, "image_id": n + 1, "category_id": 1 + n % 2,
                         "bbox": [2, 3, 10, 8], "area": 80, "iscrowd": 0} for n in range(5)],
    }), encoding="utf-8")
    config = _config(tmp_path / "cvat.yaml", server, {
        "type": "coco", "path": "cvat/annotations/instances_default.json",
        "images": "cvat/images.zip/images"}, "cvat")
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    held = _held(server, "cvat")
    assert _stored_boxes(held) == {
        f"frame_{n:03d}.jpg": (None, [("car" if n % 2 == 0 else "person", 2, 3, 12, 11)])
        for n in range(5)
    }
    for image in held["images"]:
        assert (Path(server.settings.data_dir) / "images" / image["file"]).read_bytes() == \
            images[f"images/{image['name']}"]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_folder_per_class_set_archived_whole(tmp_path: Path, server: LocalServer,
                                               kind: str) -> None:
    data = tmp_path / "flowers"
    expected = {}
    for n in range(9):
        cls = ("daisy", "rose", "tulip")[n % 3]
        make_image(data / cls / f"{cls}_{n}.jpg", 20 + n, 10, (n * 20, 200, 100))
        expected[f"{cls}_{n}.jpg"] = (cls, [])
    archive = tmp_path / f"flowers.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(data.rglob("*.jpg")):
                out.write(path, f"flowers/{path.relative_to(data).as_posix()}")
    else:
        with tarfile.open(archive, "w:gz") as out:
            out.add(data, "flowers")
    shutil.rmtree(data)
    config = _config(tmp_path / "flowers.yaml", server,
                     {"type": "folder", "path": f"flowers.{kind}/flowers"}, "flowers")
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    assert _stored_boxes(_held(server, "flowers")) == expected


def test_a_csv_manifest_and_its_photos_in_a_bucket(tmp_path: Path, server: LocalServer,
                                                   osai_s3: LocalS3) -> None:
    bucket = osai_s3.bucket()
    rows = ["image,label,xmin,ymin,xmax,ymax"]
    expected = {}
    for n in range(6):
        photo = make_image(tmp_path / "photos" / f"p{n}.jpg", 30, 20, (n * 30, 50, 200))
        osai_s3.put(f"s3://{bucket}/shop/photos/p{n}.jpg", photo.read_bytes())
        label = ("shoe", "bag")[n % 2]
        rows.append(f"photos/p{n}.jpg,{label},1,2,{11 + n},12")
        expected[f"p{n}.jpg"] = (None, [(label, 1, 2, 11 + n, 12)])
    osai_s3.put(f"s3://{bucket}/shop/manifest.csv", ("\n".join(rows) + "\n").encode())
    config = _config(tmp_path / "bucket.yaml", server,
                     {"type": "csv", "path": f"s3://{bucket}/shop/manifest.csv"}, "bucket")
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    assert _stored_boxes(_held(server, "bucket")) == expected
    report = result.report
    assert report is not None and report["counts"]["uploaded"] == 6


def test_a_hostile_archive_is_refused_and_nothing_is_created(
        tmp_path: Path, server: LocalServer) -> None:
    archive = tmp_path / "evil.zip"
    image = make_image(tmp_path / "ok.jpg", 10, 10).read_bytes()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("cls/ok.jpg", image)
        out.writestr("../../outside.jpg", image)
    config = _config(tmp_path / "evil.yaml", server, {"type": "folder", "path": "evil.zip"}, "evil")
    result = run_cli(config)
    assert result.returncode != 0
    assert "evil.zip" in result.stderr and "../../outside.jpg" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert datasets(server) == []
