"""The labelme reader against osai-import's reader conformance suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from labelme_sample import write_sample

from osai_import.testing import BrokenSource, ReaderConformance
from osai_import_labelme import LabelmeReader


class TestLabelmeConformance(ReaderConformance):
    reader_class = LabelmeReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(write_sample(tmp_path / "labelme"))}

    @pytest.fixture(params=["bad json", "bad shape", "no image"])
    def broken_source(self, request: pytest.FixtureRequest, tmp_path: Path) -> BrokenSource:
        root = write_sample(tmp_path / "broken")
        target = root / "sub" / "b.json"
        document = json.loads(target.read_text(encoding="utf-8"))
        if request.param == "bad json":
            target.write_text(json.dumps(document)[:-10], encoding="utf-8")
            return BrokenSource({"path": str(root)}, "sub/b.json:1:")
        if request.param == "bad shape":
            document["shapes"][1]["points"] = [[1, "x"], [2, 3]]
            target.write_text(json.dumps(document), encoding="utf-8")
            return BrokenSource({"path": str(root)}, "sub/b.json: 1 shape cannot be read: "
                                "shapes[1] 'dog' (mask): point 0")
        (root / "sub" / "b.png").unlink()
        return BrokenSource({"path": str(root)}, "sub/b.json: no image")
