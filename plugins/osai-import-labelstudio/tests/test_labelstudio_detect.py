"""LabelStudioReader.detect: the layouts it recognises, the path forms, and what it refuses."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from test_labelstudio_conformance import rect, task, write_sample

from osai_import import Detection, ImageRecord, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import LocalS3, make_image
from osai_import.testing.watch import watched
from osai_import_labelstudio import LabelStudioReader


def detect(path: Path | SourcePath) -> Detection:
    found = LabelStudioReader.detect(path)
    assert found is not None and found.reasons
    return found


def read(options: Mapping[str, Any]) -> list[ImageRecord]:
    parsed = LabelStudioReader.parse_options(dict(options), None, locate)
    return list(LabelStudioReader(parsed).records())


def read_all(found: Detection) -> list[ImageRecord]:
    return [r for options in found.sources for r in read(options)]


def shape(records: list[ImageRecord]) -> list[tuple[str, str, int]]:
    return sorted((r.key.rsplit("/", 1)[-1], r.name, len(r.boxes)) for r in records)


def errors(records: list[ImageRecord]) -> list[str]:
    return [p.code for r in records for p in r.problems if p.severity.value == "error"]


def export(path: Path, tasks: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def boxed(task_id: int, image: str) -> dict[str, Any]:
    return task(task_id, image, [rect(f"r{task_id}", "cat", 10, 10, 50, 50, (32, 24))])


# the path forms


def test_the_sample_folder_and_its_export_file(tmp_path: Path) -> None:
    exported = write_sample(tmp_path / "ls")
    expected = shape(read({"path": exported}))
    for path in (tmp_path / "ls", exported):
        found = detect(path)
        assert found.confidence == 0.95, found.reasons
        assert found.sources == ({"path": exported},)
        assert "export.json is a list of Label Studio tasks with `data` and annotations" in (
            found.reasons[0])
        assert "4 image reference(s) looked at are read below the export's folder" in (
            found.reasons[1])
        assert shape(read_all(found)) == expected


def test_a_folder_above_splits_gives_a_source_per_split(tmp_path: Path) -> None:
    root = tmp_path / "export"
    for split in ("train", "valid", "test"):
        write_sample(root / split)
    found = detect(root)
    assert found.confidence == 0.95
    assert [s["path"] for s in found.sources] == [
        root / split / "export.json" for split in ("test", "train", "valid")]
    assert all(set(s) == {"path"} for s in found.sources)
    records = read_all(found)
    assert len(records) == 12 and not errors(records)
    assert {r.path.parent.parent.name for r in records} == {"train", "valid", "test"}


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    root = tmp_path / "export"
    for split in ("train", "valid"):
        write_sample(root / split)
    config = tmp_path / "labelstudio.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "init", str(root), "-o", str(config)],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["source"] == [
        {"type": "labelstudio", "path": "export/train/export.json", "label": "train"},
        {"type": "labelstudio", "path": "export/valid/export.json", "label": "valid"},
    ]
    checked = subprocess.run(
        [sys.executable, "-m", "osai_import", "check", str(config)],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "8 image(s) checked: 8 ok" in checked.stdout


def test_a_zip_of_a_label_studio_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "ls-data"
    export(data / "export" / "project-7-at-2024-05-01.json",
           [boxed(1, "/data/upload/7/1a2b3c4d-cat.jpg"), boxed(2, "/data/upload/7/0f0f0f0f-dog.jpg")])
    for name in ("1a2b3c4d-cat.jpg", "0f0f0f0f-dog.jpg"):
        make_image(data / "media" / "upload" / "7" / name)
    archive = tmp_path / "ls-data.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(data.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(data).as_posix())
    root = locate(str(archive))
    assert isinstance(root, SourcePath)
    found = detect(root)
    assert found.confidence == 0.95, found.reasons
    (source,) = found.sources
    assert source == {"path": root / "export/project-7-at-2024-05-01.json",
                      "images": root / "media/upload"}
    records = read(source)
    assert [r.name for r in records] == ["cat.jpg", "dog.jpg"] and not errors(records)
    assert all(isinstance(r.path, SourcePath) and r.path.is_file() for r in records)


def test_a_bucket_prefix(tmp_path: Path, osai_s3: LocalS3) -> None:
    write_sample(tmp_path / "ls")
    url = f"s3://{osai_s3.bucket()}/projects/ls"
    osai_s3.put_tree(tmp_path / "ls", url)
    found = detect(locate(url))
    assert found.confidence == 0.95
    (source,) = found.sources
    assert str(source["path"]) == f"{url}/export.json"
    assert shape(read(source)) == shape(read({"path": tmp_path / "ls" / "export.json"}))


# image references


def test_uploads_found_by_name_in_a_flat_folder_map_their_project(tmp_path: Path) -> None:
    exported = export(tmp_path / "export.json", [boxed(1, "/data/upload/7/1a2b3c4d-cat.jpg")])
    make_image(tmp_path / "upload" / "1a2b3c4d-cat.jpg")
    found = detect(tmp_path)
    assert found.sources == ({"path": exported,
                              "image_prefixes": {"/data/upload/7/": tmp_path / "upload"}},)
    (record,) = read(found.sources[0])
    assert record.name == "cat.jpg" and record.path == tmp_path / "upload" / "1a2b3c4d-cat.jpg"


def test_local_files_under_a_document_root(tmp_path: Path) -> None:
    exported = export(tmp_path / "exports" / "tasks.json", [
        boxed(1, "/data/local-files/?d=photos/a%201.jpg"),
        boxed(2, "/data/local-files/?d=photos%2Fb.jpg")])  # the slash quoted
    for name in ("a 1.jpg", "b.jpg"):
        make_image(tmp_path / "docroot" / "photos" / name)
    found = detect(tmp_path)
    assert found.confidence == 0.95
    assert found.sources == ({"path": exported, "images": tmp_path / "docroot"},)
    assert [r.path for r in read(found.sources[0])] == [
        tmp_path / "docroot" / "photos" / "a 1.jpg", tmp_path / "docroot" / "photos" / "b.jpg"]


def test_absolute_paths_map_their_head(tmp_path: Path) -> None:
    exported = export(tmp_path / "export.json", [boxed(1, "/srv/label/photos/a.jpg")])
    make_image(tmp_path / "photos" / "a.jpg")
    found = detect(exported)
    assert found.sources == ({"path": exported,
                              "image_prefixes": {"/srv/label/": tmp_path}},)
    (record,) = read(found.sources[0])
    assert record.path == tmp_path / "photos" / "a.jpg" and not errors([record])


def test_missing_images_still_match_and_name_the_option(tmp_path: Path) -> None:
    exported = export(tmp_path / "export.json", [
        boxed(1, "/data/upload/3/1a2b3c4d-cat.jpg"), boxed(2, "photos/b.jpg")])
    make_image(tmp_path / "photos" / "b.jpg")
    found = detect(tmp_path)
    assert found.confidence == 0.8
    assert found.sources == ({"path": exported},)
    assert ("1 of 2 image reference(s) looked at not found among the listed files (such as "
            "'/data/upload/3/1a2b3c4d-cat.jpg'); set `images` to Label Studio's media/upload"
            ) in found.reasons[1]
    nothing = export(tmp_path / "other" / "export.json", [boxed(1, "/data/upload/3/x.jpg")])
    assert detect(nothing).confidence == 0.7


def test_urls_and_embedded_images_need_no_folder(tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (0, 90, 0)).save(png, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    exported = export(tmp_path / "export.json", [
        boxed(1, "https://images.example.com/a.jpg"), boxed(2, uri)])
    found = detect(tmp_path)
    assert found.confidence == 0.95 and found.sources == ({"path": exported},)
    assert "from their URLs, from the export itself (data: URIs)" in found.reasons[1]


def test_a_first_task_larger_than_the_part_read(tmp_path: Path) -> None:
    uri = "data:image/png;base64," + "A" * 100_000
    first = boxed(1, uri)
    # Label Studio writes a task's annotations before its data: they are seen.
    export(tmp_path / "export.json", [{"annotations": first.pop("annotations"), **first}])
    found = detect(tmp_path)
    assert found.confidence == 0.7
    assert "its first task is larger than the part read" in found.reasons[1]
    export(tmp_path / "export.json", [boxed(1, uri)])
    assert detect(tmp_path).confidence == 0.5


def test_another_image_field_is_proposed_as_image_key(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    tasks = [boxed(1, "a.jpg")]
    tasks[0]["data"] = {"caption": "a cat", "img": "a.jpg"}
    exported = export(tmp_path / "export.json", tasks)
    found = detect(tmp_path)
    assert found.confidence == 0.95
    assert found.sources == ({"path": exported, "image_key": "img"},)
    assert "images in `img` (set as `image_key`)" in found.reasons[1]
    (record,) = read(found.sources[0])
    assert record.name == "a.jpg" and len(record.boxes) == 1


def test_a_text_project_is_no_image_dataset(tmp_path: Path) -> None:
    tasks = [boxed(1, "x")]
    tasks[0]["data"] = {"text": "a sentence"}
    export(tmp_path / "export.json", tasks)
    found = detect(tmp_path)
    assert found.confidence == 0.4
    assert ("no image reference in the tasks looked at (their data.* text fields: text); "
            "set `image_key`") in found.reasons[1]


def test_tasks_without_annotations_are_a_weak_match(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    exported = export(tmp_path / "tasks.json", [{"data": {"image": "a.jpg"}}])
    found = detect(tmp_path)
    assert found.confidence == 0.6 and found.sources == ({"path": exported},)
    assert "no annotations seen" in found.reasons[0]


def test_json_min_of_a_classification_project(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    exported = export(tmp_path / "min.json", [
        {"image": "a.jpg", "id": 1, "choice": "cat", "annotator": 1, "annotation_id": 2,
         "lead_time": 3.5}])
    found = detect(tmp_path)
    assert found.confidence == 0.6 and found.sources == ({"path": exported},)
    (record,) = read(found.sources[0])
    assert record.category == "cat"


# several exports


def test_several_exports_in_a_folder_are_several_sources(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    first = export(tmp_path / "project-1-at-2024.json", [boxed(1, "a.jpg")])
    second = export(tmp_path / "project-2-at-2024.json", [boxed(2, "a.jpg")])
    (tmp_path / "coco.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": []}), encoding="utf-8")
    found = detect(tmp_path)
    assert [s["path"] for s in found.sources] == [first, second]
    assert ("1 other .json file(s) looked at are not Label Studio exports: coco.json is an "
            "object with keys images, annotations, categories, not a Label Studio task"
            ) in found.reasons


def test_more_exports_than_are_opened_make_the_folder_one_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_image(tmp_path / "tasks" / "a.jpg")
    for n in range(40):
        # A cloud target storage: one task per file, an object.
        export(tmp_path / "tasks" / f"{n:03d}.json", boxed(n, "a.jpg"))
    with watched(monkeypatch) as watch:
        found = detect(tmp_path)
    assert watch.files() <= 16
    assert found.sources == ({"path": tmp_path / "tasks"},)
    assert "tasks/ holds 40 .json files, 16 looked at, all Label Studio exports" in (
        found.reasons[0])
    assert len(read_all(found)) == 40


def test_an_export_beyond_the_listing_is_named_by_path(tmp_path: Path) -> None:
    for n in range(5001):
        (tmp_path / f"{n:05d}.jpg").touch()
    exported = write_sample(tmp_path / "zz-export")
    found = detect(tmp_path)
    assert found.confidence == 0.0
    assert "the listing cut short: name the export itself" in found.reasons[0]
    assert detect(exported).confidence == 0.95


def test_a_text_project_beside_an_image_project_is_no_source(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    text = [boxed(1, "x")]
    text[0]["data"] = {"text": "a sentence"}
    export(tmp_path / "a-text.json", text)
    images = export(tmp_path / "b-images.json", [boxed(1, "a.jpg")])
    found = detect(tmp_path)
    assert found.confidence == 0.95 and found.sources == ({"path": images},)
    assert found.reasons[0].startswith("b-images.json is a list of Label Studio tasks")
    assert any(r.startswith("a-text.json: no image reference") for r in found.reasons)
