"""The `coco` reader's box store and records built by slot equal what the constructors make."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osai_import.default_plugins.coco_reader import boxes as boxes_module
from osai_import.default_plugins.coco_reader import slots
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, BoxStore, store_key
from osai_import.records import Box, ImageRecord

NAMES = ["cat", "dog", "bird"]


def filled() -> BoxStore:
    """A store fed one box at a time and in batches, interleaved, under int and str ids;
    a batch holds two boxes of one image (linked in order within the batch)."""
    store = BoxStore()
    store.add("12", 0, (1.5, 2.0, 3.25, 4.0), 0)
    store.add("x", 2, (0.0, 0.0, 1.0, 1.0), 0)
    store.extend([12, "y", 12], [2 * 1 + DIFFICULT, 2 * 0, 2 * 2],
                 [0.0, -1.0, 1e300, 5.5, 9.0, 9.0, 10.0, 10.5, -2.0, 0.5, 3.0, 4.0])
    store.extend([], [], [])
    store.add("12", 2, (7.0, 8.0, 9.0, 10.0), DIFFICULT)
    return store


EXPECTED = (Box("cat", 1.5, 2.0, 3.25, 4.0), Box("dog", 0.0, -1.0, 1e300, 5.5, difficult=True),
            Box("bird", -2.0, 0.5, 3.0, 4.0), Box("bird", 7.0, 8.0, 9.0, 10.0, difficult=True))


def test_boxes_come_back_in_file_order_equal_to_constructed_ones() -> None:
    assert slots.BOX_TWIN is not None  # Box is as expected: boxes are built by slot
    store = filled()
    assert len(store) == 6
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
    monkeypatch.setattr(boxes_module, "BOX_TWIN", None)
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
        assert slots.RECORD_TWIN is not None
    else:
        monkeypatch.setattr(slots, "RECORD_TWIN", None)
    extras = MappingProxyType({"coco_image_id": 7, "file_name": "a/b.jpg", "legacy_key": "7"})
    built = slots.plain_record("a/b.jpg", tmp_path / "a/b.jpg", "b.jpg", "cat", EXPECTED, 640,
                               None, extras)
    made = ImageRecord(key="a/b.jpg", path=tmp_path / "a/b.jpg", name="b.jpg", category="cat",
                       boxes=EXPECTED, width=640, extras=dict(extras))
    assert built == made and type(built) is ImageRecord
    assert pickle.loads(pickle.dumps(built)) == made and built.labels == {"cat", "dog", "bird"}


def test_a_class_unlike_the_expected_one_gets_no_twin() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Other:
        label: str
        xmin: float = 0.0

    probe = {"label": "a", "xmin": 0.5}
    assert slots.slot_twin(Other, {"label": None, "xmin": 0.0}, probe) is None  # label required
    assert slots.slot_twin(Other, {"label": slots._REQUIRED, "xmin": 1.0}, probe) is None
    assert slots.slot_twin(Other, {"label": slots._REQUIRED}, probe) is None
    twin = slots.slot_twin(Other, {"label": slots._REQUIRED, "xmin": 0.0}, probe)
    assert twin is not None
    made = twin()
    made.label, made.xmin = "b", 2.0
    made.__class__ = Other
    assert type(made) is Other and made == Other("b", 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.xmin = 3.0  # type: ignore[misc]

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        label: str

    assert slots.slot_twin(Unslotted, {"label": slots._REQUIRED}, {"label": "a"}) is None

    @dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
    class Weak:  # one more slot than its fields: another layout
        label: str

    assert slots.slot_twin(Weak, {"label": slots._REQUIRED}, {"label": "a"}) is None


def test_a_twin_whose_probe_differs_from_the_constructor_is_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Converting:
        label: str

        def __post_init__(self) -> None:
            object.__setattr__(self, "label", self.label.upper())

    assert slots.slot_twin(Converting, {"label": slots._REQUIRED}, {"label": "a"}) is None


_ONE = st.tuples(st.sampled_from([0, 1, 2, 3, 7, 300, 10**12, -5, "x", "12", "-0"]),
                 st.integers(0, 2), st.booleans(),
                 st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=4, max_size=4))


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.tuples(st.booleans(), st.lists(_ONE, max_size=12)), max_size=8),
       floor=st.sampled_from([1, 4, 1 << 16]), popped=st.sets(st.sampled_from([0, 3, 300, "x"])))
def test_the_store_gives_back_what_it_was_given_per_image_in_order(
    batches: list[tuple[bool, list[tuple[int | str, int, bool, list[float]]]]], floor: int,
    popped: set[int | str]
) -> None:
    # A small floor makes the table of integer keys grow while boxes come (and take over
    # keys the dict held); keys it cannot cover (too large, negative, text) stay in the dict.
    original = boxes_module._TABLE_FLOOR
    boxes_module._TABLE_FLOOR = floor
    try:
        store, expected = BoxStore(), {}
        for one_at_a_time, boxes in batches:
            for image, label, difficult, corners in boxes:
                expected.setdefault(store_key(image), []).append(
                    Box(NAMES[label], *corners, difficult=difficult))
                if one_at_a_time:
                    store.add(str(image), label, (corners[0], corners[1], corners[2], corners[3]),
                              DIFFICULT if difficult else 0)
            if not one_at_a_time:
                store.extend([store_key(image) for image, _, _, _ in boxes],
                             [2 * label + (DIFFICULT if difficult else 0)
                              for _, label, difficult, _ in boxes],
                             [number for _, _, _, corners in boxes for number in corners])
    finally:
        boxes_module._TABLE_FLOOR = original
    assert len(store) == sum(map(len, expected.values()))
    for key in popped:
        assert store.pop(key, NAMES) == tuple(expected.pop(key, ()))
    # In the order of their first box: the order the images were first met in the file.
    assert list(store.leftovers().items()) == [(str(key), len(boxes))
                                               for key, boxes in expected.items()]
    for key, boxes in expected.items():
        assert store.pop(key, NAMES) == tuple(boxes)
        assert store.pop(key, NAMES) == ()
    assert store.leftovers() == {}
