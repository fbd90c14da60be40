"""Tests of the built-in `coco` reader on COCO files and real images written here.

Every test runs twice: on the msgspec path (which falls back to ijson for what it does
not vouch for) and on the ijson path alone; both must pass the same assertions.

Run ``python -m tests.default_plugins.test_coco_reader bench [images] [annotations]`` by hand to write a
train2017-sized synthetic file and print the reader's peak memory next to json.load's.
"""

from __future__ import annotations

import gc
import itertools
import json
import random
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osai_import.config.resolve import load_config, resolve
from osai_import.default_plugins.coco_reader.geometry import decode_rle_string
from osai_import.default_plugins.coco_reader.stream import MAX_DEPTH, _DepthGuard
from osai_import.errors import SourceError
from osai_import.plugin.base import Reader
from osai_import.plugin.manager import build_plugins
from osai_import.records import Box, ImageRecord, Severity
from tests.support import CONFIGS, REALDATA, make_image

COCO = build_plugins(entry_points=False).readers.get("coco").cls


@pytest.fixture(autouse=True, params=["msgspec", "ijson"])
def reader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read with the msgspec path (and its fallback), then with ijson alone."""
    monkeypatch.setattr(COCO, "fast", request.param == "msgspec")
    return str(request.param)


def write_coco(path: Path, doc: dict[str, Any], order: tuple[str, ...] | None = None) -> Path:
    """Write ``doc`` as JSON with its top-level keys in ``order``."""
    keys = order or tuple(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: doc[k] for k in keys if k in doc}), encoding="utf-8")
    return path


def reader(path: Path, **options: Any) -> Reader:
    return COCO(COCO.parse_options({"path": str(path), **options}))


def read(path: Path, **options: Any) -> list[ImageRecord]:
    return list(reader(path, **options).records())


def boxes(record: ImageRecord) -> list[tuple[str, float, float, float, float, bool]]:
    return [(b.label, b.xmin, b.ymin, b.xmax, b.ymax, b.difficult) for b in record.boxes]


def codes(record: ImageRecord) -> list[tuple[str, Severity]]:
    return [(p.code, p.severity) for p in record.problems]


def ann(aid: Any, image: Any, category: Any, bbox: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": aid, "image_id": image, "category_id": category, "iscrowd": 0}
    if bbox is not None:
        out["bbox"] = bbox
    out.update(extra)
    return out


@pytest.fixture
def pets(tmp_path: Path) -> dict[str, Any]:
    """A COCO document over three real images in subfolders; category ids 0, 7, 3."""
    make_image(tmp_path / "train" / "a.jpg", 40, 30)
    make_image(tmp_path / "train" / "b.png", 20, 20)
    make_image(tmp_path / "val" / "c.jpg", 50, 40)
    return {
        "info": {"description": "pets"},
        "images": [
            {"id": 10, "file_name": "train/a.jpg", "width": 40, "height": 30},
            {"id": 11, "file_name": "train/b.png", "width": 20, "height": 20},
            {"id": 12, "file_name": "val/c.jpg"},
        ],
        "annotations": [
            ann(1, 10, 7, [1.5, 2.25, 10.0, 5.5]),
            ann(2, 12, 0, [0, 0, 50, 40]),
            ann(3, 10, 0, [20.0, 10.0, 0.3, 0.7]),
        ],
        "categories": [
            {"id": 7, "name": "dog"}, {"id": 0, "name": "cat"}, {"id": 3, "name": "bird"},
        ],
    }


def test_records_come_in_file_order_with_exact_boxes_and_sizes(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    records = read(write_coco(tmp_path / "coco.json", pets))
    assert records == [
        ImageRecord(
            key="train/a.jpg", path=tmp_path / "train" / "a.jpg", name="a.jpg", width=40,
            height=30,
            boxes=(Box("dog", 1.5, 2.25, 11.5, 7.75), Box("cat", 20.0, 10.0, 20.3, 10.7)),
            extras={"coco_image_id": 10, "file_name": "train/a.jpg", "legacy_key": "10"},
        ),
        ImageRecord(
            key="train/b.png", path=tmp_path / "train" / "b.png", name="b.png", width=20,
            height=20, extras={"coco_image_id": 11, "file_name": "train/b.png", "legacy_key": "11"},
        ),
        ImageRecord(
            key="val/c.jpg", path=tmp_path / "val" / "c.jpg", name="c.jpg",
            boxes=(Box("cat", 0.0, 0.0, 50.0, 40.0),),
            extras={"coco_image_id": 12, "file_name": "val/c.jpg", "legacy_key": "12"},
        ),
    ]
    assert isinstance(records[0].boxes[0].xmax, float)
    assert records[0].boxes[1].xmax == 20.0 + 0.3  # x + w exactly, no rounding


@pytest.mark.parametrize("order", list(itertools.permutations(("images", "annotations", "categories"))))
def test_key_order_of_the_file_does_not_matter(
    tmp_path: Path, pets: dict[str, Any], order: tuple[str, ...]
) -> None:
    expected = read(write_coco(tmp_path / "a.json", pets))
    assert read(write_coco(tmp_path / "b.json", pets, ("info", *order))) == expected


def test_drop_empty_leaves_out_images_without_boxes(tmp_path: Path, pets: dict[str, Any]) -> None:
    path = write_coco(tmp_path / "coco.json", pets)
    assert [r.key for r in read(path)] == ["train/a.jpg", "train/b.png", "val/c.jpg"]
    assert [r.key for r in read(path, drop_empty=True)] == ["train/a.jpg", "val/c.jpg"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", [("cat", 1.0, 1.0, 3.0, 3.0, False)]),
        ("box", [("cat", 1.0, 1.0, 3.0, 3.0, False), ("dog", 0.0, 0.0, 20.0, 10.0, False)]),
        ("difficult", [("cat", 1.0, 1.0, 3.0, 3.0, False), ("dog", 0.0, 0.0, 20.0, 10.0, True)]),
    ],
)
def test_iscrowd_policy(
    tmp_path: Path, pets: dict[str, Any], policy: str, expected: list[Any]
) -> None:
    pets["annotations"] = [
        ann(1, 11, 0, [1, 1, 2, 2]),
        ann(2, 11, 7, [0, 0, 20, 10], iscrowd=1, segmentation={"counts": [0, 200], "size": [20, 20]}),
    ]
    record = read(write_coco(tmp_path / "coco.json", pets), iscrowd=policy)[1]
    assert boxes(record) == expected and record.problems == ()


def test_box_from_polygons_when_bbox_is_missing_or_empty(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["annotations"] = [
        ann(1, 10, 0, segmentation=[[5, 6, 9.5, 6, 9.5, 12.25], [4, 8, 6, 20]]),
        ann(2, 10, 7, [], segmentation=[[1, 2, 3, 4]]),
        {**ann(3, 10, 7, segmentation=[[1, 2, 3, 4]]), "bbox": None},
    ]
    assert boxes(read(write_coco(tmp_path / "coco.json", pets))[0]) == [
        ("cat", 4.0, 6.0, 9.5, 20.0, False),
        ("dog", 1.0, 2.0, 3.0, 4.0, False),
        ("dog", 1.0, 2.0, 3.0, 4.0, False),
    ]


def rle_encode_string(counts: list[int]) -> str:
    """Encode run lengths as pycocotools' rleToString does (LEB128-like, deltas from i-2)."""
    out = []
    for index, count in enumerate(counts):
        value = count - counts[index - 2] if index > 2 else count
        more = True
        while more:
            char = value & 0x1F
            value >>= 5
            more = value != -1 if char & 0x10 else value != 0
            if more:
                char |= 0x20
            out.append(chr(char + 48))
    return "".join(out)


