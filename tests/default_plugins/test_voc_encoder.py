"""Tests of the built-in `voc` and `none` encoders, and of COCO -> reader -> VOC round trips."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from osai_import.errors import ItemError
from osai_import.plugin.base import Annotation
from osai_import.plugin.manager import build_plugins
from osai_import.records import Box, ImageRecord
from tests.support import DOCS, REALDATA, make_image

PLUGINS = build_plugins(entry_points=False)
VOC = PLUGINS.encoders.get("voc").cls
NONE = PLUGINS.encoders.get("none").cls
COCO = PLUGINS.readers.get("coco").cls
SNAP = 1e-6


def encode(record: ImageRecord, **options: Any) -> Annotation | None:
    return VOC(VOC.parse_options(options)).encode(record)


def parse(data: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def objects(data: bytes) -> list[tuple[str, ...]]:
    root = parse(data)
    return [
        (obj.findtext("name"), *(obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")),
         obj.findtext("truncated"))
        for obj in root.findall("object")
    ]


def record(
    *boxes: Box, width: int | None = 40, height: int | None = 30, **extra: Any
) -> ImageRecord:
    return ImageRecord(key="k", path=Path("/data/img/a.jpg"), name="a.jpg", boxes=boxes,
                       width=width, height=height, **extra)


def test_document_is_pascal_voc_in_utf8_with_a_declaration() -> None:
    result = encode(record(Box("cat", 1.5, 2.25, 11.5, 7.75, difficult=True, pose="Left")))
    assert result is not None and result.type == 0
    assert result.data.decode("utf-8") == """<?xml version='1.0' encoding='UTF-8'?>
<annotation>
  <filename>a.jpg</filename>
  <path>a.jpg</path>
  <source>
    <database>Unknown</database>
  </source>
  <size>
    <width>40</width>
    <height>30</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
  <object>
    <name>cat</name>
    <pose>Left</pose>
    <truncated>0</truncated>
    <difficult>1</difficult>
    <occluded>0</occluded>
    <bndbox>
      <xmin>1</xmin>
      <ymin>2</ymin>
      <xmax>12</xmax>
      <ymax>8</ymax>
    </bndbox>
  </object>
