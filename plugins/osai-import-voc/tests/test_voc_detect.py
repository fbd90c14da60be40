"""detect on the real datasets and on layouts written here; folders that are not VOC's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from osai_import import Detection, ImageRecord, SourceError, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import LocalS3, make_image
from osai_import_voc import VocReader

DATA = Path(__file__).parent / "data"
EXPECTED = {"datumaro_voc1": 0.95, "datumaro_voc3": 0.95, "datumaro_voc2_noimages": 0.55}


def detect(path: Path | SourcePath) -> Detection:
    found = VocReader.detect(path)
    assert found is not None
    return found


def read(options: dict[str, Any]) -> list[ImageRecord]:
    return list(VocReader(VocReader.parse_options(dict(options), None, locate)).records())


def shape(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [(r.key, r.name, r.boxes, sorted(p.code for p in r.problems)) for r in records]


def loose(root: Path, write_voc: Callable[..., Path], annotations: str, images: str) -> Path:
    """Write the sample with its folders renamed (``.`` puts them in the folder itself)."""
    voc = write_voc(root.parent / f"{root.name}-devkit")
    root.mkdir(parents=True, exist_ok=True)
    for folder, name in (("Annotations", annotations), ("JPEGImages", images)):
        target = root / name
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted((voc / folder).iterdir()):
            shutil.copy(file, target / file.name)
    shutil.rmtree(voc)
    return root


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_dataset_is_detected_and_its_source_reads_as_the_folder(name: str) -> None:
    found = detect(DATA / name)
    assert found.confidence == EXPECTED[name], found.reasons
    assert found.sources == ({"path": DATA / name},)
    assert shape(read(found.sources[0])) == shape(read({"path": str(DATA / name)}))


def test_annotations_without_images_say_so() -> None:
    found = detect(DATA / "datumaro_voc2_noimages")
    assert any("voc.image_missing" in reason for reason in found.reasons)


def test_one_annotation_file_stands_for_its_folder() -> None:
    found = detect(DATA / "datumaro_voc1" / "Annotations" / "2007_000001.xml")
    assert found.confidence == 0.95 and found.sources == ({"path": DATA / "datumaro_voc1"},)


@pytest.mark.parametrize(
    ("annotations", "images", "confidence"),
    [("annotations", "images", 0.85), ("xml", "imgs", 0.85), (".", ".", 0.85)],
)
def test_loose_folders_are_proposed_with_their_names(
    tmp_path: Path, write_voc: Callable[..., Path], annotations: str, images: str,
    confidence: float,
) -> None:
    root = loose(tmp_path / "export", write_voc, annotations, images)
    found = detect(root)
    assert found.confidence == confidence, found.reasons
    assert found.sources == ({"path": root, "annotations": annotations, "images": images},)
    records = read(found.sources[0])
    assert [(r.key, len(r.boxes)) for r in records] == [("a", 2), ("b", 1), ("c", 0), ("d", 1)]
    assert not [p for r in records for p in r.problems]
    # The XML file itself leads to the same source.
    assert detect(root / annotations / "a.xml").sources == found.sources


def test_a_folder_above_gives_a_source_per_voc_folder(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    write_voc(tmp_path / "VOCdevkit" / "VOC2007")
    write_voc(tmp_path / "VOCdevkit" / "VOC2012", lists={"train": ["a", "b"]})
    found = detect(tmp_path / "VOCdevkit")
    assert found.confidence == 0.9
    assert found.sources == ({"path": tmp_path / "VOCdevkit" / "VOC2007"},
                             {"path": tmp_path / "VOCdevkit" / "VOC2012"})
    assert [len(read(s)) for s in found.sources] == [4, 2]


def test_an_export_with_split_folders_gives_a_source_per_split(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    for split in ("train", "valid", "test"):
        loose(tmp_path / "export" / split, write_voc, ".", ".")
    found = detect(tmp_path / "export")
    assert found.confidence == 0.8
    assert [s["path"] for s in found.sources] == [
        tmp_path / "export" / split for split in ("test", "train", "valid")]
    assert all(s["annotations"] == s["images"] == "." for s in found.sources)


def test_a_zip_of_the_dataset_is_detected_inside(tmp_path: Path) -> None:
    archive = tmp_path / "voc1.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in sorted((DATA / "datumaro_voc1").rglob("*")):
            if file.is_file():
                out.write(file, file.relative_to(DATA / "datumaro_voc1").as_posix())
    root = locate(str(archive))
    assert isinstance(root, SourcePath)
    found = detect(root)
    assert found.confidence == 0.95
    (source,) = found.sources
    assert isinstance(source["path"], SourcePath)
    local = read({"path": str(DATA / "datumaro_voc1")})
    assert [(r.key, r.boxes) for r in read(source)] == [(r.key, r.boxes) for r in local]


def test_other_tools_xml_and_json_are_not_claimed(tmp_path: Path) -> None:
    cvat = tmp_path / "cvat"
    make_image(cvat / "images" / "a.jpg")
    (cvat / "annotations.xml").write_text(
        "<annotations><version>1.1</version><image id='0' name='a.jpg'/></annotations>",
        encoding="utf-8")
    coco = tmp_path / "coco"
    make_image(coco / "images" / "a.jpg")
    (coco / "instances.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": []}), encoding="utf-8")
    for folder, words in ((cvat, "root element <annotations>"), (coco, "no .xml file")):
        found = detect(folder)
        assert found.confidence < 0.5 and found.sources == (), found
        assert any(words in reason for reason in found.reasons), found.reasons
    assert detect(cvat / "annotations.xml").confidence < 0.5
    assert detect(coco / "instances.json").confidence == 0.0


def test_hostile_and_broken_xml_is_no_match(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    make_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir()
    (root / "Annotations" / "a.xml").write_text(
        '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation>&x;</annotation>',
        encoding="utf-8")
    (root / "Annotations" / "b.xml").write_bytes(b"\x00\xffnot xml")
    found = detect(root)
    assert found.confidence == 0.1 and found.sources == ()
    assert "a.xml: declares a DTD or entities; b.xml: not XML" in found.reasons[0]


def test_init_writes_a_config_that_runs(tmp_path: Path, write_voc: Callable[..., Path]) -> None:
    root = loose(tmp_path / "labelimg", write_voc, "annotations", "images")
    config = tmp_path / "osai.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "init", str(root), "-o", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["source"] == {"type": "voc", "path": "labelimg",
                                 "annotations": "annotations", "images": "images"}
    checked = subprocess.run(
        [sys.executable, "-m", "osai_import", "check", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# What the reader says of folders that are not where the options say


def test_not_a_voc_folder_suggests_the_folders_that_look_like_it(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = loose(tmp_path / "export", write_voc, "annotations", "images")
    with pytest.raises(SourceError) as caught:
        read({"path": str(root)})
    assert str(caught.value) == (
        f"{root}: not a Pascal VOC folder: no Annotations/ or JPEGImages/ in it; annotations/ "
        "holds 4 .xml file(s) and images/ holds 4 image(s): set source.annotations: "
        "annotations and source.images: images")
    flat = loose(tmp_path / "flat", write_voc, ".", ".")
    with pytest.raises(SourceError, match=r"the folder itself holds 4 \.xml file\(s\) and 4 "
                       r"image\(s\): set source.annotations: \. and source.images: \.$"):
        read({"path": str(flat)})


def test_a_wrong_images_folder_stops_at_once(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = write_voc(tmp_path / "voc")
    with pytest.raises(SourceError) as caught:
        read({"path": str(root), "images": "photos"})
    assert str(caught.value) == (
        f"{root}: no images folder photos/ (source.images); JPEGImages/ holds 4 image(s): "
        "set source.images: JPEGImages")
    os.rename(root / "JPEGImages", root / "images")
    with pytest.raises(SourceError, match=r"no images folder JPEGImages/ \(source.images, by "
                       r"default\); images/ holds 4 image\(s\): set source.images: images$"):
        read({"path": str(root)})
    os.rename(root / "images", root / "elsewhere-but-empty")
    for file in (root / "elsewhere-but-empty").iterdir():
        file.unlink()
    with pytest.raises(SourceError, match=r"no images folder photos/ \(source.images\); set "
                       "source.images to the folder that holds them"):
        read({"path": str(root), "images": "photos"})


def test_a_wrong_annotations_folder_stops_at_once(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = write_voc(tmp_path / "voc")
    with pytest.raises(SourceError, match=r"no annotations folder xml/ \(source.annotations\); "
                       r"Annotations/ holds 4 \.xml file\(s\): set source.annotations: "
                       "Annotations"):
        read({"path": str(root), "annotations": "xml"})


def test_segmentation_masks_are_never_taken_for_the_images(tmp_path: Path) -> None:
    root = tmp_path / "voc1"
    shutil.copytree(DATA / "datumaro_voc1", root)
    shutil.rmtree(root / "JPEGImages")
    found = detect(root)
    assert found.confidence == 0.55 and found.sources == ({"path": root},)
    records = read({"path": str(root)})
    assert {p.code for r in records for p in r.problems} >= {"voc.image_missing"}


def test_a_bucket_prefix_is_detected(osai_s3: LocalS3) -> None:
    url = f"s3://{osai_s3.bucket()}/voc3"
    osai_s3.put_tree(DATA / "datumaro_voc3", url)
    found = detect(locate(url))
    assert found.confidence == 0.95
    (source,) = found.sources
    assert isinstance(source["path"], SourcePath)
    assert [(r.key, r.boxes) for r in read(source)] == [
        (r.key, r.boxes) for r in read({"path": str(DATA / "datumaro_voc3")})]
