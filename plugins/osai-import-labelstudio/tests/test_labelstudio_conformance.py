"""The labelstudio reader against osai-import's reader conformance suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from osai_import.testing import BrokenSource, ReaderConformance, make_image
from osai_import_labelstudio import LabelStudioReader


def rect(rid: str, label: str, x: float, y: float, w: float, h: float,
         size: tuple[int, int]) -> dict[str, Any]:
    """Return a rectanglelabels result as Label Studio writes it."""
    return {
        "id": rid, "type": "rectanglelabels", "from_name": "label", "to_name": "image",
        "original_width": size[0], "original_height": size[1], "image_rotation": 0,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0,
                  "rectanglelabels": [label]},
    }


def task(task_id: int, image: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a task of a full JSON export with one annotation."""
    return {
        "id": task_id, "data": {"image": image},
        "annotations": [{"id": 100 + task_id, "completed_by": 1, "was_cancelled": False,
                         "ground_truth": False, "result": results}],
        "predictions": [],
    }


def write_sample(root: Path) -> Path:
    """Write an export with four tasks (boxes, a polygon, a choice, none) and its images."""
    for name, size in [("a.jpg", (40, 20)), ("b.jpg", (30, 30)), ("c.png", (16, 16)),
                       ("d.jpg", (20, 40))]:
        make_image(root / "images" / name, *size)
    choice = {"id": "c1", "type": "choices", "from_name": "choice", "to_name": "image",
              "value": {"choices": ["outdoor"]}}
    polygon = {"id": "p1", "type": "polygonlabels", "from_name": "poly", "to_name": "image",
               "original_width": 30, "original_height": 30,
               "value": {"points": [[10, 10], [50, 20], [30, 90]], "polygonlabels": ["dog"]}}
    tasks = [
        task(1, "images/a.jpg", [rect("r1", "cat", 25, 25, 50, 50, (40, 20)),
                                 rect("r2", "dog", 0, 0, 10, 20, (40, 20))]),
        task(2, "images/b.jpg", [polygon, choice]),
        task(3, "images/c.png", []),
        task(4, "images/d.jpg", [rect("r3", "cat", 0, 80, 20, 20, (20, 40))]),
    ]
    export = root / "export.json"
    export.write_text(json.dumps(tasks, indent=1), encoding="utf-8")
    return export


class TestLabelStudioConformance(ReaderConformance):
    reader_class = LabelStudioReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(write_sample(tmp_path / "ls"))}

    @pytest.fixture(params=["bad number", "cut file", "outside"])
    def broken_source(self, request: pytest.FixtureRequest, tmp_path: Path) -> BrokenSource:
        export = write_sample(tmp_path / "broken")
        tasks = json.loads(export.read_text(encoding="utf-8"))
        if request.param == "bad number":
            tasks[3]["annotations"][0]["result"][0]["value"]["x"] = "left"
            export.write_text(json.dumps(tasks, indent=1), encoding="utf-8")
            return BrokenSource({"path": str(export)}, "task 4, result r3")
        if request.param == "outside":
            tasks[3]["data"]["image"] = "../secret.jpg"
            export.write_text(json.dumps(tasks, indent=1), encoding="utf-8")
            return BrokenSource({"path": str(export)}, "task 4")
        text = export.read_text(encoding="utf-8")
        export.write_text(text[: text.index('"id": 4')], encoding="utf-8")
        return BrokenSource({"path": str(export)}, "export.json: not valid JSON at line")
