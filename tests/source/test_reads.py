"""Several sources read as one stream: keys and problems keep their source's label."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from osai_import.plugin.base import Reader
from osai_import.records import ImageRecord, Problem, Severity
from osai_import.source.reads import NamedSource, SourceReads


class _Split(Reader):
    """Yield two images keyed 1 and 2, as every split of an export numbers them."""

    name = "split"

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def records(self) -> Iterator[ImageRecord]:
        for key in ("1", "2"):
            problems = (Problem("coco.note", Severity.WARNING, "a note", key),) if key == "2" else ()
            yield ImageRecord(key, Path(self.folder) / f"{key}.jpg", f"{self.folder}_{key}.jpg",
                              problems=problems)

    def source_problems(self) -> Sequence[Problem]:
        return [Problem("coco.orphan", Severity.WARNING, "an annotation for image 9", "9")]


def test_one_source_keeps_its_keys() -> None:
    reads = SourceReads([NamedSource("train", lambda: _Split("train"))])
    assert [r.key for r in reads.records()] == ["1", "2"]
    assert [p.item for p in reads.source_problems()] == ["9"]


def test_several_sources_prefix_keys_and_problems_with_their_label() -> None:
    reads = SourceReads([NamedSource("train", lambda: _Split("train")),
                         NamedSource("valid", lambda: _Split("valid"))])
    records = list(reads.records())
    assert [r.key for r in records] == ["train:1", "train:2", "valid:1", "valid:2"]
    assert [r.name for r in records] == ["train_1.jpg", "train_2.jpg", "valid_1.jpg",
                                         "valid_2.jpg"]
    assert [p.item for r in records for p in r.problems] == ["train:2", "valid:2"]
    assert [p.item for p in reads.source_problems()] == ["train:9", "valid:9"]
