"""The labelstudio reader on hand-written exports: every problem code, option and image form.

The exports here are written by the tests themselves (edge cases the real exports lack).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from pydantic import ValidationError
from test_labelstudio_conformance import rect, task

from osai_import import ImageRecord, Problem, Severity, SourceError, SourcePath
from osai_import.config.resolve import prepare
from osai_import.source.locate import locate
from osai_import.testing import make_image
from osai_import.testing.s3 import LocalS3
from osai_import_labelstudio import LabelStudioReader


def write(root: Path, tasks: Any, name: str = "export.json") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def read(path: Path, **options: Any) -> list[ImageRecord]:
    parsed = LabelStudioReader.parse_options({"path": str(path), **options}, None, locate)
    return list(LabelStudioReader(parsed).records())


def codes(record: ImageRecord) -> dict[str, Severity]:
    return {p.code: p.severity for p in record.problems}


def one(record: ImageRecord, code: str) -> Problem:
    (found,) = [p for p in record.problems if p.code == code]
    return found


def result(rid: str, kind: str, value: dict[str, Any], size: tuple[int, int] | None = (100, 50),
           **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "type": kind, "from_name": kind, "to_name": "image",
                           "value": value, **extra}
    if size:
        out.update(original_width=size[0], original_height=size[1])
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_image(tmp_path / "a.jpg", 100, 50)
    return tmp_path


def test_rectangles_polygons_ellipses_to_pixels(root: Path) -> None:
    export = write(root, [task(1, "a.jpg", [
        rect("r", "cat", 10, 20, 30, 40, (100, 50)),
        result("p", "polygonlabels", {"points": [[10, 10], [50, 90], [20, 30]],
                                      "polygonlabels": ["dog"]}),
        result("e", "ellipselabels", {"x": 50, "y": 50, "radiusX": 10, "radiusY": 10,
                                      "rotation": 90, "ellipselabels": ["egg"]}),
        result("l", "labels", {"x": 0, "y": 0, "width": 100, "height": 100, "labels": ["all"]}),
    ])])
    (record,) = read(export)
    boxes = {b.label: pytest.approx((b.xmin, b.ymin, b.xmax, b.ymax)) for b in record.boxes}
    assert boxes == {"cat": (10, 10, 40, 30), "dog": (10, 5, 50, 45),
                     # radii 10 px and 5 px, turned a quarter: 5 px across, 10 px down
                     "egg": (45, 15, 55, 35), "all": (0, 0, 100, 50)}
    assert (record.width, record.height, record.key, record.name) == (100, 50, "task-1", "a.jpg")
    assert record.problems == ()


def test_rotated_rectangle_is_its_bounds_with_a_warning(root: Path) -> None:
    turned = rect("t", "cat", 10, 10, 20, 40, (100, 50))
    turned["value"]["rotation"] = 90
    (record,) = read(write(root, [task(1, "a.jpg", [turned])]))
    (box,) = record.boxes
    # 90° clockwise about (10, 5): the 20 px wide, 20 px high box swings left of x = 10.
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == pytest.approx((-10, 5, 10, 25))
    note = one(record, "labelstudio.rotated")
    assert note.severity is Severity.WARNING and "result(s) (t) turned" in note.message
    assert note.item == "task-1"


def test_brush_mask_bounds_and_empty_mask(root: Path) -> None:
    rle = encode_mask(100, 50, {(x, y) for x in range(20, 31) for y in range(5, 8)})
    empty = encode_mask(100, 50, set())
    export = write(root, [task(1, "a.jpg", [
        result("b", "brushlabels", {"format": "rle", "rle": rle, "brushlabels": ["ink"]}),
        result("z", "brushlabels", {"format": "rle", "rle": empty, "brushlabels": ["ink"]}),
        result("w", "brushlabels", {"format": "rle", "rle": rle[:-40], "brushlabels": ["x"]},
               size=(10, 10)),
    ])])
    (record,) = read(export)
    (box,) = record.boxes
    assert (box.label, box.xmin, box.ymin, box.xmax, box.ymax) == ("ink", 20, 5, 31, 8)
    assert one(record, "labelstudio.empty_mask").severity is Severity.WARNING
    bad = one(record, "labelstudio.bad_result")
    assert "result w (brushlabels)" in bad.message and "10x10 RGBA mask has 400" in bad.message


def encode_mask(width: int, height: int, painted: set[tuple[int, int]]) -> list[int]:
    """Encode an RGBA mask as Label Studio's RLE: one value per run of up to 16 values."""
    values = [255 if (i // 4 % width, i // 4 // width) in painted else 0
              for i in range(width * height * 4)]
    bits = f"{len(values):032b}{7:05b}" + "".join(f"{n - 1:04b}" for n in (4, 4, 4, 4))
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and j - i < 16 and values[j] == values[i]:
            j += 1
        bits += f"1{0:02b}{j - i - 1:04b}{values[i]:08b}"
        i = j
    bits += "0" * (-len(bits) % 8)
    return [int(bits[k:k + 8], 2) for k in range(0, len(bits), 8)]


def test_policies_skip_error_and_ignored_types(root: Path) -> None:
    export = write(root, [task(1, "a.jpg", [
        result("k", "keypointlabels", {"x": 10, "y": 10, "width": 1, "keypointlabels": ["eye"]}),
        result("t", "textarea", {"text": ["a note"]}),
        result("t2", "textarea", {"text": ["another"]}),
        rect("r", "cat", 10, 20, 30, 40, (100, 50)),
    ])])
    (record,) = read(export)
    assert codes(record) == {"labelstudio.skipped": Severity.WARNING,
                             "labelstudio.ignored": Severity.WARNING}
    assert "(k) left out (results.keypointlabels: skip)" in one(record,
                                                                "labelstudio.skipped").message
    assert "2 textarea result(s) (t, t2)" in one(record, "labelstudio.ignored").message
    (refused,) = read(export, results={"rectanglelabels": "error", "textarea": "skip"})
    assert one(refused, "labelstudio.refused").severity is Severity.ERROR
    assert "task 1, result r" in one(refused, "labelstudio.refused").message
    (kept,) = read(export, results={"keypointlabels": "box"})
    assert sorted(b.label for b in kept.boxes) == ["cat", "eye"]
    with pytest.raises(ValidationError, match="textarea: a result of this type has no box"):
        LabelStudioReader.parse_options({"path": "x.json", "results": {"textarea": "box"}})


def test_bad_results_are_named(root: Path) -> None:
    export = write(root, [task(7, "a.jpg", [
        result("nox", "rectanglelabels", {"y": 1, "width": 2, "height": 3,
                                          "rectanglelabels": ["a"]}),
        result("nan", "rectanglelabels", {"x": "1", "y": 1, "width": 2, "height": 3,
                                          "rectanglelabels": ["a"]}),
        result("pts", "polygonlabels", {"points": [[1, 2], [3]], "polygonlabels": ["a"]}),
        result("lbl", "rectanglelabels", {"x": 1, "y": 1, "width": 2, "height": 3,
                                          "rectanglelabels": "a"}),
    ])])
    (record,) = read(export)
    messages = [p.message for p in record.problems if p.code == "labelstudio.bad_result"]
    assert len(messages) == 4 and record.boxes == ()
    assert all(str(export) in m and "task 7, result " in m for m in messages)
    assert "`x` is missing" in messages[0] and "`x` is '1', not a number" in messages[1]
    assert "point 1 is [3]" in messages[2] and "not a list of labels" in messages[3]


def test_several_labels_and_choices(root: Path) -> None:
    two = rect("r", "cat", 10, 20, 30, 40, (100, 50))
    two["value"]["rectanglelabels"] = ["cat", "pet"]
    choice = result("c", "choices", {"choices": ["indoor", "night"]}, size=None)
    export = write(root, [task(1, "a.jpg", [two, choice])])
    (record,) = read(export)
    assert [b.label for b in record.boxes] == ["cat"]
    assert one(record, "labelstudio.multiple_labels").severity is Severity.WARNING
    assert record.category is None
    assert one(record, "labelstudio.multiple_choices").severity is Severity.ERROR
    (first,) = read(export, multiple_choices="first")
    assert first.category == "indoor" and "labelstudio.multiple_choices" not in codes(first)
    (none,) = read(export, multiple_choices="none")
    assert none.category is None
    assert one(none, "labelstudio.multiple_choices").severity is Severity.WARNING
    (only,) = read(export, choices_from=["other"])
    assert only.category is None and "choices (choices)" in one(only,
                                                                "labelstudio.ignored").message


def test_image_turned_in_the_editor_is_refused(root: Path) -> None:
    turned = rect("r", "cat", 10, 20, 30, 40, (100, 50))
    turned["image_rotation"] = 90
    (record,) = read(write(root, [task(1, "a.jpg", [turned])]))
    assert record.boxes == () and one(record, "labelstudio.image_rotated").severity is Severity.ERROR


def test_missing_size_is_read_from_the_header_or_refused(root: Path) -> None:
    sizeless = rect("r", "cat", 10, 20, 30, 40, (100, 50))
    del sizeless["original_width"], sizeless["original_height"]
    gone = task(2, "gone.jpg", [dict(sizeless)])
    export = write(root, [task(1, "a.jpg", [sizeless]), gone])
    first, second = read(export)
    assert (first.width, first.height) == (100, 50) and first.problems == ()
    assert (first.boxes[0].xmin, first.boxes[0].ymax) == (10, 30)
    assert "cannot be read" in one(second, "labelstudio.image_size").message
    (refused, _) = read(export, missing_size="error")
    assert "missing_size: error" in one(refused, "labelstudio.image_size").message


def test_image_references(root: Path) -> None:
    make_image(root / "media" / "upload" / "3" / "1a2b3c4d-my photo.jpg", 100, 50)
    make_image(root / "srv" / "dir" / "x y.jpg", 100, 50)
    png = io.BytesIO()
    Image.new("RGB", (100, 50), (0, 9, 0)).save(png, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    export = write(root, [
        task(1, "/data/upload/3/1a2b3c4d-my%20photo.jpg", []),
        task(2, "/data/local-files/?d=dir%2Fx%20y.jpg", []),
        task(3, uri, [rect("r", "cat", 0, 0, 10, 10, (100, 50))]),
        task(4, "/srv/other.jpg", []),
        task(5, "../../etc/passwd", []),
        task(6, "ftp-less-name.jpg", []),
        {"id": 7, "data": {"img": "a.jpg"}, "annotations": []},
    ])
    records = read(export, image_prefixes={"/data/upload/": str(root / "media" / "upload"),
                                           "/data/local-files/?d=": str(root / "srv")})
    by_key = {r.key: r for r in records}
    assert by_key["task-1"].name == "my photo.jpg"
    assert by_key["task-1"].path == root / "media" / "upload" / "3" / "1a2b3c4d-my photo.jpg"
    assert by_key["task-2"].path == root / "srv" / "dir" / "x y.jpg"
    embedded = by_key["task-3"].path
    assert isinstance(embedded, SourcePath) and embedded.read_bytes() == png.getvalue()
    assert by_key["task-3"].name == "task-3.png" and by_key["task-3"].extras["image"].endswith("...")
    assert "image_prefixes: {'/srv/': <folder>}" in one(by_key["task-4"],
                                                       "labelstudio.image_unmapped").message
    assert "leads outside `images`" in one(by_key["task-5"], "labelstudio.image_unmapped").message
    assert by_key["task-6"].path == root / "ftp-less-name.jpg" and not by_key["task-6"].problems
    assert "set `image_key`" in one(by_key["task-7"], "labelstudio.no_image").message
    stored = read(export, upload_names="stored", images=str(root / "media" / "upload"))
    assert stored[0].name == "1a2b3c4d-my photo.jpg"
    (img,) = [r for r in read(export, image_key="data.img") if r.key == "task-7"]
    assert img.path == root / "a.jpg" and not img.problems


def test_annotation_choice_ground_truth_and_predictions(root: Path) -> None:
    base = task(1, "a.jpg", [rect("r1", "first", 0, 0, 10, 10, (100, 50))])
    base["annotations"] += [
        {"id": 2, "completed_by": {"id": 5, "email": "a@b.c"}, "ground_truth": True,
         "result": [rect("r2", "truth", 0, 0, 10, 10, (100, 50))]},
        {"id": 3, "completed_by": 6, "was_cancelled": True,
         "result": [rect("r3", "cancelled", 0, 0, 10, 10, (100, 50))]},
    ]
    base["predictions"] = [{"id": 9, "result": [rect("p", "guess", 0, 0, 10, 10, (100, 50))]}]
    bare = task(2, "a.jpg", [])
    bare["annotations"] = []
    bare["predictions"] = [{"id": 8, "result": [rect("p2", "guess", 0, 0, 5, 5, (100, 50))]}]
    export = write(root, [base, bare])

    def labels(**options: Any) -> list[list[str]]:
        return [[b.label for b in r.boxes] for r in read(export, **options)]

    assert labels() == [["truth"], []]
    assert labels(prefer_ground_truth=False) == [["first"], []]
    assert labels(prefer_ground_truth=False, annotation="last") == [["truth"], []]
    assert labels(completed_by="a@b.c", prefer_ground_truth=False) == [["truth"], []]
    assert labels(predictions="fallback") == [["truth"], ["guess"]]
    assert labels(predictions="only") == [["guess"], ["guess"]]
    assert [r.key for r in read(export, unannotated="skip")] == ["task-1"]


def test_cancelled_and_skipped_tasks(root: Path) -> None:
    cancelled = task(1, "a.jpg", [rect("r", "cat", 0, 0, 10, 10, (100, 50))])
    cancelled["annotations"][0]["was_cancelled"] = True
    empty = task(2, "a.jpg", [])
    empty["annotations"] = []
    export = write(root, [cancelled, empty, 17])
    parsed = LabelStudioReader.parse_options({"path": str(export)}, None, locate)
    reader = LabelStudioReader(parsed)
    first, second = list(reader.records())
    assert first.boxes == () and one(first, "labelstudio.cancelled").severity is Severity.WARNING
    assert second.problems == ()
    (bad,) = reader.source_problems()
    assert bad.code == "labelstudio.bad_task" and "task #3 is int" in bad.message
    skipping = LabelStudioReader(LabelStudioReader.parse_options(
        {"path": str(export), "unannotated": "skip"}, None, locate))
    assert list(skipping.records()) == []
    notes = {p.code: p for p in skipping.source_problems()}
    assert "2 task(s) without a usable annotation left out (1, 2)" in notes[
        "labelstudio.unannotated"].message


def test_broken_json_names_the_file_and_line_after_the_tasks_before(root: Path) -> None:
    tasks = [task(n, "a.jpg", [rect("r", "cat", 0, 0, 10, 10, (100, 50))]) for n in range(1, 4)]
    text = json.dumps(tasks, indent=1)
    export = root / "cut.json"
    export.write_text(text.replace('"id": 3', '"id": 3 x'), encoding="utf-8")
    line = text[: text.index('"id": 3')].count("\n") + 1
    stream = LabelStudioReader(LabelStudioReader.parse_options(
        {"path": str(export)}, None, locate)).records()
    # Streamed: the tasks before the fault are read before it is met.
    assert [next(stream).key, next(stream).key] == ["task-1", "task-2"]
    with pytest.raises(SourceError) as caught:
        next(stream)
    assert f"cut.json: not valid JSON at line {line}" in str(caught.value)
    assert "after task #2" in str(caught.value)
    export.write_text(text[:200], encoding="utf-8")
    with pytest.raises(SourceError, match="ends too early"):
        read(export)
    for content, what in [("", "empty"), ('"x"', "not a JSON list")]:
        export.write_text(content, encoding="utf-8")
        with pytest.raises(SourceError, match=what):
            read(export)


def test_a_folder_of_exports_and_one_task_per_file(root: Path) -> None:
    folder = root / "target"
    write(folder, task(1, "a.jpg", []), "1.json")
    write(folder, [task(1, "a.jpg", []), task(2, "a.jpg", [])], "all.json")
    records = read(folder, images=str(root))
    assert [r.key for r in records] == ["1.json/task-1", "all.json/task-1", "all.json/task-2"]
    (root / "empty").mkdir()
    with pytest.raises(SourceError, match=r"no \*\.json export"):
        read(root / "empty")


def test_json_min_choices_and_annotators(root: Path) -> None:
    export = write(root, [
        {"image": "a.jpg", "id": 4, "choice": "cat", "caption": "a data field",
         "annotator": 1, "annotation_id": 1},
        {"image": "a.jpg", "id": 4, "choice": {"choices": ["dog"]}, "annotator": 2,
         "annotation_id": 2},
        {"image": "a.jpg", "id": 5, "annotator": 1, "annotation_id": 3,
         "box": [{"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["car"],
                  "original_width": 100, "original_height": 50}],
         "note": {"text": ["free text"]}},
    ])
    first, second = read(export)
    assert (first.key, first.category, first.problems) == ("task-4", "cat", ())
    assert second.boxes[0].xmin == 10 and second.boxes[0].ymax == 30
    assert "1 textarea result(s) (note)" in one(second, "labelstudio.ignored").message
    assert read(export, annotation="last")[0].category == "dog"
    assert read(export, completed_by=2)[0].category == "dog"


def test_an_image_in_an_s3_bucket(root: Path, osai_s3: LocalS3) -> None:
    bucket = osai_s3.bucket()
    png = io.BytesIO()
    Image.new("RGB", (100, 50), (9, 9, 9)).save(png, "PNG")
    osai_s3.put(f"s3://{bucket}/photos/b.png", png.getvalue())
    sizeless = rect("r", "cat", 10, 20, 30, 40, (100, 50))
    del sizeless["original_width"], sizeless["original_height"]
    export = write(root, [task(1, f"s3://{bucket}/photos/b.png", [sizeless])])
    (record,) = read(export)
    assert isinstance(record.path, SourcePath) and record.path.read_bytes() == png.getvalue()
    assert record.name == "b.png" and (record.width, record.height) == (100, 50)
    assert (record.boxes[0].xmin, record.boxes[0].ymin) == (10, 10) and record.problems == ()


def test_an_s3_image_is_read_with_the_sources_storage_options(
        root: Path, osai_s3: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = osai_s3.bucket()
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(png, "PNG")
    osai_s3.put(f"s3://{bucket}/p/c.png", png.getvalue())
    export = write(root, [task(1, f"s3://{bucket}/p/c.png", [rect("r", "cat", 10, 20, 30, 40, (40, 30))])])
    config = root / "ls.yaml"
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    config.write_text(yaml.safe_dump({
        "dataset": {"name": "ls"},
        "source": {"type": "labelstudio", "path": export.name,
                   "storage_options": {"endpoint_url": endpoint}},
    }), encoding="utf-8")
    # Only the config knows where the bucket is: the environment no longer says it.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    resolved, _ = prepare(config)
    (record,) = list(resolved.reader().records())
    assert record.problems == () and record.path.read_bytes() == png.getvalue()


def test_every_code_the_reader_gives_is_documented() -> None:
    plugin = Path(__file__).parents[1]
    source = "".join(p.read_text(encoding="utf-8")
                     for p in (plugin / "src" / "osai_import_labelstudio").glob("*.py"))
    readme = (plugin / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Problem codes"):]
    given = set(re.findall(r'"(labelstudio\.[a-z_]+)"', source))
    documented = set(re.findall(r"^\| `(labelstudio\.[a-z_]+)` \|", table, re.MULTILINE))
    assert given == documented and len(given) == 16
