"""CvatReader.detect on CVAT's exports, on other tools' layouts, and on every path form."""

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
from test_cvat_conformance import write_sample

from osai_import import Detection, ImageRecord, SourcePath
from osai_import.source.locate import locate
from osai_import.testing import make_image
from osai_import_cvat import CvatReader
from osai_import_cvat.detect import PREFIX

DATA = Path(__file__).parent / "data"
DATASETS = {
    "datumaro_for_images_export_project": ("annotations.xml", "<meta><project>", "<image>"),
    "datumaro_for_images_export_task": ("train.xml", "<meta><task> (mode annotation)",
                                        "<image>"),
    "datumaro_for_video": ("annotations.xml", "<meta><task> (mode interpolation)", "<track>"),
    "cvat_docs_images": ("annotations.xml", "<meta><task> (mode annotation)", "<image>"),
    "cvat_docs_video": ("annotations.xml", "<meta><task> (mode interpolation)", "<track>"),
}


def read(options: Mapping[str, Any]) -> list[ImageRecord]:
    parsed = CvatReader.parse_options(dict(options), None, locate)
    return list(CvatReader(parsed).records())


def fields(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [(r.key, r.name, r.boxes, r.category, r.width, r.height) for r in records]


def detect(path: Path | SourcePath) -> Detection:
    found = CvatReader.detect(path)
    assert found is not None and found.reasons
    return found


def zip_tree(root: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name != "ORACLE.json":
                out.write(path, prefix + path.relative_to(root).as_posix())
    return archive


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_real_export_is_detected_and_its_sources_read_it(name: str) -> None:
    xml, meta, form = DATASETS[name]
    found = detect(DATA / name)
    assert found.confidence == 0.95, found.reasons
    assert f"{xml} has <annotations>, <version>1.1</version>, {meta}, {form}" in (
        found.reasons[0])
    assert f"{xml}: its images are in images/ beside it" in found.reasons
    # annotations.xml: the export folder as is; another name: the XML file itself.
    path = DATA / name if xml == "annotations.xml" else DATA / name / xml
    assert found.sources == ({"path": path},)
    assert fields(read(found.sources[0])) == fields(read({"path": str(DATA / name)}))


def test_the_xml_file_itself() -> None:
    xml = DATA / "cvat_docs_video" / "annotations.xml"
    found = detect(xml)
    assert found.confidence == 0.95
    assert "<track> elements (CVAT for video)" in found.reasons[0]
    assert found.sources == ({"path": xml},)
    assert fields(read(found.sources[0])) == fields(read({"path": str(xml.parent)}))
    assert detect(DATA / "cvat_docs_video" / "ORACLE.json").confidence == 0


def test_a_parent_folder_of_exports_gives_a_source_per_export(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    shutil.copytree(DATA / "cvat_docs_images", exports / "task_4")
    shutil.copytree(DATA / "datumaro_for_video", exports / "task_5")
    found = detect(exports)
    assert found.confidence == 0.95
    assert found.sources == ({"path": exports / "task_4"}, {"path": exports / "task_5"})
    records = [r for options in found.sources for r in read(options)]
    assert len(records) == 1 + 3


def test_several_xml_files_in_one_folder_are_several_sources(tmp_path: Path) -> None:
    root = shutil.copytree(DATA / "datumaro_for_images_export_task", tmp_path / "splits")
    shutil.copy(root / "train.xml", root / "valid.xml")
    (root / "ORACLE.json").unlink()
    found = detect(root)
    assert found.sources == ({"path": root / "train.xml"}, {"path": root / "valid.xml"})
    assert [len(read(options)) for options in found.sources] == [2, 2]


def test_cvats_export_zip(tmp_path: Path) -> None:
    source = DATA / "datumaro_for_images_export_project"
    root = locate(str(zip_tree(source, tmp_path / "project.zip")))
    assert isinstance(root, SourcePath)
    found = detect(root)
    assert found.confidence == 0.95 and found.sources == ({"path": root},)
    stored = read(found.sources[0])
    assert all(isinstance(r.path, SourcePath) for r in stored)
    assert fields(stored) == fields(read({"path": str(source)}))


def test_a_folder_of_export_zips(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    zip_tree(DATA / "cvat_docs_images", exports / "task_4.zip")
    zip_tree(DATA / "cvat_docs_video", exports / "task_5.zip")
    (exports / "notes.zip").write_bytes(b"not a zip")
    found = detect(exports)
    assert found.confidence == 0.95
    assert found.sources == ({"path": exports / "task_4.zip"}, {"path": exports / "task_5.zip"})
    assert "one source per export archive" in found.reasons
    assert [len(read(options)) for options in found.sources] == [1, 9]


@pytest.mark.parametrize("inner", ["", "images/"])
def test_images_in_a_zip_beside_the_xml(tmp_path: Path, inner: str) -> None:
    source = DATA / "datumaro_for_images_export_project"
    shutil.copy(source / "annotations.xml", tmp_path / "annotations.xml")
    zip_tree(source / "images", tmp_path / "images.zip", inner)
    found = detect(tmp_path)
    assert found.confidence == 0.95
    images = tmp_path / "images.zip" / inner.rstrip("/") if inner else tmp_path / "images.zip"
    assert found.sources == ({"path": tmp_path, "images": images},)
    assert "annotations.xml: its images are in images.zip beside it" in found.reasons
    assert fields(read(found.sources[0])) == fields(read({"path": str(source)}))


def test_no_images_anywhere_caps_the_confidence(tmp_path: Path) -> None:
    shutil.copy(DATA / "cvat_docs_images" / "annotations.xml", tmp_path / "annotations.xml")
    found = detect(tmp_path)
    assert found.confidence == 0.8
    assert "annotations.xml: no images/ folder, images archive or image beside it" in (
        found.reasons[1])


def test_a_long_meta_is_judged_from_its_first_bytes(tmp_path: Path) -> None:
    root = write_sample(tmp_path / "long")
    xml = root / "annotations.xml"
    labels = "".join(f"<label><name>label{i:05d}</name></label>" for i in range(3000))
    xml.write_text(xml.read_text(encoding="utf-8").replace("<labels>", "<labels>" + labels),
                   encoding="utf-8")
    assert xml.stat().st_size > PREFIX
    found = detect(root)
    assert found.confidence == 0.95
    assert "no <image> or <track> in its first 64 KB" in found.reasons[0]
    assert len(read(found.sources[0])) == 4


def write_voc(root: Path) -> Path:
    make_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
        encoding="utf-8")
    return root


def test_other_tools_layouts_are_not_claimed(tmp_path: Path) -> None:
    voc = detect(write_voc(tmp_path / "voc"))
    assert voc.confidence == 0
    assert "Annotations/a.xml has the root <annotation>, not <annotations> (Pascal VOC)" in (
        voc.reasons)
    coco = tmp_path / "coco"
    make_image(coco / "a.jpg")
    (coco / "instances.json").write_text(json.dumps(
        {"images": [], "annotations": [], "categories": []}), encoding="utf-8")
    found = detect(coco)
    assert found.confidence == 0 and found.reasons[0].startswith("no .xml file among the 2")
    other = tmp_path / "other"
    other.mkdir()
    (other / "labels.xml").write_text("<annotations><item id='1'/></annotations>",
                                      encoding="utf-8")
    found = detect(other)
    assert found.confidence == 0.2
    assert "labels.xml has <annotations>, but no <version>, <meta>, <image> or <track>" in (
        found.reasons)


def test_hostile_and_broken_files_say_why(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE annotations [<!ENTITY x "y">]><annotations>'
        "<version>1.1</version></annotations>", encoding="utf-8")
    (tmp_path / "b.xml").write_text("<annotations><version>1.1</version><meta><task>"
                                    "</meta></annotations>", encoding="utf-8")
    (tmp_path / "c.xml").write_bytes(b"\x00\x01 not xml")
    found = detect(tmp_path)
    assert found.confidence == 0.4
    notes = " ".join(found.reasons)
    assert "a.xml declares a DOCTYPE, which CVAT never writes" in notes
    assert "b.xml has <annotations>, <version>1.1</version>, <meta><task>" in notes
    assert "is not well-formed XML" in notes
    assert "c.xml is" in notes
    assert detect(tmp_path / "missing").confidence == 0


def test_another_version_is_a_weaker_match(tmp_path: Path) -> None:
    root = write_sample(tmp_path / "v2")
    xml = root / "annotations.xml"
    xml.write_text(xml.read_text(encoding="utf-8").replace(">1.1<", ">2.0<"), encoding="utf-8")
    found = detect(root)
    assert found.confidence == 0.7
    assert "a version the reader was not written for (it reads 1.1)" in found.reasons[0]


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    dataset = shutil.copytree(DATA / "cvat_docs_images", tmp_path / "task_4")
    config = tmp_path / "osai.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "init", str(dataset), "-o", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert written["source"] == {"type": "cvat", "path": "task_4"}
    checked = subprocess.run(
        [sys.executable, "-m", "osai_import", "check", str(config)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_a_bucket_prefix(osai_s3: Any) -> None:
    url = f"s3://{osai_s3.bucket()}/export"
    osai_s3.put_tree(DATA / "cvat_docs_video", url)
    root = locate(url)
    found = detect(root)
    assert found.confidence == 0.95 and found.sources == ({"path": root},)
    stored = read(found.sources[0])
    assert all(isinstance(r.path, SourcePath) for r in stored)
    assert fields(stored) == fields(read({"path": str(DATA / "cvat_docs_video")}))
