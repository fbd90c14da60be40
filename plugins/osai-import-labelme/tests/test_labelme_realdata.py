"""The labelme reader on files LabelMe wrote, against what labelme's own code reads.

tests/data holds LabelMe files copied from labelme's repository and from
Tony607/labelme2coco (see tests/data/LICENSE-NOTICE.md), each folder with an ORACLE.json
written by tests/data/make_oracle.py with labelme 6.3.1. Convention compared here:
boxes of drawn shapes (rectangle, polygon, circle) are the bounds of their points as
labelme loads them (circle: centre +- radius), equal to 1e-6, and within 1 px of the
pixels labelme paints for them; a mask's box is exactly the pixels labelme pastes.
"""

from __future__ import annotations

import base64
import hashlib
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
from osai_import_labelme import LabelmeReader

DATA = Path(__file__).parent / "data"
DATASETS = sorted(p.name for p in DATA.iterdir() if (p / "ORACLE.json").is_file())
DRAWN = {"rectangle", "polygon", "circle"}
ALL_BOXES = dict.fromkeys(("line", "linestrip", "point", "points"), "box")


def read(path: Path | str, **options: Any) -> list[ImageRecord]:
    parsed = LabelmeReader.parse_options({"path": str(path), "exclude": ["ORACLE.json"],
                                          **options}, None, locate)
    return list(LabelmeReader(parsed).records())


def oracle(name: str) -> dict[str, Any]:
    data = json.loads((DATA / name / "ORACLE.json").read_text(encoding="utf-8"))
    assert data["oracle_versions"]["labelme"] == "6.3.1"
    files: dict[str, Any] = data["files"]
    return files


def rows(record: ImageRecord) -> list[tuple[Any, ...]]:
    return sorted((b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes)


def expected(file: dict[str, Any], key: str) -> list[tuple[Any, ...]]:
    """Return the oracle's objects that the default options upload, with ``key`` bounds."""
    shapes = file["shapes"]
    found = []
    for made in file["objects"]:
        types = {shapes[i]["shape_type"] for i in made["shapes"]}
        if made["label"] != "__ignore__" and types <= DRAWN | {"mask"}:
            found.append((made["label"], *made["raster" if types == {"mask"} else key]))
    return sorted(found)


def close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], tol: float) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and all(math.isclose(p, q, abs_tol=tol) for p, q in zip(x[1:], y[1:],
                                                                               strict=True))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("name", DATASETS)
def test_reader_reads_what_labelme_reads(name: str) -> None:
    files = oracle(name)
    records = read(DATA / name)
    assert [r.key for r in records] == sorted(files)
    for record in records:
        file = files[record.key]
        assert close(rows(record), expected(file, "bounds"), 1e-6), record.key
        assert close(rows(record), expected(file, "raster"), 1.0), record.key
        # The very bytes labelme shows: the file beside the JSON, or the decoded imageData.
        assert hashlib.sha256(record.path.read_bytes()).hexdigest() == file["image_sha256"]
        if record.width is not None:
            assert [record.width, record.height] == file["image_size"]
        assert record.extras["flags"] == file["flags"]
        assert not [p for p in record.problems if p.code != "labelme.shape_skipped"]


def test_lines_and_points_as_boxes_are_their_points_bounds() -> None:
    (file,) = oracle("labelme_primitives").values()
    (record,) = read(DATA / "labelme_primitives", shapes=ALL_BOXES | {"point": "box"},
                     point_size=4)
    by_index = {
        detail["shapes"][0]: (b.xmin, b.ymin, b.xmax, b.ymax)
        for b, detail in zip(record.boxes, record.extras["boxes"], strict=True)
    }
    for shape in file["shapes"]:
        bounds = shape["points_bounds"]
        if shape["shape_type"] == "point":
            bounds = [bounds[0] - 2, bounds[1] - 2, bounds[2] + 2, bounds[3] + 2]
        elif shape["shape_type"] == "mask":
            bounds = shape["raster_bounds"]
        assert by_index[shape["index"]] == pytest.approx(tuple(bounds), abs=1e-9), shape
    assert len(record.boxes) == len(file["shapes"]) and record.problems == ()


def test_groups_are_merged_as_labelme2coco_merges_them() -> None:
    (record, *_) = read(DATA / "labelme_instance_segmentation")
    merged = [d for d in record.extras["boxes"] if len(d["shapes"]) > 1]
    assert merged == [{"shapes": [1, 2], "shape_types": ["polygon", "polygon"],
                       "label": "person", "group_id": 0, "description": None, "flags": {}}]
    (separate, *_) = read(DATA / "labelme_instance_segmentation", groups="separate")
    assert len(separate.boxes) == len(record.boxes) + 1


def test_flags_give_the_category_of_labelme_classification_examples() -> None:
    records = read(DATA / "labelme_classification", category="flags")
    assert [(r.key, r.category) for r in records] == [("0001.json", "cat"), ("0002.json", "dog")]
    assert all(r.problems == () for r in records)


def test_old_and_embedded_files_are_named_by_their_image() -> None:
    (tutorial,) = read(DATA / "labelme_tutorial")
    # imagePath names the JSON itself: the name comes from the stem and the data's format.
    assert (tutorial.name, tutorial.extras["image"]) == ("apc2016_obj3.jpg", "embedded")
    (old,) = read(DATA / "labelme_tutorial_2018")
    assert (old.extras["version"], old.width, old.height) == (None, None, None)
    assert {d["shape_types"][0] for d in old.extras["boxes"]} == {"polygon"}
    (tony,) = read(DATA / "tony607_labelme2coco")
    assert (tony.name, tony.extras["version"], tony.extras["image"]) == (
        "0.jpg", "3.16.2", "embedded")


