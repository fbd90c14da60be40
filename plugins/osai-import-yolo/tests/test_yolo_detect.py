"""detect on the real datasets and on layouts written here; the dataset YAML of any name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from osai_import import Detection, ImageRecord, SourceError, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import LocalS3, make_image
from osai_import_yolo import YoloReader

DATA = Path(__file__).parent / "data"
EXPECTED = {
    "datumaro_roboflow_yolo": (0.95, "data.yaml"),
    "datumaro_yolo_strict": (0.9, None),
    "datumaro_yolo_labels": (0.8, None),
}


def detect(path: Path | SourcePath) -> Detection:
    found = YoloReader.detect(path)
    assert found is not None
    return found


def read(options: dict[str, Any]) -> list[ImageRecord]:
    return list(YoloReader(YoloReader.parse_options(dict(options), None, locate)).records())


def shape(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [(r.key, r.boxes) for r in records]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ultralytics(root: Path, yaml_name: str = "coco8.yaml") -> Path:
    """Write a small Ultralytics dataset whose YAML is not called data.yaml."""
    write(root / yaml_name, "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n")
    for split in ("train", "val"):
        make_image(root / "images" / split / f"{split}1.jpg", 20, 10)
        write(root / "labels" / split / f"{split}1.txt", "0 0.5 0.5 0.5 0.5\n")
    return root


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_dataset_is_detected_and_its_sources_read_as_the_folder(name: str) -> None:
    confidence, yaml_file = EXPECTED[name]
    found = detect(DATA / name)
    assert found.confidence == confidence, found.reasons
    (source,) = found.sources
    assert source["path"] == DATA / name / yaml_file if yaml_file else DATA / name
    assert shape(read(source)) == shape(read({"path": str(DATA / name)}))


def test_the_yaml_itself_is_detected() -> None:
    found = detect(DATA / "datumaro_roboflow_yolo" / "data.yaml")
    assert found.confidence == 0.95
    assert found.sources == ({"path": DATA / "datumaro_roboflow_yolo" / "data.yaml"},)
    assert "data.yaml: a dataset YAML" in found.reasons[0]


def test_a_folder_above_gives_a_source_per_dataset(tmp_path: Path) -> None:
    for name in EXPECTED:
        shutil.copytree(DATA / name, tmp_path / "exports" / name)
    found = detect(tmp_path / "exports")
    assert 0.5 <= found.confidence < 0.9
    assert len(found.sources) == 3
    read_all = [r for s in found.sources for r in read(s)]
    assert len(read_all) == 3 + 1 + 2
    assert any(reason.startswith("datumaro_yolo_strict/: obj.data") for reason in found.reasons)


def test_an_export_with_split_folders_is_one_source(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "obj.names", "cat\n")
    for split in ("train", "valid", "test"):
        make_image(root / split / "images" / "a.jpg", 10, 10)
        write(root / split / "labels" / "a.txt", "0 0.5 0.5 0.2 0.2\n")
    found = detect(root)
    assert found.confidence == 0.8
    assert found.sources == ({"path": root},)
    assert [r.extras["split"] for r in read(found.sources[0])] == ["test", "train", "valid"]


def test_a_zip_of_the_dataset_is_detected_inside(tmp_path: Path) -> None:
    archive = tmp_path / "roboflow.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in sorted((DATA / "datumaro_roboflow_yolo").rglob("*")):
            if file.is_file():
                out.write(file, file.relative_to(DATA / "datumaro_roboflow_yolo").as_posix())
    root = locate(str(archive))
    assert isinstance(root, SourcePath)
    found = detect(root)
    assert found.confidence == 0.95
    (source,) = found.sources
    assert isinstance(source["path"], SourcePath) and source["path"].name == "data.yaml"
    assert shape(read(source)) == shape(read({"path": str(DATA / "datumaro_roboflow_yolo")}))


def test_polygon_labels_are_proposed_with_polygons(tmp_path: Path) -> None:
    root = ultralytics(tmp_path / "seg")
    write(root / "labels" / "train" / "train1.txt", "0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n")
    found = detect(root)
    assert found.confidence == 0.95 and found.sources[0]["polygons"] is True
    assert [len(r.boxes) for r in read(found.sources[0])] == [1, 1]


@pytest.mark.parametrize(
    ("setup", "most", "words"),
    [
        ("labels without names", 0.35, "no class names"),
        ("images only", 0.05, "no .txt label file"),
        ("other text files", 0.1, "not all YOLO lines"),
        ("a yaml of another tool", 0.1, "not a dataset YAML"),
        ("a broken data.yaml", 0.4, "invalid YAML"),
    ],
)
def test_what_is_not_a_yolo_dataset_is_said(
    tmp_path: Path, setup: str, most: float, words: str
) -> None:
    root = tmp_path / "ds"
    make_image(root / "images" / "a.jpg")
    if setup != "images only":
        text = "hello world\n" if setup == "other text files" else "0 0.5 0.5 0.2 0.2\n"
        write(root / "labels" / "a.txt", text)
    if setup in ("other text files", "a yaml of another tool"):
        write(root / "classes.txt", "cat\n")
    if setup == "a yaml of another tool":
        write(root / "labels" / "a.txt", "hello world\n")
        write(root / "args.yaml", "task: detect\nepochs: 100\n")
    if setup == "a broken data.yaml":
        write(root / "data.yaml", "train: [\n")
    found = detect(root)
    assert found.confidence <= most < 0.5 and found.sources == ()
    assert any(words in reason for reason in found.reasons), found.reasons


def test_another_tools_layouts_are_not_claimed(tmp_path: Path) -> None:
    voc = tmp_path / "voc"
    make_image(voc / "JPEGImages" / "a.jpg")
    write(voc / "Annotations" / "a.xml", "<annotation><object><name>cat</name></object>"
          "</annotation>")
    write(voc / "ImageSets" / "Main" / "train.txt", "a\n")
    write(voc / "ImageSets" / "Main" / "cat_train.txt", "a  1\n")
    coco = tmp_path / "coco"
    make_image(coco / "images" / "a.jpg")
    write(coco / "instances.json", json.dumps({"images": [], "annotations": [],
                                               "categories": []}))
    for folder in (voc, coco):
        found = detect(folder)
        assert found.confidence < 0.5 and found.reasons, (folder, found)


def test_a_missing_path_and_a_text_file_are_no_match(tmp_path: Path) -> None:
    assert detect(tmp_path / "nothing").confidence == 0.0
    found = detect(write(tmp_path / "notes.txt", "0 0.5 0.5 0.1 0.1\n"))
    assert found.confidence == 0.0 and "not a dataset YAML" in found.reasons[0]


# The dataset YAML under any name


def test_a_dataset_yaml_of_any_name_is_read(tmp_path: Path) -> None:
    root = ultralytics(tmp_path / "coco8", "my-data.yml")
    write(root / "args.yaml", "epochs: 3\n")  # a training run's settings: not the dataset's
    records = read({"path": str(root)})
    assert [r.key for r in records] == ["images/train/train1.jpg", "images/val/val1.jpg"]
    assert [b.label for r in records for b in r.boxes] == ["cat", "cat"]
    assert not [p for r in records for p in r.problems]
    found = detect(root)
    assert found.confidence == 0.95 and found.sources == ({"path": root / "my-data.yml"},)


def test_data_yaml_wins_over_other_dataset_yamls_with_a_warning(tmp_path: Path) -> None:
    root = ultralytics(tmp_path / "ds")
    write(root / "data.yaml", "train: images/train\nnames: [dog]\n")
    records = read({"path": str(root)})
    assert [r.key for r in records] == ["images/train/train1.jpg"]
    (note,) = [p for r in records for p in r.problems]
    assert note.code == "yolo.yaml_chosen" and note.item == "data.yaml"
    assert "data.yaml used, for its conventional name; coco8.yaml" in note.message
    assert str(root / "coco8.yaml") in note.message
    found = detect(root)
    assert found.sources == ({"path": root / "data.yaml"},)
    assert any("also describing a dataset: coco8.yaml" in r for r in found.reasons)


def test_several_dataset_yamls_of_other_names_ask_for_one(tmp_path: Path) -> None:
    root = ultralytics(tmp_path / "ds")
    write(root / "coco8-small.yaml", "train: images/train\nnames: [dog]\n")
    with pytest.raises(SourceError, match="several YAML files describe a dataset") as caught:
        read({"path": str(root)})
    assert "coco8-small.yaml, coco8.yaml" in str(caught.value)
    assert f"path: {root / 'coco8-small.yaml'}" in str(caught.value)
    found = detect(root)
    (source,) = found.sources
    assert source == {"path": root / "coco8-small.yaml"}
    assert [r.extras["split"] for r in read(source)] == ["train"]


def test_init_writes_a_config_that_runs(tmp_path: Path) -> None:
    root = ultralytics(tmp_path / "coco8")
    config = tmp_path / "osai.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "init", str(root), "-o", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["source"] == {"type": "yolo", "path": "coco8/coco8.yaml"}
    checked = subprocess.run(
        [sys.executable, "-m", "osai_import", "check", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_bucket_prefix_above_the_dataset_is_detected(osai_s3: LocalS3) -> None:
    url = f"s3://{osai_s3.bucket()}/exports"
    osai_s3.put_tree(DATA, url)
    found = detect(locate(url))
    assert len(found.sources) == 3 and 0.5 <= found.confidence < 0.9
    read_all = {s["path"].name: len(read(s)) for s in found.sources}
    assert read_all == {"data.yaml": 3, "datumaro_yolo_labels": 2, "datumaro_yolo_strict": 1}
