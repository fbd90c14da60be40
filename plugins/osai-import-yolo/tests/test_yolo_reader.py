"""The yolo reader on layouts and label files written here, hostile ones included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from osai_import import ImageRecord, Severity, SourceError
from osai_import.testing import make_image
from osai_import_yolo import YoloReader


def read(path: Path, **options: Any) -> list[ImageRecord]:
    return list(YoloReader(YoloReader.parse_options({"path": str(path), **options})).records())


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def boxes(record: ImageRecord) -> list[tuple[Any, ...]]:
    return [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes]


def codes(records: list[ImageRecord]) -> list[str]:
    return [p.code for r in records for p in r.problems]


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    """Return images/ + labels/ without splits, names in classes.txt, one 100x50 image."""
    root = tmp_path / "flat"
    write(root / "classes.txt", "cat\ndog\n")
    make_image(root / "images" / "a.jpg", 100, 50)
    return root


def test_boxes_are_converted_with_the_image_size(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "1 0.5 0.5 0.2 0.4\n\n0 0.25 0.75 0.5 0.5\n")
    (record,) = read(flat)
    assert boxes(record) == [("dog", 40.0, 15.0, 60.0, 35.0), ("cat", 0.0, 25.0, 50.0, 50.0)]
    assert (record.width, record.height) == (100, 50)
    assert record.extras["label_file"] == "labels/a.txt"


def test_an_image_without_a_label_file_has_no_boxes(flat: Path) -> None:
    (record,) = read(flat)
    assert record.boxes == () and record.problems == () and record.extras["label_file"] is None


def test_a_label_file_without_an_image_is_a_warning(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "0 0.5 0.5 0.2 0.2\n")
    write(flat / "labels" / "ghost.txt", "0 0.5 0.5 0.2 0.2\n")
    write(flat / "labels" / "classes.txt", "cat\ndog\n")  # LabelImg's, not a label
    (record,) = read(flat)
    (problem,) = record.problems
    assert (problem.code, problem.severity) == ("yolo.orphan_label", Severity.WARNING)
    assert "ghost.txt" in problem.message and problem.item == "labels"
    assert "1 label file(s)" in problem.message and "classes.txt" not in problem.message
    assert len(record.boxes) == 1


def test_values_a_hair_outside_are_clamped_with_a_warning(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "0 0.1 0.5 0.2004 0.2\n")
    (record,) = read(flat)
    assert boxes(record)[0][1] == 0.0
    (problem,) = record.problems
    assert (problem.code, problem.severity) == ("yolo.clamped", Severity.WARNING)
    assert problem.message.startswith("labels/a.txt:1: ")


def test_six_decimal_rounding_is_clamped_and_snapped_quietly(flat: Path) -> None:
    # 1/3 written with six decimals: the corners land a hair off whole pixels and the edge.
    make_image(flat / "images" / "a.jpg", 15, 10)
    write(flat / "labels" / "a.txt", "0 0.133333 0.300000 0.266667 0.200000\n")
    (record,) = read(flat)
    assert boxes(record) == [("cat", 0.0, 2.0, 4.0, 4.0)] and record.problems == ()


def test_short_decimals_are_taken_as_exact(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "0 0.505 0.5 0.01 0.1\n")
    (record,) = read(flat)
    assert boxes(record) == [
        ("cat", pytest.approx(50.0), 22.5, pytest.approx(51.0), pytest.approx(27.5))
    ]
    assert boxes(record)[0][4] != 28.0  # three decimals are not snapped to whole pixels


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        ("0 1.5 0.5 0.5 0.5", "yolo.out_of_range", "far outside"),
        ("0 0.5 0.5 0.5", "yolo.bad_line", "not `class x_center"),
        ("0 0.5 0.5 0.5 0.5 0.9", "yolo.bad_line", "6 values"),
        ("cat 0.5 0.5 0.5 0.5", "yolo.bad_line", "class 'cat'"),
        ("-1 0.5 0.5 0.5 0.5", "yolo.bad_line", "whole number"),
        ("0 nan 0.5 0.5 0.5", "yolo.bad_line", "'nan' is not a finite number"),
        ("0 0.5 0.5 1_0 0.5", "yolo.bad_line", "'1_0'"),
        ("5 0.5 0.5 0.5 0.5", "yolo.unknown_class", "classes are named in"),
    ],
)
def test_bad_lines_are_errors_naming_the_file_and_line(
    flat: Path, line: str, code: str, words: str
) -> None:
    write(flat / "labels" / "a.txt", f"0 0.5 0.5 0.1 0.1\n{line}\n")
    (record,) = read(flat)
    (problem,) = record.problems
    assert (problem.code, problem.severity) == (code, Severity.ERROR)
    assert problem.message.startswith("labels/a.txt:2: ") and words in problem.message


def test_many_bad_lines_make_one_problem_listing_them(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "x\n" * 5)
    (record,) = read(flat)
    (problem,) = record.problems
    assert "5 lines that are not" in problem.message and "line 1:" in problem.message
    assert "and 2 more" in problem.message


def test_zero_size_boxes_are_left_out_with_a_warning(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "0 0.5 0.5 0 0.2\n0 0.5 0.5 0.2 0.2\n")
    (record,) = read(flat)
    assert len(record.boxes) == 1 and codes([record]) == ["yolo.empty_box"]


def test_polygons_need_the_option_and_give_their_bounding_box(flat: Path) -> None:
    write(flat / "labels" / "a.txt", "1 0.1 0.2 0.5 0.2 0.3 0.8\n")
    (record,) = read(flat)
    assert "set `polygons: true`" in record.problems[0].message
    (record,) = read(flat, polygons=True)
    assert boxes(record) == [("dog", 10.0, 10.0, 50.0, 40.0)] and record.problems == ()


def test_a_label_file_that_is_not_utf8_is_an_error(flat: Path) -> None:
    write(flat / "labels" / "a.txt", b"0 0.5 0.5 0.1 0.1\n\xff\xfe\n")
    (record,) = read(flat)
    assert codes([record]) == ["yolo.unreadable"] and "labels/a.txt" in record.problems[0].message


def test_a_fifo_named_like_a_label_is_not_read(flat: Path) -> None:
    (flat / "labels").mkdir()
    os.mkfifo(flat / "labels" / "a.txt")
    (record,) = read(flat)  # would block forever if the FIFO were opened
    assert record.boxes == () and record.extras["label_file"] is None


def test_an_image_that_cannot_be_opened_gives_an_error_when_it_has_boxes(flat: Path) -> None:
    write(flat / "images" / "a.jpg", b"not an image")
    write(flat / "labels" / "a.txt", "0 0.5 0.5 0.1 0.1\n")
    (record,) = read(flat)
    assert codes([record]) == ["yolo.image_size"] and record.boxes == ()


def test_names_from_data_yaml_as_a_mapping_and_splits(tmp_path: Path) -> None:
    root = tmp_path / "ultra"
    write(
        root / "data.yaml",
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  3: car\n",
    )
    for split in ("train", "val"):
        make_image(root / "images" / split / "x.png", 10, 10)
        write(root / "labels" / split / "x.txt", "3 0.5 0.5 0.2 0.2\n")
    records = read(root)
    assert [r.key for r in records] == ["images/train/x.png", "images/val/x.png"]
    assert {b.label for r in records for b in r.boxes} == {"car"}
    assert [r.key for r in read(root, splits=["val"])] == ["images/val/x.png"]
    assert [r.key for r in read(root / "data.yaml")] == ["images/train/x.png", "images/val/x.png"]


def test_a_data_yaml_path_that_does_not_exist_says_where_it_looked(tmp_path: Path) -> None:
    root = tmp_path / "ultra"
    write(root / "data.yaml", "train: images/train\nval: ../elsewhere/images\nnames: [a]\n")
    make_image(root / "images" / "train" / "x.jpg")
    with pytest.raises(SourceError) as caught:
        read(root)
    message = str(caught.value)
    assert "data.yaml: `val: ../elsewhere/images` does not exist" in message
    assert str(root / "elsewhere" / "images") in message and "source.splits" in message
    assert [r.key for r in read(root, splits=["train"])] == ["images/train/x.jpg"]


def test_an_unknown_split_is_an_error_listing_the_splits(tmp_path: Path) -> None:
    root = tmp_path / "ultra"
    write(root / "data.yaml", "train: images/train\nnames: [a]\n")
    make_image(root / "images" / "train" / "x.jpg")
    with pytest.raises(SourceError, match=r"no split 'tran' \(splits: 'train'\)"):
        read(root, splits=["tran"])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("names: [a, b]\nnc: 1\n", "`nc: 1`"),
        ("names: 7\n", "`names` must be a list"),
        ("names: {x: a}\n", "class numbers"),
        ("train: [\n", "data.yaml:2: invalid YAML"),
        ("- a\n", "expected a mapping"),
        ("a: &a [x, x]\nb: &b [*a, *a, *a]\ntrain: [*b, *b]\nnames: [a]\n", "list of paths"),
    ],
)
def test_a_bad_data_yaml_is_an_error_naming_it(tmp_path: Path, text: str, words: str) -> None:
    write(tmp_path / "data.yaml", text)
    with pytest.raises(SourceError, match=r"data\.yaml") as caught:
        read(tmp_path)
    assert words in str(caught.value)


def test_paths_leading_outside_the_dataset_are_not_followed(tmp_path: Path) -> None:
    make_image(tmp_path / "private" / "images" / "secret.jpg")
    root = tmp_path / "downloaded"
    write(root / "data.yaml", f"train: {tmp_path / 'private' / 'images'}\nnames: [a]\n")
    with pytest.raises(SourceError, match="allow_outside_root"):
        read(root)
    assert [r.name for r in read(root, allow_outside_root=True)] == ["secret.jpg"]
    write(root / "data.yaml", "path: ../private\ntrain: images\nnames: [a]\n")
    with pytest.raises(SourceError, match="leads outside"):
        read(root)


def test_darknet_lists_written_for_the_darknet_folder(tmp_path: Path) -> None:
    root = tmp_path / "darknet"
    write(
        root / "obj.data",
        "classes = 2\ntrain = data/train.txt\nvalid = data\\valid.txt\nnames = data/obj.names\n",
    )
    write(root / "obj.names", "a\nb\n")
    make_image(root / "obj_train_data" / "1.jpg", 20, 20)
    write(root / "obj_train_data" / "1.txt", "1 0.5 0.5 0.5 0.5\n")
    make_image(root / "obj_valid_data" / "2.jpg", 20, 20)
    write(
        root / "train.txt",
        "data/obj_train_data/1.jpg\n\n/home/someone/darknet/data/obj_train_data/1.jpg\n",
    )
    write(root / "valid.txt", "data\\obj_valid_data\\2.jpg\ndata/obj_valid_data/3.jpg\n")
    records = read(root)
    assert [r.key for r in records] == [
        "obj_train_data/1.jpg",
        "obj_valid_data/2.jpg",
        "data/obj_valid_data/3.jpg",
    ]
    assert boxes(records[0]) == [("b", 5.0, 5.0, 15.0, 15.0)]
    assert "yolo.duplicate_image" in codes(records)
    missing = next(p for p in records[2].problems if p.code == "yolo.image_missing")
    assert missing.severity is Severity.ERROR and missing.message.startswith("valid.txt:2: ")


def test_a_names_file_is_required(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.jpg")
    with pytest.raises(SourceError, match="no class names") as caught:
        read(tmp_path)
    assert "source.names" in str(caught.value)
    assert [r.key for r in read(tmp_path, names=["a"])] == ["images/a.jpg"]


def test_a_folder_without_images_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "obj.names", "a\n")
    write(tmp_path / "labels" / "x.txt", "0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "images").mkdir()
    with pytest.raises(SourceError, match="no images found"):
        read(tmp_path)


def test_a_missing_root_names_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=str(tmp_path / "nope")):
        read(tmp_path / "nope")


def test_images_beside_labels_in_nested_folders_and_a_link_loop(tmp_path: Path) -> None:
    write(tmp_path / "obj.names", "a\n")
    make_image(tmp_path / "b" / "2.jpg")
    make_image(tmp_path / "a" / "deep" / "1.JPG")
    write(tmp_path / "a" / "deep" / "1.txt", "0 0.5 0.5 0.5 0.5\n")
    make_image(tmp_path / ".hidden" / "x.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    records = read(tmp_path)
    assert [r.key for r in records] == ["a/deep/1.JPG", "b/2.jpg"]
    assert len(records[0].boxes) == 1


def test_order_does_not_follow_the_file_system(tmp_path: Path) -> None:
    write(tmp_path / "obj.names", "a\n")
    for name in ("b", "c", "a"):
        make_image(tmp_path / "images" / "train" / f"{name}.jpg")
    assert [r.name for r in read(tmp_path)] == ["a.jpg", "b.jpg", "c.jpg"]
