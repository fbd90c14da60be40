"""LabelmeReader.detect on LabelMe's own files, on other tools' layouts, and on every path form."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from labelme_sample import image_bytes, labelme_file, shape, write_sample

from osai_import import Detection, ImageRecord, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import make_image
from osai_import_labelme import LabelmeReader
from osai_import_labelme.detect import PREFIX, _escape
from osai_import_labelme.outline import outline

DATA = Path(__file__).parent / "data"
DATASETS = sorted(p.name for p in DATA.iterdir() if (p / "ORACLE.json").is_file())


def read(options: Mapping[str, Any]) -> list[ImageRecord]:
    parsed = LabelmeReader.parse_options(dict(options), None, locate)
    return list(LabelmeReader(parsed).records())


def fields(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [(r.key, r.name, r.boxes, r.width, r.height) for r in records]


def detect(path: Path | SourcePath) -> Detection:
    found = LabelmeReader.detect(path)
    assert found is not None and found.reasons
    return found


@pytest.mark.parametrize("name", DATASETS)
def test_each_real_dataset_is_detected_and_its_sources_read_it(name: str) -> None:
    found = detect(DATA / name)
    # Every folder holds its ORACLE.json beside the LabelMe files: a minority that is not
    # LabelMe, so the marker holds with 0.9, and the proposal leaves that file out.
    assert found.confidence == 0.9, found.reasons
    assert "ORACLE.json has no `shapes` list" in " ".join(found.reasons)
    assert found.sources == ({"path": DATA / name, "exclude": ["ORACLE.json"]},)
    expected = read({"path": str(DATA / name), "exclude": ["ORACLE.json"]})
    assert fields(read(found.sources[0])) == fields(expected)


def test_images_are_found_beside_or_embedded() -> None:
    beside = " ".join(detect(DATA / "labelme_bbox_detection").reasons)
    assert "images: 3 found where `imagePath` says, 0 embedded" in beside
    # apc2016_obj3.json's imagePath names the JSON file itself: the photo is embedded.
    embedded = " ".join(detect(DATA / "labelme_tutorial").reasons)
    assert "images: 0 found where `imagePath` says, 1 embedded" in embedded


def test_the_file_itself() -> None:
    path = DATA / "labelme_tutorial_2018" / "apc2016_obj3.json"
    assert path.stat().st_size > PREFIX  # judged from its first bytes only
    found = detect(path)
    assert found.confidence == 0.95
    assert "(no version: LabelMe 3.x)" in found.reasons[0]
    assert found.sources == ({"path": path},)
    assert [r.key for r in read(found.sources[0])] == ["apc2016_obj3.json"]
    other = detect(DATA / "labelme_tutorial_2018" / "ORACLE.json")
    assert other.confidence == 0 and "no `shapes` list" in other.reasons[0]
    assert detect(DATA / "labelme_primitives" / "primitives.jpg").confidence == 0


def copy_dataset(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("ORACLE.json"))
    return target


def test_a_parent_folder_with_splits_gives_a_source_per_split(tmp_path: Path) -> None:
    export = tmp_path / "export"
    copy_dataset(DATA / "labelme_bbox_detection", export / "train")
    copy_dataset(DATA / "labelme_classification", export / "valid")
    (export / "README.md").write_text("# export\n", encoding="utf-8")
    found = detect(export)
    assert found.confidence == 0.95
    assert found.sources == ({"path": export / "train"}, {"path": export / "valid"})
    assert "one source per split folder: train, valid" in found.reasons
    records = [r for options in found.sources for r in read(options)]
    assert [r.key for r in records] == [
        "2011_000003.json", "2011_000006.json", "2011_000025.json", "0001.json", "0002.json"]


def test_other_folders_give_one_source_reading_all(tmp_path: Path) -> None:
    root = tmp_path / "by-class"
    copy_dataset(DATA / "labelme_bbox_detection", root / "people")
    copy_dataset(DATA / "labelme_classification", root / "pets")
    found = detect(root)
    assert found.sources == ({"path": root},)
    assert len(read(found.sources[0])) == 5


def test_a_zip_of_the_dataset(tmp_path: Path) -> None:
    source = DATA / "labelme_classification"
    archive = tmp_path / "labelme.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(source.iterdir()):
            out.write(path, path.name)
    root = locate(str(archive))
    assert isinstance(root, SourcePath)
    found = detect(root)
    assert found.confidence == 0.9
    (options,) = found.sources
    assert options["path"] == root and options["exclude"] == ["ORACLE.json"]
    stored = read(options)
    assert all(isinstance(r.path, SourcePath) for r in stored)
    local = read({"path": str(source), "exclude": ["ORACLE.json"]})
    assert fields(stored) == fields(local)


def test_a_crowd_of_other_json_files_lowers_the_confidence(tmp_path: Path) -> None:
    root = write_sample(tmp_path / "mixed")
    for index in range(30):
        (root / f"meta{index:02d}.json").write_text('{"id": 1}', encoding="utf-8")
    found = detect(root)
    # 12 files looked at, in turn by folder: a.json, b.json, d.json, c.json and 8 others.
    assert found.confidence == 0.7
    assert "4 of the 12 .json files looked at (of 34 listed)" in found.reasons[0]
    assert "exclude" not in found.sources[0]  # not every JSON file was looked at
    assert len(read(found.sources[0])) == 4


def test_missing_images_cap_the_confidence(tmp_path: Path) -> None:
    labelme_file(tmp_path / "a.json", [shape("cat", [[1, 1], [5, 5]], "rectangle")],
                 image_path="photos/a.jpg")
    found = detect(tmp_path)
    assert found.confidence == 0.8
    assert "none found for photos/a.jpg" in found.reasons[-1]


def test_sorted_keys_put_the_embedded_image_before_the_shapes(tmp_path: Path) -> None:
    document = {
        "flags": {}, "imageData": "A" * (PREFIX * 2), "imageHeight": 8, "imagePath": "a.jpg",
        "imageWidth": 8, "shapes": [], "version": "5.0.1",
    }
    (tmp_path / "a.json").write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    found = detect(tmp_path / "a.json")
    assert found.confidence == 0.95
    assert "`shapes` beyond the first 64 KB" in found.reasons[0]


def test_a_long_shapes_list_is_judged_by_its_first_shape(tmp_path: Path) -> None:
    many = [shape("cat", [[1.123456, 1.123456], [5.5, 5.5]], "rectangle")] * 2000
    path = labelme_file(tmp_path / "a.json", many, image_path="a.jpg",
                        image_data=image_bytes(8, 8))
    assert path.stat().st_size > PREFIX
    found = detect(path)
    assert found.confidence == 0.95
    assert "has `shapes` with `label` and `points` (version 5.4.1)" in found.reasons[0]


def write_coco(root: Path) -> Path:
    make_image(root / "images" / "a.jpg")
    (root / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
        "categories": [{"id": 1, "name": "cat"}],
    }), encoding="utf-8")
    return root


def test_other_tools_layouts_are_not_claimed(tmp_path: Path) -> None:
    coco = detect(write_coco(tmp_path / "coco"))
    assert coco.confidence == 0
    assert "annotations.json has no `shapes` list (keys: images, annotations, categories)" in (
        coco.reasons)
    studio = tmp_path / "labelstudio"
    studio.mkdir()
    (studio / "export.json").write_text(json.dumps([{"id": 1, "annotations": [], "data": {
        "image": "/data/upload/a.jpg"}}]), encoding="utf-8")
    found = detect(studio)
    assert found.confidence == 0 and "export.json is a JSON list, not an object" in found.reasons
    voc = tmp_path / "voc"
    make_image(voc / "a.jpg")
    (voc / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>",
                               encoding="utf-8")
    found = detect(voc)
    assert found.confidence == 0 and found.reasons[0].startswith("no .json file among the 2")


def test_near_misses_and_broken_files_say_why(tmp_path: Path) -> None:
    (tmp_path / "shapes.json").write_text('{"shapes": []}', encoding="utf-8")
    (tmp_path / "broken.json").write_text('{"shapes": [', encoding="utf-8")
    found = detect(tmp_path)
    assert found.confidence == 0.3
    assert "broken.json is not valid JSON" in found.reasons
    assert "shapes.json has a `shapes` list but no `imagePath`" in found.reasons
    assert detect(tmp_path / "missing").confidence == 0


def test_outline_reads_a_cut_document() -> None:
    text = b'\xef\xbb\xbf{"version": "5.0", "a\\"b": {"shapes": 1}, "shapes": [{"label": "x",'
    found = outline(text, whole=False)
    assert found is not None and found.is_object and not found.complete
    assert found.keys == {"version": '"5.0"', 'a"b': "{", "shapes": "["}
    assert found.text("version") == "5.0" and found.shape_keys == {"label"}
    assert outline(b"nonsense", whole=False) is None
    listed = outline(b"[1, 2", whole=False)
    assert listed is not None and not listed.is_object


def test_exclude_patterns_match_their_file_only() -> None:
    import fnmatch

    pattern = _escape("meta[1]*.json")
    assert fnmatch.fnmatchcase("meta[1]*.json", pattern)
    assert not fnmatch.fnmatchcase("meta1x.json", pattern)


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    dataset = copy_dataset(DATA / "labelme_instance_segmentation", tmp_path / "shapes")
    config = tmp_path / "osai.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "init", str(dataset), "-o", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["source"] == {"type": "labelme", "path": "shapes"}
    checked = subprocess.run(
        [sys.executable, "-m", "osai_import", "check", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_a_bucket_prefix(osai_s3: Any) -> None:
    url = f"s3://{osai_s3.bucket()}/labelme"
    osai_s3.put_tree(DATA / "labelme_bbox_detection", url)
    root = locate(url)
    found = detect(root)
    assert found.confidence == 0.9
    assert found.sources == ({"path": root, "exclude": ["ORACLE.json"]},)
    local = read({"path": str(DATA / "labelme_bbox_detection"), "exclude": ["ORACLE.json"]})
    assert fields(read(found.sources[0])) == fields(local)