def mask_counts(mask: list[list[int]]) -> list[int]:
    """Return the column-major run lengths of a mask, starting with a background run."""
    flat = [mask[y][x] for x in range(len(mask[0])) for y in range(len(mask))]
    counts, current, run = [], 0, 0
    for pixel in flat:
        if pixel != current:
            counts.append(run)
            current, run = pixel, 0
        run += 1
    counts.append(run)
    return counts


def test_rle_string_decoding_inverts_the_pycocotools_encoding() -> None:
    rng = random.Random(4)
    for _ in range(200):
        counts = [rng.choice([0, 1, 5, 31, 32, 1000, 70000]) for _ in range(rng.randrange(1, 12))]
        assert decode_rle_string(rle_encode_string(counts)) == counts
    # By hand from rleToString: 20 = 0b10100 sets bit 4, so "d" (0x34) then "0" end it.
    assert rle_encode_string([0, 20, 30]) == "0d0n0"
    assert decode_rle_string("0d0n0") == [0, 20, 30]


@pytest.mark.parametrize("compressed", [False, True])
def test_box_from_rle_masks(tmp_path: Path, pets: dict[str, Any], compressed: bool) -> None:
    height, width = 7, 9
    mask = [[0] * width for _ in range(height)]
    for y, x in [(2, 3), (5, 3), (4, 6), (3, 4)]:
        mask[y][x] = 1
    wrapping = [[0] * 4 for _ in range(5)]  # a run that wraps from column 1 into column 2
    wrapping[4][1] = wrapping[0][2] = 1
    segs = []
    for m, size in ((mask, [height, width]), (wrapping, [5, 4])):
        counts: Any = mask_counts(m)
        segs.append({"size": size, "counts": rle_encode_string(counts) if compressed else counts})
    pets["annotations"] = [ann(1, 11, 0, segmentation=segs[0]), ann(2, 11, 0, segmentation=segs[1])]
    record = read(write_coco(tmp_path / "coco.json", pets))[1]
    # Pixel i covers [i, i + 1): the box of pixels x 3..6, y 2..5 is (3, 2, 7, 6).
    assert boxes(record) == [("cat", 3.0, 2.0, 7.0, 6.0, False), ("cat", 1.0, 0.0, 3.0, 5.0, False)]