@pytest.mark.parametrize("name", ["labelme_instance_segmentation", "labelme_primitives",
                                  "tony607_labelme2coco"])
def test_upload_stores_the_oracle_boxes(name: str, osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.upload(
        {"type": "labelme", "path": str(DATA / name), "exclude": ["ORACLE.json"]},
        annotations={"type": "voc", "precision": "float"},
    )
    assert result.report.exit_code == 0, result.report.to_dict()
    files = oracle(name)
    stored = result.boxes()
    assert len(stored) == len(files)
    for key, file in files.items():
        # The check step clips boxes to the image (check.boxes_outside: clip, the default).
        width, height = file["image_size"]
        want = [(label, max(a, 0), max(b, 0), min(c, width), min(d, height))
                for label, a, b, c, d in expected(file, "bounds")]
        assert close(stored[Path(key).stem + ".jpg"], want, 1e-3), key
    digests = {image["name"]: image["sha256"] for image in result.images}
    assert sorted(digests.values()) == sorted(f["image_sha256"] for f in files.values())


def embedded_folder(root: Path) -> Path:
    """Write LabelMe files whose photos exist only as imageData, one with a mask shape."""
    root.mkdir(parents=True)
    shutil.copy(DATA / "labelme_tutorial" / "apc2016_obj3.json", root)
    shutil.copy(DATA / "tony607_labelme2coco" / "0.json", root)
    # primitives.json (a mask, 5.7.0) saved with its photo inside, as LabelMe's
    # "Save With Image Data" does: the same JSON, imageData set.
    primitives = json.loads((DATA / "labelme_primitives" / "primitives.json").read_bytes())
    image = (DATA / "labelme_primitives" / "primitives.jpg").read_bytes()
    primitives["imageData"] = base64.b64encode(image).decode("ascii")
    (root / "primitives.json").write_text(json.dumps(primitives, indent=2), encoding="utf-8")
    return root


def run_cli(tmp_path: Path, path: str) -> dict[str, Any]:
    """Run ``python -m osai_import run`` on a labelme source; return what the server stored."""
    config = tmp_path / "labelme.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"url": "local", "data": "server-data"},
        "dataset": {"name": "labelme-embedded"},
        "source": {"type": "labelme", "path": path},
        "upload": {"journal": "journal"},
    }), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet"],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    with local_server(tmp_path / "server-data") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        answer = requests.get(f"{server.root_url}/_emulator/datasets/{listed['id']}", timeout=10)
    stored: dict[str, Any] = answer.json()
    return stored


def check_embedded_upload(stored: dict[str, Any], folder: Path) -> None:
    """Assert the server holds each decoded imageData and the boxes labelme reads."""
    images = {image["name"]: image for image in stored["images"]}
    assert sorted(images) == ["0.jpg", "apc2016_obj3.jpg", "primitives.jpg"]
    for json_name, image_name, dataset in [
        ("apc2016_obj3.json", "apc2016_obj3.jpg", "labelme_tutorial"),
        ("0.json", "0.jpg", "tony607_labelme2coco"),
        ("primitives.json", "primitives.jpg", "labelme_primitives"),
    ]:
        data = base64.b64decode(json.loads((folder / json_name).read_bytes())["imageData"])
        assert images[image_name]["sha256"] == hashlib.sha256(data).hexdigest()
        got = sorted((o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
                     for o in images[image_name]["objects"])
        # The default voc encoder writes whole pixels, rounding each box outwards.
        want = [(label, math.floor(a), math.floor(b), math.ceil(c), math.ceil(d))
                for label, a, b, c, d in expected(oracle(dataset)[json_name], "bounds")]
        assert got == sorted(want), image_name
    octagon = next(o for o in images["primitives.jpg"]["objects"] if o["name"] == "octagon")
    assert (octagon["xmin"], octagon["ymin"], octagon["xmax"], octagon["ymax"]) == (
        417, 305, 517, 405)


def test_cli_run_uploads_embedded_images_to_the_local_server(tmp_path: Path) -> None:
    folder = embedded_folder(tmp_path / "labelme")
    check_embedded_upload(run_cli(tmp_path, "labelme"), folder)


def test_cli_run_uploads_embedded_images_from_a_zip(tmp_path: Path) -> None:
    folder = embedded_folder(tmp_path / "labelme")
    with zipfile.ZipFile(tmp_path / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"export/{path.name}")
    shutil.rmtree(folder)  # only the zip is left to read
    check_embedded_upload(run_cli(tmp_path, "export.zip/export"), embedded_folder(
        tmp_path / "again"))


@pytest.mark.parametrize("name", DATASETS)
def test_a_zip_of_the_folder_reads_as_the_folder(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((DATA / name).iterdir()):
            out.write(path, f"dataset/{path.name}")
    stored = read(f"{archive}/dataset")
    local = read(DATA / name)

    def seen(r: ImageRecord) -> tuple[Any, ...]:
        return (r.key, r.name, r.category, r.boxes, r.width, r.height, dict(r.extras),
                [(p.code, p.message) for p in r.problems])

    assert [seen(r) for r in stored] == [seen(r) for r in local]
    for a, b in zip(local, stored, strict=True):
        assert isinstance(b.path, SourcePath) and b.path.read_bytes() == a.path.read_bytes()
