"""The labelme reader on files written here: every problem code, option and path form."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from labelme_sample import image_bytes, labelme_file, mask_text, shape
from pydantic import ValidationError

from osai_import import ImageRecord, Severity, SourceError
from osai_import.testing import make_image
from osai_import_labelme import LabelmeReader


def reader(path: Path, **options: Any) -> LabelmeReader:
    return LabelmeReader(LabelmeReader.parse_options({"path": str(path), **options}))


def read(path: Path, **options: Any) -> list[ImageRecord]:
    return list(reader(path, **options).records())


def boxes(record: ImageRecord) -> list[tuple[Any, ...]]:
    return [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes]


def one(records: list[ImageRecord], code: str) -> Any:
    (problem,) = [p for r in records for p in r.problems if p.code == code]
    return problem


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_image(tmp_path / "a.jpg", 40, 30)
    return tmp_path


def test_every_shape_type_by_default(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("r", [[30, 20], [4, 2]], "rectangle"),
        shape("p", [[10, 5], [20, 5], [15, 25.5]], None),
        shape("c", [[10, 10], [13, 14]], "circle"),
        shape("o", [[1, 1], [5, 2], [4, 6], [0, 5]], "oriented_rectangle"),
        shape("m", [[2, 3], [7, 6]], "mask", mask=mask_text(["......", "..##..", ".###..",
                                                             "......"])),
        shape("l", [[0, 0], [3, 3]], "line"),
        shape("ls", [[0, 0], [3, 3], [5, 1]], "linestrip"),
        shape("pt", [[3, 3]], "point"),
        shape("pts", [[3, 3], [5, 8]], "points"),
    ], image_path="a.jpg", size=(40, 30))
    (record,) = read(root)
    assert boxes(record) == [
        ("r", 4.0, 2.0, 30.0, 20.0), ("p", 10.0, 5.0, 20.0, 25.5), ("c", 5.0, 5.0, 15.0, 15.0),
        ("o", 0.0, 1.0, 5.0, 6.0), ("m", 3.0, 4.0, 6.0, 6.0),
    ]
    skipped = one([record], "labelme.shape_skipped")
    assert skipped.severity is Severity.WARNING and skipped.item == "a.json"
    assert skipped.message.startswith("a.json: 4 shapes have a type set to `skip`")
    assert "shapes[5] 'l' (line)" in skipped.message and "shapes[8] 'pts' (points)" in (
        skipped.message)


def test_lines_and_points_as_boxes(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("l", [[0, 1], [3, 3]], "line"),
        shape("pt", [[3, 3]], "point"),
        shape("pts", [[3, 3], [5, 8]], "points"),
    ], image_path="a.jpg")
    policies = {"line": "box", "point": "box", "points": "box"}
    (record,) = read(root, shapes=policies, point_size=2)
    assert boxes(record) == [("l", 0.0, 1.0, 3.0, 3.0), ("pt", 2.0, 2.0, 4.0, 4.0),
                             ("pts", 2.0, 2.0, 6.0, 9.0)]
    with pytest.raises(ValidationError, match="needs point_size"):
        reader(root, shapes={"point": "box"})


def test_a_mask_is_placed_at_its_rectangle_and_cut_to_it(root: Path) -> None:
    full = mask_text(["#..", "...", "..#"])
    labelme_file(root / "a.json", [
        # Whole-pixel points: the mask covers the rectangle, pixel (1, 1) to (2, 2) included,
        # so its third row and column lie outside and are cut off (labelme's shapes_to_label).
        shape("cut", [[1, 1], [2, 2]], "mask", mask=full),
        # Fractional points: the mask's own size counts, placed at the rounded first point.
        shape("frac", [[9.6, 4.4], [11.2, 6.1]], "mask", mask=full),
        shape("empty", [[0, 0], [2, 2]], "mask", mask=mask_text(["...", "...", "..."])),
    ], image_path="a.jpg")
    (record,) = read(root)
    assert boxes(record) == [("cut", 1.0, 1.0, 2.0, 2.0), ("frac", 10.0, 4.0, 13.0, 7.0)]
    assert "shapes[2] 'empty' (mask)" in one([record], "labelme.degenerate").message


@pytest.mark.parametrize(("raw", "words"), [
    ("not a shape", "shapes[1] is a string, not an object"),
    ({"points": [[1, 2], [3, 4]]}, "shapes[1]: `label` is null or missing"),
    (shape("x", [[1, 2]], "rectangle"), "has 1 point(s); a rectangle has at least 2"),
    (shape("x", [[1, 2], [3, 4], [5, 6]], "circle"), "a circle has exactly 2"),
    (shape("x", [[1, "2"], [3, 4]], "rectangle"), "point 0 is [1, '2'], not [x, y] numbers"),
    (shape("x", [], "polygon"), "`points` is a list, not a list of [x, y]"),
    (shape("x", [[1, 2], [3, 4]], "mask"), "has no `mask`"),
    (shape("x", [[1, 2], [3, 4]], "mask", mask="bm90IGEgcG5n"), "is not a PNG image (b'not a pn'"),
    (shape("x", [[1, 2], [3, 4]], "mask", mask="@@"), "not valid base64"),
    (shape("x", [[1, 2], [3, 4]], group_id=[1]), "`group_id` is a list"),
    (shape("x", [[1, 2], [3, 4]], flags=[]), "`flags` is a list"),
    (shape("x", [[1, 2], [3, 4]], shape_type=7), "`shape_type` is a number"),
])
def test_a_shape_that_cannot_be_read_is_an_error_naming_it(root: Path, raw: Any,
                                                           words: str) -> None:
    labelme_file(root / "a.json", [shape("ok", [[1, 1], [5, 5]], "rectangle"), raw],
                 image_path="a.jpg")
    (record,) = read(root)
    problem = one([record], "labelme.bad_shape")
    assert problem.severity is Severity.ERROR and words in problem.message
    assert problem.message.startswith("a.json: 1 shape cannot be read: shapes[1]")
    assert boxes(record) == [("ok", 1.0, 1.0, 5.0, 5.0)]


def test_policies_error_skip_and_unknown_types(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("r", [[1, 1], [5, 5]], "rectangle"),
        shape("s", [[1, 1], [5, 5], [2, 9]], "spline"),
    ], image_path="a.jpg")
    refused = one(read(root), "labelme.shape_refused")
    assert refused.severity is Severity.ERROR and "shapes[1] 's' (spline)" in refused.message
    (record,) = read(root, shapes={"other": "box", "rectangle": "skip"})
    assert boxes(record) == [("s", 1.0, 1.0, 5.0, 9.0)]
    assert "shapes[0] 'r'" in one([record], "labelme.shape_skipped").message
    assert one(read(root, shapes={"rectangle": "error", "other": "skip"}),
               "labelme.shape_refused").severity is Severity.ERROR


def test_degenerate_shapes_are_left_out_with_a_warning(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("flat", [[1, 4], [9, 4]], "rectangle"),
        shape("dot", [[3, 3], [3, 3]], "circle"),
        shape("h", [[0, 2], [8, 2]], "line"),
    ], image_path="a.jpg")
    (record,) = read(root, shapes={"line": "box"})
    problem = one([record], "labelme.degenerate")
    assert record.boxes == () and problem.severity is Severity.WARNING
    assert problem.message.startswith("a.json: 3 shapes have no area")


def test_groups_flags_description_and_box_flags(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("car", [[1, 1], [5, 5]], "rectangle", group_id=3, flags={"occluded": True}),
        shape("car", [[10, 2], [20, 8]], "polygon", group_id=3, description="rear"),
        shape("car", [[0, 0], [2, 2]], "rectangle", group_id=4, flags={"difficult": True}),
        shape("bus", [[0, 0], [2, 2]], "rectangle", group_id=3),
    ], image_path="a.jpg")
    (record,) = read(root)
    assert boxes(record) == [("car", 1.0, 1.0, 20.0, 8.0), ("car", 0.0, 0.0, 2.0, 2.0),
                             ("bus", 0.0, 0.0, 2.0, 2.0)]
    assert [(b.occluded, b.difficult, b.truncated) for b in record.boxes] == [
        (True, False, False), (False, True, False), (False, False, False)]
    assert record.extras["boxes"][0] == {
        "shapes": [0, 1], "shape_types": ["rectangle", "polygon"], "label": "car",
        "group_id": 3, "description": "rear", "flags": {"occluded": True}}
    assert len(read(root, groups="separate")[0].boxes) == 4


def test_labels_rename_keep_and_ignore(root: Path) -> None:
    labelme_file(root / "a.json", [
        shape("kitty", [[1, 1], [5, 5]], "rectangle"),
        shape("dog", [[1, 1], [5, 5]], "rectangle"),
        shape("__ignore__", [[1, 1], [5, 5]], "rectangle"),
        shape("bird", [[1, 1], [5, 5]], "rectangle"),
    ], image_path="a.jpg")
    source = reader(root, rename={"kitty": "cat"}, labels=["cat", "dog"])
    (record,) = list(source.records())
    assert [b.label for b in record.boxes] == ["cat", "dog"] and record.problems == ()
    (summary,) = source.source_problems()
    assert (summary.code, summary.severity) == ("labelme.label_left_out", Severity.WARNING)
    assert "2 shape(s) left out" in summary.message and "'__ignore__' (1)" in summary.message


def test_category_from_flags(root: Path) -> None:
    labelme_file(root / "a.json", [], image_path="a.jpg",
                 flags={"__ignore__": True, "cat": True, "dog": False})
    (record,) = read(root, category="flags")
    assert record.category == "cat" and record.problems == ()
    labelme_file(root / "a.json", [], image_path="a.jpg", flags={"cat": True, "dog": True})
    several = one(read(root, category="flags"), "labelme.several_flags")
    assert several.severity is Severity.ERROR and "'cat', 'dog'" in several.message
    (record,) = read(root, category="flags", category_flags=["dog"])
    assert record.category == "dog"
    labelme_file(root / "a.json", [], image_path="a.jpg", flags={"cat": False})
    assert one(read(root, category="flags"), "labelme.no_category").severity is (
        Severity.WARNING)


def test_category_from_folders(tmp_path: Path) -> None:
    for folder in ("cats", "dogs", ""):
        make_image(tmp_path / folder / "x.jpg")
        labelme_file(tmp_path / folder / "x.json", [], image_path="x.jpg")
    records = read(tmp_path, category="folder")
    assert [(r.key, r.category) for r in records] == [
        ("x.json", None), ("cats/x.json", "cats"), ("dogs/x.json", "dogs")]
    assert "not in a sub-folder" in one(records, "labelme.no_category").message


def test_image_paths_written_on_other_machines(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.jpg")
    make_image(tmp_path / "labels" / "b.jpg")
    labelme_file(tmp_path / "labels" / "a.json", [], image_path="..\\images\\a.jpg")
    labelme_file(tmp_path / "labels" / "b.json", [], image_path="C:\\Users\\me\\data\\b.jpg")
    labelme_file(tmp_path / "labels" / "c.json", [], image_path="/home/me/c.jpg")
    a, b, c = read(tmp_path / "labels", allow_outside_root=True)
    assert a.path == tmp_path / "images" / "a.jpg" and a.problems == ()
    assert b.path == tmp_path / "labels" / "b.jpg"
    fixed = one([b], "labelme.path_fixed")
    assert fixed.severity is Severity.WARNING and "used b.jpg beside the JSON" in fixed.message
    missing = one([c], "labelme.image_missing")
    assert missing.severity is Severity.ERROR and "/home/me/c.jpg" in missing.message
    assert c.path == tmp_path / "labels" / "c.jpg" and c.name == "c.jpg"
    # Without allow_outside_root, ../images leaves the dataset folder: not followed.
    a, *_ = read(tmp_path / "labels")
    refused = one([a], "labelme.image_missing")
    assert "outside the dataset folder: followed only with allow_outside_root" in (
        refused.message)
    assert a.path == tmp_path / "labels" / "a.jpg"


def test_imagedata_is_used_when_the_file_is_absent_or_preferred(root: Path) -> None:
    png = image_bytes(40, 30, "PNG")
    labelme_file(root / "a.json", [], image_path="a.jpg", image_data=png)
    labelme_file(root / "b.json", [], image_path=None, image_data=image_bytes(8, 8))
    labelme_file(root / "c.json", [], image_path="scan", image_data=png)
    a, b, c = read(root)
    assert (a.name, a.extras["image"], a.path) == ("a.jpg", "file", root / "a.jpg")
    assert (b.name, b.extras["image"]) == ("b.jpg", "embedded")
    assert (c.name, c.path.read_bytes()) == ("c.png", png)
    a, *_ = read(root, prefer_embedded=True)
    assert (a.name, a.extras["image"], a.path.read_bytes()) == ("a.jpg", "embedded", png)


def test_a_data_uri_in_imagedata_is_named_by_its_format(root: Path) -> None:
    document = json.loads(labelme_file(root / "x.json", [], image_path=None,
                                       image_data=image_bytes(8, 8, "PNG")).read_text())
    document["imageData"] = "data:image/png;base64," + document["imageData"]
    (root / "x.json").write_text(json.dumps(document), encoding="utf-8")
    (record,) = [r for r in read(root) if r.key == "x.json"]
    assert record.name == "x.png" and record.path.read_bytes() == image_bytes(8, 8, "PNG")


@pytest.mark.parametrize(("text", "code", "words"), [
    ('{"shapes": [', "labelme.bad_json", "a.json:1:13: not valid JSON"),
    (b'{"shapes": "\xff"}', "labelme.bad_json", "not JSON text"),
    ('{"shapes": {}, "imagePath": "a.jpg"}', "labelme.invalid", "`shapes` is dict"),
    ('{"imagePath": "a.jpg"}', "labelme.invalid", "`shapes` is missing"),
    ('{"shapes": [], "imagePath": 5}', "labelme.invalid", "`imagePath` is int"),
    ('{"shapes": [], "imageData": 5}', "labelme.invalid", "`imageData` is int"),
    ('{"shapes": [], "imagePath": "a.jpg", "flags": {"x": 1}}', "labelme.invalid", "`flags`"),
])
def test_a_broken_file_is_an_error_and_the_read_goes_on(root: Path, text: str | bytes,
                                                        code: str, words: str) -> None:
    labelme_file(root / "b.json", [], image_path="a.jpg")
    target = root / "a.json"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    a, b = read(root)
    (problem,) = a.problems
    assert (problem.code, problem.severity, problem.item) == (code, Severity.ERROR, "a.json")
    assert words in problem.message and problem.message.startswith("a.json")
    assert b.problems == ()


def test_a_fifo_named_like_a_json_file_is_not_read(root: Path) -> None:
    os.mkfifo(root / "a.json")
    labelme_file(root / "b.json", [], image_path="a.jpg")
    assert [r.key for r in read(root)] == ["b.json"]  # would hang if the FIFO were opened


def test_a_huge_json_file_is_unreadable_without_being_read(root: Path) -> None:
    with (root / "a.json").open("wb") as huge:
        huge.truncate(600 * 1024 * 1024)  # sparse: no disk used, nothing read
    (record,) = read(root)
    problem = one([record], "labelme.unreadable")
    assert problem.severity is Severity.ERROR
    assert problem.message.startswith("a.json: cannot read the file: a.json has 629145600")


def test_a_bad_size_is_a_warning_and_left_to_the_image(root: Path) -> None:
    labelme_file(root / "a.json", [], image_path="a.jpg", imageWidth="40", imageHeight=0)
    (record,) = read(root)
    problems = [p for p in record.problems if p.code == "labelme.bad_size"]
    assert [p.severity for p in problems] == [Severity.WARNING, Severity.WARNING]
    assert (record.width, record.height) == (None, None)


def test_other_json_files_are_noted_once_and_can_be_excluded(root: Path) -> None:
    labelme_file(root / "a.json", [], image_path="a.jpg")
    (root / "coco.json").write_text('{"images": [], "annotations": []}', encoding="utf-8")
    (root / "list.json").write_text("[1, 2]", encoding="utf-8")
    source = reader(root)
    assert [r.key for r in source.records()] == ["a.json"]
    (note,) = source.source_problems()
    assert (note.code, note.severity) == ("labelme.not_labelme", Severity.WARNING)
    assert "2 JSON file(s)" in note.message and "coco.json, list.json" in note.message
    quiet = reader(root, exclude=["coco.json", "*list*"])
    assert [r.key for r in quiet.records()] == ["a.json"] and quiet.source_problems() == ()


def test_folders_recursion_order_and_a_single_file(tmp_path: Path) -> None:
    for where in ("b", "a/deep", "", ".hidden"):
        make_image(tmp_path / where / "x.jpg")
        labelme_file(tmp_path / where / "x.JSON", [], image_path="x.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert [r.key for r in read(tmp_path)] == ["x.JSON", "a/deep/x.JSON", "b/x.JSON"]
    assert [r.key for r in read(tmp_path, recursive=False)] == ["x.JSON"]
    assert [r.key for r in read(tmp_path / "b" / "x.JSON")] == ["x.JSON"]


def test_sources_that_cannot_be_read_at_all(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        read(tmp_path / "nope")
    make_image(tmp_path / "a.jpg")
    with pytest.raises(SourceError, match=r"not a \.json file"):
        read(tmp_path / "a.jpg")
    (tmp_path / "meta.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SourceError, match="no LabelMe JSON files found; 1 JSON file"):
        read(tmp_path)
