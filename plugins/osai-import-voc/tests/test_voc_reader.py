"""The voc reader on folders written here: split lists, missing files, hostile XML."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from osai_import import ImageRecord, Severity, SourceError
from osai_import.testing import make_image
from osai_import_voc import VocReader


def read(path: Path, **options: Any) -> list[ImageRecord]:
    return list(VocReader(VocReader.parse_options({"path": str(path), **options})).records())


def codes(record: ImageRecord) -> list[str]:
    return [p.code for p in record.problems]


@pytest.fixture
def voc(tmp_path: Path, write_voc: Callable[..., Path]) -> Path:
    return write_voc(tmp_path / "voc")


def test_without_split_lists_every_annotation_then_every_other_image(voc: Path) -> None:
    make_image(voc / "JPEGImages" / "zz.png")
    make_image(voc / "JPEGImages" / "a.png")  # same stem as a.xml, whose image is a.jpg
    records = read(voc)
    assert [r.key for r in records] == ["a", "b", "c", "d", "a.png", "zz"]
    assert [r.name for r in records][-2:] == ["a.png", "zz.png"]
    assert records[-1].boxes == () and records[-1].extras["annotation"] is None
    assert [r.key for r in read(voc, unannotated="skip")] == ["a", "b", "c", "d"]


def test_flags_sizes_and_float_coordinates_are_kept(voc: Path) -> None:
    first = read(voc)[0]
    assert (first.width, first.height, first.depth) == (40, 30, 3)
    assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax, b.difficult) for b in first.boxes] == [
        ("cat", 1.0, 2.0, 20.0, 25.0, False),
        ("dog", 10.5, 3.5, 39.0, 29.0, True),
    ]


def test_split_lists_skip_class_lists_and_comments(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = write_voc(tmp_path / "voc", lists={"train": ["# ids", "b", "a", "b"], "val": ["d 1"]})
    main = root / "ImageSets" / "Main"
    (main / "cat_train.txt").write_text("a  1\nb -1\n", encoding="utf-8")
    (main / "train_val.txt").write_text("d  1\n", encoding="utf-8")  # class `train`, split `val`
    assert [r.key for r in read(root)] == ["b", "a", "d"]
    assert [r.extras["split"] for r in read(root)] == ["train", "train", "val"]
    with pytest.raises(SourceError, match=r"no split list 'cat_train' \(splits: train, val\)"):
        read(root, split="cat_train")


def test_a_listed_id_without_files_is_an_error_naming_the_line(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = write_voc(tmp_path / "voc", lists={"train": ["a", "ghost"]})
    ghost = read(root)[1]
    (problem,) = ghost.problems
    assert problem.code == "voc.missing" and problem.message.startswith(
        "ImageSets/Main/train.txt:2: 'ghost'"
    )


def test_ids_leading_outside_the_folder_are_refused(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    root = write_voc(tmp_path / "voc", lists={"train": ["../../etc/passwd", "a"]})
    bad, good = read(root)
    assert codes(bad) == ["voc.bad_id"] and "leads outside" in bad.problems[0].message
    assert good.key == "a"


def test_the_image_named_in_filename_is_found(voc: Path) -> None:
    os.rename(voc / "JPEGImages" / "b.jpg", voc / "JPEGImages" / "b.jpg.renamed")
    (voc / "Annotations" / "b.xml").write_text(
        "<annotation><filename>b.jpg.renamed</filename></annotation>", encoding="utf-8"
    )
    b = read(voc)[1]
    assert b.path.name == "b.jpg.renamed" and b.problems == ()


def test_filename_with_folders_is_not_followed(voc: Path) -> None:
    os.remove(voc / "JPEGImages" / "b.jpg")
    (voc / "Annotations" / "b.xml").write_text(
        "<annotation><filename>../../a.jpg</filename></annotation>", encoding="utf-8"
    )
    b = read(voc)[1]
    assert codes(b) == ["voc.image_missing"] and b.path == voc / "JPEGImages" / "b.jpg"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('<!DOCTYPE a [<!ENTITY e "x">]><annotation>&e;</annotation>', "xml.unsafe"),
        (
            "<annotation><object><name>x</name><bndbox><xmin>a</xmin></bndbox></object></annotation>",
            "xml.invalid",
        ),
        ("<annotation>", "xml.malformed"),
        ("<labelme/>", "xml.invalid"),
    ],
)
def test_bad_annotations_are_error_items(voc: Path, text: str, code: str) -> None:
    (voc / "Annotations" / "c.xml").write_text(text, encoding="utf-8")
    records = read(voc)
    assert [r.key for r in records] == ["a", "b", "c", "d"]
    assert codes(records[2]) == [code] and "Annotations/c.xml" in records[2].problems[0].message
    assert records[2].problems[0].severity is Severity.ERROR


def test_a_fifo_named_like_an_annotation_is_not_read(voc: Path) -> None:
    os.remove(voc / "Annotations" / "c.xml")
    os.mkfifo(voc / "Annotations" / "c.xml")
    c = read(voc)[-1]  # would block forever if the FIFO were opened
    assert c.key == "c" and c.extras["annotation"] is None and c.problems == ()


def test_vocdevkit_with_one_year_is_found_and_two_are_refused(
    tmp_path: Path, write_voc: Callable[..., Path]
) -> None:
    write_voc(tmp_path / "VOCdevkit" / "VOC2007")
    assert len(read(tmp_path / "VOCdevkit")) == 4
    write_voc(tmp_path / "VOCdevkit" / "VOC2012")
    with pytest.raises(SourceError, match="found VOC2007, VOC2012: pick one"):
        read(tmp_path / "VOCdevkit")


def test_a_folder_that_is_not_voc_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Pascal VOC folder"):
        read(tmp_path)
    with pytest.raises(SourceError, match="no such folder"):
        read(tmp_path / "missing")


def test_other_folder_names_can_be_given(tmp_path: Path, write_voc: Callable[..., Path]) -> None:
    root = write_voc(tmp_path / "voc")
    os.rename(root / "Annotations", root / "xml")
    os.rename(root / "JPEGImages", root / "img")
    assert [r.key for r in read(root, annotations="xml", images="img")] == ["a", "b", "c", "d"]