</annotation>
"""


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((2, 2, 5, 3), ("2", "2", "5", "3", "0")),  # whole numbers stay as they are
        ((1.5, 2.25, 11.5, 7.75), ("1", "2", "12", "8", "0")),  # widened outwards
        ((20.0, 10.0, 20.3, 10.7), ("20", "10", "21", "11", "0")),  # tiny, never zero-area
        ((10.000000000000002, 0.1 + 0.2, 0.1 + 29.9, 30.000000000000004), ("10", "0", "30", "30", "0")),
        ((5.0000001, 5, 5.0000003, 6), ("5", "5", "6", "6", "0")),  # under SNAP: still 1 px
        ((-5, 3, 50, 4), ("0", "3", "40", "4", "1")),  # clipped to the image: truncated
        ((-1e-9, 0, 40.0000000001, 30), ("0", "0", "40", "30", "0")),  # noise is no truncation
        ((39.2, 29.5, 41, 31), ("39", "29", "40", "30", "1")),
    ],
)
def test_boxes_become_whole_pixels_that_contain_them(
    box: tuple[float, float, float, float], expected: tuple[str, ...]
) -> None:
    result = encode(record(Box("cat", *box)))
    assert result is not None and objects(result.data) == [("cat", *expected)]


@pytest.mark.parametrize(
    "box",
    [(45, 0, 50, 5), (40, 0, 41, 5), (-5, -5, 0, 10), (3, 3, 3, 8), (5, 5, 3, 8), (0, 30, 5, 31)],
)
def test_boxes_without_area_inside_the_image_are_left_out(
    box: tuple[float, float, float, float]
) -> None:
    result = encode(record(Box("cat", *box), Box("dog", 1, 1, 2, 2)))
    assert result is not None and [o[0] for o in objects(result.data)] == ["dog"]
    assert encode(record(Box("cat", *box))) is None


def test_records_without_boxes_get_no_annotation_unless_asked() -> None:
    assert encode(record()) is None
    assert encode(record(category="cat")) is None
    result = encode(record(), empty="annotation")
    assert result is not None and objects(result.data) == []
    assert parse(result.data).findtext("size/width") == "40"


def test_float_precision_keeps_the_clipped_source_values() -> None:
    boxes = (Box("cat", 1.5, 0.00001, 11.25, 7.75), Box("dog", -3, 2, 50.5, 3.125))
    result = encode(record(*boxes), precision="float")
    assert result is not None and objects(result.data) == [
        ("cat", "1.5", "0.00001", "11.25", "7.75", "0"),
        ("dog", "0.0", "2.0", "40.0", "3.125", "1"),
    ]


def test_folder_database_depth_and_flags() -> None:
    box = Box("cat", 1, 1, 5, 5, truncated=True, occluded=True)
    result = encode(record(box, depth=1), folder="images", database="Pets 2024")
    assert result is not None
    root = parse(result.data)
    assert [child.tag for child in root][:2] == ["folder", "filename"]
    assert root.findtext("folder") == "images" and root.findtext("source/database") == "Pets 2024"
    assert root.findtext("size/depth") == "1"
    assert [root.findtext(f"object/{k}") for k in ("truncated", "occluded", "difficult", "pose")] == [
        "1", "1", "0", "Unspecified"]


def test_text_is_escaped_and_non_ascii_is_utf8() -> None:
    result = encode(ImageRecord(key="k", path=Path("x"), name="é <&>.jpg", width=9, height=9,
                                boxes=(Box('a<b>&"c" ü', 0, 0, 1, 1),)))
    assert result is not None
    assert "é".encode() in result.data
    root = parse(result.data)
    assert root.findtext("filename") == "é <&>.jpg" and root.findtext("object/name") == 'a<b>&"c" ü'


@pytest.mark.parametrize(
    ("rec", "code"),
    [
        (record(Box("cat", 1, 1, 2, 2), width=None), "voc.size_unknown"),
        (record(Box("ca\x01t", 1, 1, 2, 2)), "voc.invalid_text"),
        (ImageRecord(key="k", path=Path("x"), name="a\x1b.jpg", width=4, height=4), "voc.invalid_text"),
        (record(Box("", 1, 1, 2, 2)), "voc.no_label"),
    ],
)
def test_records_that_cannot_be_written_raise_item_errors(rec: ImageRecord, code: str) -> None:
    with pytest.raises(ItemError) as caught:
        encode(rec, empty="annotation")
    assert caught.value.code == code and str(rec.path) in str(caught.value)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        VOC.parse_options({"precision": "half"})
    with pytest.raises(ValueError, match="extra"):
        VOC.parse_options({"rounding": "up"})


def test_encode_is_thread_safe() -> None:
    encoder = VOC(VOC.parse_options({}))
    records = [record(*(Box(f"c{i % 7}", i % 13, j, i % 13 + 3.5, j + 2.25) for j in range(i % 9)))
               for i in range(60)]
    expected = [encoder.encode(r) for r in records]
    results: dict[int, list[Annotation | None]] = {}

    def work(worker: int) -> None:
        results[worker] = [encoder.encode(r) for _ in range(20) for r in records][-len(records):]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(found == expected for found in results.values())


def test_none_encoder_never_writes_an_annotation() -> None:
    encoder = NONE(NONE.parse_options({}))
    assert encoder.encode(record(Box("cat", 1, 1, 5, 5), category="cat")) is None
    assert encoder.encode(record()) is None
    assert NONE.description().startswith("Send no annotation")
    with pytest.raises(ValueError):
        NONE.parse_options({"empty": "annotation"})


def test_every_voc_option_is_documented_with_its_default() -> None:
    from tests.default_plugins.test_coco_reader import doc_options

    documented = doc_options(DOCS / "encoders.md")
    fields = VOC.Options.model_fields
    assert list(documented) == list(fields)
    for key, field in fields.items():
        expected = "—" if field.default is None else f"`{field.default}`"
        assert documented[key] == expected, key


def _voc_exports() -> list[tuple[str, str, str, dict[str, Any]]]:
    cases = []
    for dataset in ("datumaro_coco_instances", "datumaro_roboflow_coco", "sahi_terrain_coco"):
        oracle = json.loads((REALDATA / dataset / "ORACLE.json").read_text(encoding="utf-8"))
        for view, data in oracle["views"].items():
            globox = data["oracles"].get("globox")
            if view.startswith("coco:") and "pycocotools" in data["oracles"] and globox:
                first = data["oracles"]["pycocotools"]["images"][0]
                cases.append((dataset, view.removeprefix("coco:"), first["file"], globox["voc_export"]))
    return cases


@pytest.mark.parametrize(("dataset", "json_file", "first_file", "export"), _voc_exports())
def test_real_coco_boxes_come_out_as_globox_writes_them(
    dataset: str, json_file: str, first_file: str, export: dict[str, Any]
) -> None:
    folder = REALDATA / dataset
    path = folder / json_file
    doc = json.loads(path.read_text(encoding="utf-8"))
    root = folder / first_file.removesuffix(doc["images"][0]["file_name"])
    options = COCO.parse_options({"path": str(path), "images": str(root), "iscrowd": "box"})
    encoder = VOC(VOC.parse_options({}))
    for rec in COCO(options).records():
        result = encoder.encode(rec)
        assert result is not None
        expected = export[Path(rec.name).stem]
        xml = parse(result.data)
        assert [xml.findtext("size/width"), xml.findtext("size/height")] == expected["size"]
        assert xml.findtext("filename") == expected["filename"]
        # globox writes the COCO corners as floats; all of these are whole pixels.
        assert [o[:5] for o in objects(result.data)] == [
            (name, *(str(int(float(v))) for v in coords)) for name, *coords in expected["objects"]]


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roundtrip")
    make_image(folder / "img.jpg", 64, 48)
    return folder


coordinate = st.floats(min_value=-100, max_value=1100, allow_nan=False, allow_infinity=False)
extent = st.floats(min_value=0, max_value=600, allow_nan=False, allow_infinity=False)
coco_box = st.tuples(st.sampled_from(["cat", "dog", "ünïcode"]), coordinate, coordinate, extent, extent)


@settings(max_examples=120, deadline=None)
@given(width=st.integers(1, 1000), height=st.integers(1, 1000), source=st.lists(coco_box, max_size=12))
def test_random_coco_boxes_survive_the_reader_and_the_voc_encoder(
    image_dir: Path, width: int, height: int, source: list[tuple[str, float, float, float, float]]
) -> None:
    categories = ["cat", "dog", "ünïcode"]
    doc = {
        "images": [{"id": 1, "file_name": "img.jpg", "width": width, "height": height}],
        "annotations": [
            {"id": n, "image_id": 1, "category_id": categories.index(label), "iscrowd": 0, "bbox": [x, y, w, h]}
            for n, (label, x, y, w, h) in enumerate(source)
        ],
        "categories": [{"id": n, "name": name} for n, name in enumerate(categories)],
    }
    path = image_dir / "coco.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (rec,) = COCO(COCO.parse_options({"path": str(path)})).records()
    # The reader keeps COCO's numbers exactly: (x, y, x + w, y + h).
    assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in rec.boxes] == [
        (label, x, y, x + w, y + h) for label, x, y, w, h in source]
    result = VOC(VOC.parse_options({})).encode(rec)
    inside = []
    for label, x, y, w, h in source:
        x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)
        if x1 < x2 and y1 < y2:
            inside.append((label, x1, y1, x2, y2))
    if not inside:
        assert result is None
        return
    assert result is not None
    written = objects(result.data)
    assert [o[0] for o in written] == [b[0] for b in inside]
    for (_, *text, _), (_, x1, y1, x2, y2) in zip(written, inside, strict=False):
        xmin, ymin, xmax, ymax = (int(v) for v in text)
        assert 0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height
        # Contains the clipped source box (up to SNAP) and is at most one pixel larger per side.
        assert xmin <= x1 + SNAP and ymin <= y1 + SNAP and xmax >= x2 - SNAP and ymax >= y2 - SNAP
        assert xmin + 1 > x1 and ymin + 1 > y1 and xmax - 1 < x2 and ymax - 1 < y2
        assert (xmin, xmax) == (math.floor(x1 + SNAP), math.ceil(x2 - SNAP)) or x2 - x1 < 2 * SNAP
