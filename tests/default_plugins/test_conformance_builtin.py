"""The built-in readers against the reader conformance suite, like any plugin's reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from osai_import.default_plugins.coco_reader.reader import CocoReader
from osai_import.default_plugins.csv_reader.reader import CsvReader
from osai_import.default_plugins.folder_reader.reader import FolderReader
from osai_import.testing import BrokenSource, ReaderConformance
from tests.support import CONFIGS

EXAMPLES = CONFIGS / "examples"


def copy_example(name: str, tmp_path: Path) -> Path:
    """Copy an example dataset of configs/examples, so a test can change it."""
    return shutil.copytree(EXAMPLES / name, tmp_path / name)


class TestFolderConformance(ReaderConformance):
    reader_class = FolderReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(copy_example("folder", tmp_path))}

    @pytest.fixture
    def broken_source(self, tmp_path: Path) -> BrokenSource:
        root = copy_example("folder", tmp_path)
        (root / "dogs" / "dog_01.xml").write_text("<annotation><object>", encoding="utf-8")
        return BrokenSource({"path": str(root)}, "dog_01.xml")


class TestCsvConformance(ReaderConformance):
    reader_class = CsvReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {
            "path": str(copy_example("csv", tmp_path) / "boxes.csv"),
            "category_column": "scene",
        }

    @pytest.fixture
    def broken_source(self, tmp_path: Path) -> BrokenSource:
        manifest = copy_example("csv", tmp_path) / "boxes.csv"
        lines = manifest.read_text(encoding="utf-8").splitlines()
        lines[2] = "images/street_02.jpg,tree,30,ten,70,40,park"
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return BrokenSource({"path": str(manifest), "category_column": "scene"}, "boxes.csv:3")


class TestCocoConformance(ReaderConformance):
    reader_class = CocoReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        root = copy_example("coco", tmp_path)
        return {"path": str(root / "annotations.json"), "images": str(root / "images")}

    @pytest.fixture
    def broken_source(self, tmp_path: Path) -> BrokenSource:
        root = copy_example("coco", tmp_path)
        path = root / "annotations.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["annotations"][2]["bbox"] = [4.0, "thirty", 36.0, 28.0]
        path.write_text(json.dumps(data), encoding="utf-8")
        return BrokenSource({"path": str(path), "images": str(root / "images")}, "103")