def test_datumaro_rle_gets_the_box_pycocotools_computes(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["annotations"] = [ann(1, 11, 0, segmentation={"counts": [0, 20, 30], "size": [10, 5]})]
    assert boxes(read(write_coco(tmp_path / "coco.json", pets))[1]) == [("cat", 0.0, 0.0, 2.0, 10.0, False)]


def test_empty_rle_mask_is_a_warning_and_the_annotation_is_ignored(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["annotations"] = [ann(5, 11, 0, segmentation={"counts": [400], "size": [20, 20]})]
    record = read(write_coco(tmp_path / "coco.json", pets))[1]
    assert record.boxes == () and codes(record) == [("coco.empty_region", Severity.WARNING)]
    assert "annotation 5" in record.problems[0].message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("none", [None, None, None]), ("single", [None, None, "cat"]), ("largest", ["cat", None, "cat"])],
)
def test_image_category_rules(
    tmp_path: Path, pets: dict[str, Any], rule: str, expected: list[Any]
) -> None:
    pets["annotations"].append(ann(9, 10, 0, [0, 0, 30, 20]))
    pets["annotations"].append(ann(8, 10, 7, [0, 0, 20, 30]))  # same area: the earlier box wins
    records = read(write_coco(tmp_path / "coco.json", pets), image_category=rule)
    assert [r.category for r in records] == expected


