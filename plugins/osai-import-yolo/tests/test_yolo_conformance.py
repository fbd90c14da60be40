"""The yolo reader against osai-import's reader conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osai_import.testing import BrokenSource, ReaderConformance, make_image
from osai_import_yolo import YoloReader


def write_sample(root: Path) -> Path:
    """Write a small images/ + labels/ dataset with two splits and a names file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "obj.names").write_text("cat\ndog\n", encoding="utf-8")
    for split, stem, size, lines in [
        ("train", "a", (40, 20), "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.1 0.2\n"),
        ("train", "b", (30, 30), "1 0.5 0.5 1.0 1.0\n"),
        ("train", "c", (16, 16), None),
        ("val", "a", (20, 40), "0 0.1 0.9 0.2 0.2\n"),
    ]:
        make_image(root / "images" / split / f"{stem}.jpg", *size)
        if lines is not None:
            label = root / "labels" / split / f"{stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(lines, encoding="utf-8")
    return root


class TestYoloConformance(ReaderConformance):
    reader_class = YoloReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(write_sample(tmp_path / "yolo"))}

    @pytest.fixture(params=["bad line", "unknown class", "far outside"])
    def broken_source(self, request: pytest.FixtureRequest, tmp_path: Path) -> BrokenSource:
        root = write_sample(tmp_path / "broken")
        text = {
            "bad line": "0 0.5 0.5 0.5\n",
            "unknown class": "7 0.5 0.5 0.2 0.2\n",
            "far outside": "0 1.5 0.5 0.5 0.5\n",
        }[request.param]
        (root / "labels" / "val" / "a.txt").write_text(text, encoding="utf-8")
        return BrokenSource({"path": str(root)}, "labels/val/a.txt:1")
