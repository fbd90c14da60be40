"""The summary's counts, against numbers worked out by hand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from osai_import.check.checker import CheckedItem
from osai_import.preview.summary import (
    CheckCounts,
    SourceCounts,
    bucket_name,
    check_problems,
    histogram,
)
from osai_import.records import Box, ImageRecord, Problem, Severity


def _record(key: str, labels: list[str], category: str | None = None,
            size: tuple[int, int] | None = None, problems: tuple[Problem, ...] = ()
            ) -> ImageRecord:
    return ImageRecord(key, Path(f"/nowhere/{key}"), key, category,
                       tuple(Box(label, 0, 0, 1, 1) for label in labels),
                       *(size or (None, None)), problems=problems)


def test_boxes_per_image_fall_in_their_buckets() -> None:
    assert [bucket_name(0, 0), bucket_name(3, 4), bucket_name(129, None)] == ["0", "3\u20134",
                                                                             "129+"]
    per_image = Counter({0: 5, 1: 2, 3: 1, 4: 3, 9: 1, 16: 2})
    assert histogram(per_image) == [("0", 5), ("1", 2), ("2", 0), ("3\u20134", 4),
                                    ("5\u20138", 0), ("9\u201316", 3)]
    assert histogram(Counter({200: 1}))[-1] == ("129+", 1)
    assert histogram(Counter()) == []


def test_the_source_counts_cover_every_record_as_the_check_names_labels() -> None:
    counts = SourceCounts()
    warn = Problem("x.warn", Severity.WARNING, "w", "b")
    fail = Problem("x.fail", Severity.ERROR, "f", "c")
    records = [
        _record("a", ["cat", "dog", " cat "], size=(640, 480)),
        _record("b", [], category="Cafe\u0301 ", size=(640, 480), problems=(warn,)),
        _record("c", ["dog"], category="indoor", problems=(fail, warn)),
        _record("d", ["cat"] * 10, size=(300, 200)),
    ]
    returned = [counts.add(record) for record in records]
    assert returned[0] == (None, ["cat", "dog", "cat"])  # spaces gone, as the check keeps them
    assert returned[1] == ("Caf\u00e9", [])  # NFC
    assert counts.images == 4
    assert counts.categories == Counter({"Caf\u00e9": 1, "indoor": 1})
    assert counts.boxes_by_label == Counter(cat=12, dog=2) and counts.boxes == 14
    assert counts.boxes_per_image == Counter({3: 1, 0: 1, 1: 1, 10: 1})
    assert histogram(counts.boxes_per_image) == [("0", 1), ("1", 1), ("2", 0), ("3\u20134", 1),
                                                 ("5\u20138", 0), ("9\u201316", 1)]
    assert counts.sized == 3 and counts.sizes == Counter({(640, 480): 2, (300, 200): 1})
    assert counts.problems.by_code == Counter({"x.warn": 2, "x.fail": 1})
    assert counts.problems.severity == {"x.warn": "warning", "x.fail": "error"}
    assert counts.problems.total == 3


def test_the_check_counts_leave_the_readers_problems_out(tmp_path: Path) -> None:
    reader = Problem("coco.bad_size", Severity.WARNING, "bad size", "k")
    check = Problem("box.outside", Severity.WARNING, "clipped", "k")
    record = _record("k", ["cat"], size=(10, 10), problems=(reader,))
    item = CheckedItem(record, (reader, check), 100)
    refused = CheckedItem(_record("m", []), (Problem("image.missing", Severity.ERROR, "no",
                                                     "m"),), 0)
    assert check_problems(item) == (check,)
    counts = CheckCounts()
    counts.add(item)
    counts.add(refused)
    assert (counts.checked, counts.ok) == (2, 1)
    assert counts.problems.by_code == Counter({"box.outside": 1, "image.missing": 1})
    assert counts.problems.severity["image.missing"] == "error"
    assert counts.sizes == Counter({(10, 10): 1})
