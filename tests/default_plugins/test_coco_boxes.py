"""The `coco` reader's box store and records built by slot equal what the constructors make."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from types import MappingProxyType

import pytest

from osai_import.default_plugins.coco_reader import boxes as boxes_module
from osai_import.default_plugins.coco_reader import slots
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, BoxStore, store_key
from osai_import.records import Box, ImageRecord

NAMES = ["cat", "dog", "bird"]


def filled() -> BoxStore:
    """A store fed one box at a time and in batches, interleaved, under int and str ids."""
    store = BoxStore()
    store.add("12", 0, (1.5, 2.0, 3.25, 4.0), 0)
    store.add("x", 2, (0.0, 0.0, 1.0, 1.0), 0)
    last = store.last
    prev = [last.get(12, -1), -1]
    last[12], last["y"] = 2, 3
    store.extend(prev, [1, 0], ([0.0, 9.0], [-1.0, 9.0], [1e300, 10.0], [5.5, 10.5]),
                 bytes([DIFFICULT, 0]))
    store.add("12", 2, (7.0, 8.0, 9.0, 10.0), DIFFICULT)
    return store


EXPECTED = (Box("cat", 1.5, 2.0, 3.25, 4.0), Box("dog", 0.0, -1.0, 1e300, 5.5, difficult=True),
            Box("bird", 7.0, 8.0, 9.0, 10.0, difficult=True))


def test_boxes_come_back_in_file_order_equal_to_constructed_ones() -> None:
    assert slots.BOX_SETTERS is not None  # Box is as expected: boxes are built by slot
    store = filled()
    assert len(store) == 5
    built = store.pop(12, NAMES)
    assert built == EXPECTED and all(type(box) is Box for box in built)
    assert [dataclasses.asdict(b) for b in built] == [dataclasses.asdict(b) for b in EXPECTED]
    assert pickle.loads(pickle.dumps(built)) == built and {*built} == {*EXPECTED}
    assert store.pop("12", NAMES) == () and store.pop(404, NAMES) == ()
    assert store.leftovers() == {"x": 1, "y": 1}
    assert store.pop("y", NAMES) == (Box("cat", 9.0, 9.0, 10.0, 10.5),)


def test_the_constructor_is_used_when_box_is_not_as_expected(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boxes_module, "BOX_SETTERS", None)
    assert filled().pop("12", NAMES) == EXPECTED


def test_store_keys_match_ids_as_their_text_does() -> None:
    assert [store_key(k) for k in (12, "12", -5, "-5")] == [12, 12, -5, -5]
    for text in ("012", "-0", " 1", "1 ", "1_0", "\u0663", "+1", "x", "", "1.0"):
        assert store_key(text) == text


@pytest.mark.parametrize("by_slot", [True, False])
def test_records_built_by_slot_equal_constructed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_slot: bool
) -> None:
    if by_slot:
        assert slots.RECORD_SETTERS is not None
    else:
        monkeypatch.setattr(slots, "RECORD_SETTERS", None)
    extras = MappingProxyType({"coco_image_id": 7, "file_name": "a/b.jpg", "legacy_key": "7"})
    built = slots.plain_record("a/b.jpg", tmp_path / "a/b.jpg", "b.jpg", "cat", EXPECTED, 640,
                               None, extras)
    made = ImageRecord(key="a/b.jpg", path=tmp_path / "a/b.jpg", name="b.jpg", category="cat",
                       boxes=EXPECTED, width=640, extras=dict(extras))
    assert built == made and type(built) is ImageRecord
    assert pickle.loads(pickle.dumps(built)) == made and built.labels == {"cat", "dog", "bird"}


def test_a_class_unlike_the_expected_one_gets_no_setters() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Other:
        label: str
        xmin: float = 0.0

    assert slots.slot_setters(Other, {"label": None, "xmin": 0.0}) is None  # label required
    assert slots.slot_setters(Other, {"label": slots._REQUIRED, "xmin": 1.0}) is None
    assert slots.slot_setters(Other, {"label": slots._REQUIRED}) is None
    assert slots.slot_setters(Other, {"label": slots._REQUIRED, "xmin": 0.0}) is not None
