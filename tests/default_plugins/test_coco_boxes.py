"""The `coco` reader's box store gives back exactly the Box records the constructor makes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from osai_import.default_plugins.coco_reader import boxes as boxes_module
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, BoxStore, store_key
from osai_import.records import Box

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
    assert boxes_module._SETTERS is not None  # Box is as expected: boxes are built by slot
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
    monkeypatch.setattr(boxes_module, "_SETTERS", None)
    assert filled().pop("12", NAMES) == EXPECTED


def test_store_keys_match_ids_as_their_text_does() -> None:
    assert [store_key(k) for k in (12, "12", -5, "-5")] == [12, 12, -5, -5]
    for text in ("012", "-0", " 1", "1 ", "1_0", "\u0663", "+1", "x", "", "1.0"):
        assert store_key(text) == text