def test_images_option_sets_the_root_and_file_names_keep_subfolders(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    path = write_coco(tmp_path / "annotations" / "instances.json", pets)
    records = read(path, images=str(tmp_path))
    assert [r.path for r in records] == [tmp_path / "train/a.jpg", tmp_path / "train/b.png", tmp_path / "val/c.jpg"]
    assert all(r.path.is_file() for r in records)
    # Relative option values resolve against the config's folder.
    options = COCO.parse_options({"path": "annotations/instances.json", "images": "."}, tmp_path)
    assert [r.path for r in COCO(options).records()] == [r.path for r in records]


def test_file_names_that_leave_the_image_root_are_refused(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    root = tmp_path / "data"
    make_image(root / "in.jpg")
    make_image(tmp_path / "secret.jpg")
    names = ["../secret.jpg", "sub/../../secret.jpg", str(tmp_path / "secret.jpg"),
             str(root / "in.jpg"), "sub/../in.jpg", "sub\\..\\in.jpg"]
    pets["images"] = [{"id": i, "file_name": name} for i, name in enumerate(names)]
    pets["annotations"] = []
    records = read(write_coco(root / "coco.json", pets))
    assert [codes(r) for r in records] == [[("path.outside", Severity.ERROR)]] * 3 + [[]] * 3
    assert [r.path for r in records[3:]] == [root / "in.jpg"] * 3
    assert "../secret.jpg" in records[0].problems[0].message


def test_remote_name_is_the_nfc_basename(tmp_path: Path, pets: dict[str, Any]) -> None:
    decomposed = "cafe\u0301.jpg"
    make_image(tmp_path / "x" / decomposed)
    pets["images"] = [{"id": 1, "file_name": "x/" + decomposed}, {"id": 2, "file_name": "x\\y\\z.jpg"}]
    records = read(write_coco(tmp_path / "coco.json", pets))
    assert records[0].name == "caf\u00e9.jpg" and records[0].path == tmp_path / "x" / decomposed
    assert records[1].name == "z.jpg" and records[1].path == tmp_path / "x" / "y" / "z.jpg"


def test_string_image_ids_and_mixed_id_types_match(tmp_path: Path, pets: dict[str, Any]) -> None:
    pets["images"] = [{"id": "0001", "file_name": "train/a.jpg"}, {"id": "12", "file_name": "val/c.jpg"}]
    pets["annotations"] = [ann("x1", "0001", 0, [1, 1, 2, 2]), ann(2, 12, "7", [0, 0, 1, 1])]
    records = read(write_coco(tmp_path / "coco.json", pets))
    assert [(r.extras["legacy_key"], boxes(r)) for r in records] == [
        ("0001", [("cat", 1.0, 1.0, 3.0, 3.0, False)]), ("12", [("dog", 0.0, 0.0, 1.0, 1.0, False)]),
    ]


def test_unknown_category_is_an_error_on_its_image(tmp_path: Path, pets: dict[str, Any]) -> None:
    pets["annotations"] = [ann(1, 10, 0, [1, 1, 2, 2]), ann(44, 10, 99, [1, 1, 2, 2])]
    record = read(write_coco(tmp_path / "coco.json", pets))[0]
    assert codes(record) == [("coco.unknown_category", Severity.ERROR)]
    problem = record.problems[0]
    assert "annotation 44" in problem.message and "category_id 99" in problem.message
    assert "image 10" in problem.message and str(tmp_path / "coco.json") in problem.message
    assert problem.item == "train/a.jpg"  # the record's key, as the check step's own problems
    assert boxes(record) == [("cat", 1.0, 1.0, 3.0, 3.0, False)]


def test_annotations_of_unknown_images_are_source_warnings(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["annotations"] += [ann(50, 404, 0, [1, 1, 2, 2]), ann(51, 404, 0, [1, 1, 2, 2]), ann(52, 405, 99, [0, 0, 1, 1])]
    coco = reader(write_coco(tmp_path / "coco.json", pets))
    records = list(coco.records())
    assert [len(r.boxes) for r in records] == [2, 0, 1] and all(r.problems == () for r in records)
    problems = coco.source_problems()  # type: ignore[attr-defined]
    assert [(p.code, p.severity, p.item) for p in problems] == [
        ("coco.unknown_image", Severity.WARNING, "image_id 404"),
        ("coco.unknown_image", Severity.WARNING, "image_id 405"),
    ]
    assert "2 annotation(s) refer to image_id 404" in problems[0].message


def test_source_problems_are_capped_per_code(tmp_path: Path, pets: dict[str, Any]) -> None:
    pets["annotations"] = [ann(i, 1000 + i, 0, [0, 0, 1, 1]) for i in range(130)]
    coco = reader(write_coco(tmp_path / "coco.json", pets))
    list(coco.records())
    problems = coco.source_problems()  # type: ignore[attr-defined]
    assert len(problems) == 101 and "30 more problems" in problems[-1].message


def test_a_repeated_image_id_repeats_the_key_and_is_an_error(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["images"].append({"id": 10, "file_name": "val/c.jpg"})
    records = read(write_coco(tmp_path / "coco.json", pets), drop_empty=True)
    # The same key twice (the first entry's) lets the check step refuse both
    # (`record.duplicate`).
    assert [r.key for r in records] == ["train/a.jpg", "val/c.jpg", "train/a.jpg"]
    assert len(records[0].boxes) == 2 and records[2].boxes == ()
    assert codes(records[2]) == [("coco.duplicate_image", Severity.ERROR)]
    assert "listed again at images[3] (first at images[0], train/a.jpg)" in (
        records[2].problems[0].message)
    assert (records[2].name, records[2].path) == ("c.jpg", tmp_path / "val" / "c.jpg")


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (ann(7, 10, 0), "has neither a bbox nor a segmentation"),
        (ann(7, 10, 0, [1, 2, 3]), "has bbox [1, 2, 3]; expected [x, y, width, height]"),
        (ann(7, 10, 0, ["1", 2, 3, 4]), "has bbox ['1', 2, 3, 4]"),
        (ann(7, 10, 0, [1, 2, 3, True]), "has bbox [1, 2, 3, True]"),
        (ann(7, 10, 0, [1e308, 2, 1e308, 4]), "corners overflow"),
        (ann(7, 10, 0, [1, 2, 3, 4], iscrowd="yes"), "has iscrowd 'yes'"),
        ({"id": 7, "image_id": 10, "bbox": [1, 2, 3, 4]}, "has category_id None"),
        (ann(7, 10, 0, segmentation=[[1, 2, 3]]), "odd count"),
        (ann(7, 10, 0, segmentation=[[1, "a"]]), "polygon 1"),
        (ann(7, 10, 0, segmentation=[[]]), "without points"),
        (ann(7, 10, 0, segmentation="x"), "expected polygons"),
        (ann(7, 10, 0, segmentation={"counts": [1, 2], "size": [0, 3]}), "RLE size"),
        (ann(7, 10, 0, segmentation={"counts": [1, -2], "size": [3, 3]}), "RLE counts"),
        (ann(7, 10, 0, segmentation={"counts": [1, 20], "size": [3, 3]}), "more than its size"),
        (ann(7, 10, 0, segmentation={"counts": "0d0\x7f", "size": [10, 5]}), "invalid character"),
        (ann(7, 10, 0, segmentation={"counts": "0d0o", "size": [10, 5]}), "ends inside a number"),
        (ann(7, 10, 0, segmentation={"counts": "0" + "o" * 40 + "0", "size": [10, 5]}), "too large"),
    ],
)
def test_bad_annotations_are_errors_naming_the_annotation(
    tmp_path: Path, pets: dict[str, Any], annotation: dict[str, Any], words: str
) -> None:
    pets["annotations"] = [annotation, ann(8, 10, 0, [0, 0, 1, 1])]
    record = read(write_coco(tmp_path / "coco.json", pets))[0]
    assert codes(record) == [("coco.bad_annotation", Severity.ERROR)]
    assert "annotation 7" in record.problems[0].message and words in record.problems[0].message
    assert boxes(record) == [("cat", 0.0, 0.0, 1.0, 1.0, False)]


def test_annotations_without_a_usable_image_id_are_source_errors(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["annotations"] = [{"category_id": 0, "bbox": [0, 0, 1, 1]}, ann(3, 1.5, 0, [0, 0, 1, 1]), "junk"]
    coco = reader(write_coco(tmp_path / "coco.json", pets))
    assert all(r.boxes == () for r in coco.records())
    found = [(p.code, p.severity, p.item) for p in coco.source_problems()]  # type: ignore[attr-defined]
    assert found == [
        ("coco.bad_annotation", Severity.ERROR, "annotations[0]"),
        ("coco.bad_annotation", Severity.ERROR, "annotation 3"),
        ("coco.bad_annotation", Severity.ERROR, "annotations[2]"),
    ]


def test_bad_image_entries_are_error_records(tmp_path: Path, pets: dict[str, Any]) -> None:
    pets["images"] = [
        "junk", {"file_name": "a.jpg"}, {"id": 5}, {"id": 6, "file_name": "dir/"},
        {"id": 7, "file_name": "a\x00.jpg"}, {"id": 8, "file_name": "ok.jpg", "width": -3, "height": "9"},
    ]
    records = read(write_coco(tmp_path / "coco.json", pets))
    assert [r.key for r in records] == [
        "images[0]", "images[1]", "images[2]", "images[3]", "images[4]", "ok.jpg"]
    assert [codes(r) for r in records] == [[("coco.bad_image", Severity.ERROR)]] * 5 + [
        [("coco.bad_size", Severity.WARNING)] * 2]
    assert (records[5].width, records[5].height) == (None, None)
    assert "images[1] has id None" in records[1].problems[0].message


def test_zero_or_integral_float_sizes(tmp_path: Path, pets: dict[str, Any]) -> None:
    pets["images"] = [{"id": 1, "file_name": "a.jpg", "width": 0, "height": 0},
                      {"id": 2, "file_name": "b.jpg", "width": 64.0, "height": 48}]
    records = read(write_coco(tmp_path / "coco.json", pets))
    assert [(r.width, r.height, r.problems) for r in records] == [(None, None, ()), (64, 48, ())]


def test_malformed_json_names_the_line(tmp_path: Path, pets: dict[str, Any]) -> None:
    text = json.dumps(pets, indent=1).splitlines()
    line = next(i for i, t in enumerate(text) if '"file_name": "val/c.jpg"' in t)
    text[line] = text[line].replace('"val/c.jpg"', '"val/c.jpg" oops')
    path = tmp_path / "coco.json"
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read(path)
    message = str(caught.value)
    assert str(path) in message and f"line {line + 1}," in message and "not valid JSON" in message


def test_truncated_json_says_so(tmp_path: Path, pets: dict[str, Any]) -> None:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(pets)[:-40], encoding="utf-8")
    with pytest.raises(SourceError, match="ends too early"):
        read(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "is empty"),
        ("  \n ", "is empty"),
        ('[{"id": 1}]', "top level is a list"),
        ('{"annotations": []}', "no `images` list"),
        ('{"images": {"id": 1}}', "`images` is a JSON object"),
        ('{"images": [], "annotations": {"a": 1}}', "`annotations` is a JSON object"),
        ('{"images": [], "categories": {"id": 1}}', "`categories` is {'id': 1}"),
        ('{"images": [], "categories": [{"id": 1}]}', "categories[0] (id 1) has name None"),
        ('{"images": [], "categories": [{"name": "a"}]}', "categories[0] has id None"),
        ('{"images": [], "categories": [7]}', "categories[0] is 7"),
        ('{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}', "listed twice"),
        ('{"images": [], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0,0,1,1]}]}', "no usable `categories`"),
        ('{"images": [], "x": 1' + "9" * 5000 + "}", "integer overflow"),
    ],
)
def test_files_that_are_not_coco_stop_the_read(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "coco.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read(path)
    assert words in str(caught.value) and str(path) in str(caught.value)


def test_deeply_nested_json_is_refused_before_the_parser_sees_it(tmp_path: Path) -> None:
    # ijson's memory grows with the square of the depth: this 400 kB file would need ~100 GB.
    deep = "[" * 200_000 + "]" * 200_000
    path = tmp_path / "coco.json"
    path.write_text(f'{{"images": [{{"id": 1, "file_name": "a.jpg"}}], "info": {deep}}}', encoding="utf-8")
    with pytest.raises(SourceError, match=f"nested more than {MAX_DEPTH} levels"):
        read(path)
    nested = {"info": {"a": [[[[{"b": ']]]}}{{"[[\\'}]]]]}}
    path.write_text(json.dumps({**nested, "images": [{"id": 1, "file_name": "a.jpg"}]}), encoding="utf-8")
    assert [r.key for r in read(path)] == ["a.jpg"]  # brackets inside strings do not count


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_text = st.text(alphabet=st.sampled_from('ab"\\[]{} é\n\t/'), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_json, ascii=st.booleans(), cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_the_depth_guard_follows_any_json_split_anywhere(
    value: Any, ascii: bool, cuts: list[int]
) -> None:
    data = json.dumps(value, ensure_ascii=ascii).encode("utf-8")
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    guard = _DepthGuard()
    peak = max(guard.feed(data[a:b]) for a, b in itertools.pairwise(points)) if len(data) else 0
    assert peak == _depth(value)
    assert (guard.depth, guard.in_string, guard.escaped) == (0, False, False)


def test_the_depth_guard_handles_a_cut_at_every_byte_of_escapes() -> None:
    value = [["a\\\"b\\", {"k]\\": "\\\\[\""}], "\\", {"x": [["\"]"]]}]
    data = json.dumps(value).encode()
    for cut in range(len(data) + 1):
        guard = _DepthGuard()
        assert max(guard.feed(data[:cut]), guard.feed(data[cut:])) == 4, cut
        assert (guard.depth, guard.in_string, guard.escaped) == (0, False, False)


def test_missing_file_or_image_folder(tmp_path: Path, pets: dict[str, Any]) -> None:
    with pytest.raises(SourceError, match="no such COCO file"):
        read(tmp_path / "nope.json")
    with pytest.raises(SourceError, match="image folder does not exist"):
        read(write_coco(tmp_path / "coco.json", pets), images=str(tmp_path / "nope"))


def test_utf8_bom_and_duplicate_identical_categories_are_accepted(
    tmp_path: Path, pets: dict[str, Any]
) -> None:
    pets["categories"].append({"id": 0, "name": "cat"})
    path = tmp_path / "coco.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(pets).encode())
    assert [len(r.boxes) for r in read(path)] == [2, 0, 1]


def test_example_config_reads_its_real_images() -> None:
    from PIL import Image

    resolved = resolve(load_config(CONFIGS / "coco.yaml"), build_plugins(entry_points=False))
    records = list(resolved.reader().records())
    assert [r.name for r in records] == ["cat_001.jpg", "dog_001.png", "pets_001.jpg", "empty_001.jpg"]
    assert {b.label for r in records for b in r.boxes} == {"cat", "dog"}
    assert boxes(records[1]) == [("dog", 30.0, 20.0, 74.0, 70.0, False)]  # from its polygon
    for record in records:
        with Image.open(record.path) as image:
            assert image.size == (record.width, record.height)
        assert all(0 <= b.xmin < b.xmax <= record.width for b in record.boxes)  # type: ignore[operator]


def doc_options(path: Path) -> dict[str, str]:
    """Return the option -> default column of the first options table of a doc page."""
    rows = {}
    for line in path.read_text(encoding="utf-8").split("## Options", 1)[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1]
        elif rows and not line.startswith("|"):
            break
    return rows


def test_every_option_is_documented_with_its_default() -> None:
    documented = doc_options(CONFIGS.parent / "docs" / "readers" / "coco.md")
    fields = COCO.Options.model_fields
    assert list(documented) == list(fields)
    for key, field in fields.items():
        if field.is_required():
            assert documented[key] == "(required)"
        elif field.default is not None:
            assert documented[key] == f"`{str(field.default).lower()}`", key


def write_synthetic_coco(
    path: Path, images: int, annotations: int, points: int = 48, seed: int = 0
) -> None:
    """Write a COCO file shaped like train2017 (polygons, official key order) without holding it."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"info": {"description": "synthetic"}, "licenses": [], "images": [')
        fh.write(",".join(
            f'{{"license": 3, "file_name": "{i:012d}.jpg", "height": 480, "width": 640, '
            f'"date_captured": "2013-11-14 11:18:45", "id": {i + 1}}}' for i in range(images)))
        fh.write('], "annotations": [')
        for a in range(annotations):
            polygon = ",".join(f"{rng.uniform(0, 600):.2f}" for _ in range(points))
            fh.write(("," if a else "") + (
                f'{{"segmentation": [[{polygon}]], "area": 1035.75, "iscrowd": 0, '
                f'"image_id": {rng.randrange(images) + 1}, "bbox": [{rng.uniform(0, 500):.2f}, '
                f'{rng.uniform(0, 400):.2f}, 50.5, 60.25], "category_id": {rng.randrange(1, 81)}, '
                f'"id": {a + 1}}}'))
        fh.write('], "categories": [')
        fh.write(",".join(f'{{"supercategory": "s", "id": {c}, "name": "c{c}"}}' for c in range(1, 81)))
        fh.write("]}")


def test_memory_stays_a_small_fraction_of_json_load(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.json"
    # Polygons large enough that allocations by other threads of the test process
    # (tracemalloc sees them all) stay small beside what json.load needs.
    write_synthetic_coco(path, images=600, annotations=4000, points=120)
    gc.collect()
    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            document = json.load(fh)
        _, loaded_peak = tracemalloc.get_traced_memory()
        del document
        gc.collect()
        tracemalloc.reset_peak()
        count = total = 0
        for record in reader(path).records():
            count, total = count + 1, total + len(record.boxes)
        _, streamed_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, total) == (600, 4000)
    assert streamed_peak < loaded_peak / 5, (streamed_peak, loaded_peak)


def _oracle_views() -> list[tuple[str, str, dict[str, Any]]]:
    views = []
    for name in ("datumaro_coco_instances", "datumaro_roboflow_coco", "sahi_terrain_coco"):
        oracle = json.loads((REALDATA / name / "ORACLE.json").read_text(encoding="utf-8"))
        for view, data in oracle["views"].items():
            if view.startswith("coco:") and "pycocotools" in data["oracles"]:
                views.append((name, view.removeprefix("coco:"), data["oracles"]["pycocotools"]))
    return views


@pytest.mark.parametrize(("dataset", "json_file", "oracle"), _oracle_views())
def test_real_coco_files_read_as_pycocotools_reads_them(
    dataset: str, json_file: str, oracle: dict[str, Any]
) -> None:
    folder = REALDATA / dataset
    path = folder / json_file
    doc = json.loads(path.read_text(encoding="utf-8"))
    names = {img["id"]: img["file_name"] for img in doc["images"]}
    first = oracle["images"][0]
    root = folder / first["file"].removesuffix(names[first["coco_image_id"]])
    records = read(path, images=str(root), iscrowd="box")  # pycocotools keeps crowd boxes
    got = [
        {"file": r.path.relative_to(folder).as_posix(), "coco_image_id": r.extras["coco_image_id"],
         "width": r.width, "height": r.height,
         "boxes": [[b.label, round(b.xmin, 4), round(b.ymin, 4), round(b.xmax, 4), round(b.ymax, 4)] for b in r.boxes]}
        for r in records
    ]
    keys = ("file", "coco_image_id", "width", "height", "boxes")
    assert got == [{k: image[k] for k in keys} for image in oracle["images"]]
    assert all(r.path.is_file() and r.problems == () for r in records)
    crowds = sum(e["iscrowd"] for image in oracle["images"] for e in image["box_extras"])
    skipped = read(path, images=str(root))
    assert sum(len(r.boxes) for r in records) - sum(len(r.boxes) for r in skipped) == crowds


def _bench(images: int, annotations: int) -> None:
    """Write a synthetic file and print the peak RSS of the reader and of json.load."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        write_synthetic_coco(path, images, annotations)
        print(f"{path.stat().st_size / 1e6:.0f} MB, {images} images, {annotations} annotations")
        probe = (
            "import resource, sys, time, json\n"
            "from osai_import.plugin.manager import build_plugins\n"
            "t = time.time()\n"
            "if sys.argv[2] == 'json':\n"
            "    doc = json.load(open(sys.argv[1])); n = len(doc['annotations'])\n"
            "else:\n"
            "    cls = build_plugins().readers.get('coco').cls\n"
            "    n = sum(len(r.boxes) for r in cls(cls.parse_options({'path': sys.argv[1]})).records())\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "print(f'{sys.argv[2]:>6}: {n} boxes, {time.time() - t:.1f} s, peak RSS {peak:.0f} MB')\n"
        )
        for mode in ("coco", "json"):
            subprocess.run([sys.executable, "-c", probe, str(path), mode], check=True)


if __name__ == "__main__" and sys.argv[1:2] == ["bench"]:
    _bench(*(int(v) for v in sys.argv[2:4])) if len(sys.argv) > 3 else _bench(118_000, 860_000)
