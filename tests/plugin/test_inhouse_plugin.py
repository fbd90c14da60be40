"""The in-house layout example: a local plugin file loaded by a config's `plugins:`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from osai_import import Reader, Severity
from osai_import.plugin.manager import build_plugins
from osai_import.testing import BrokenSource, OsaiUploader, ReaderConformance, local_server
from tests.support import CONFIGS

PLUGIN = CONFIGS / "inhouse_layout.py"
EXAMPLE = CONFIGS / "examples" / "inhouse"


def inhouse_reader() -> type[Reader]:
    """Return the reader class the local plugin registers, loaded the way a config loads it."""
    return build_plugins([str(PLUGIN)]).readers.get("inhouse-json").cls


def expected_boxes() -> dict[str, list[tuple[Any, ...]]]:
    """Return {image name: sorted (kind, xmin, ymin, xmax, ymax)} from the example's JSON files."""
    out = {}
    for path in sorted(EXAMPLE.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out[doc["image"]["file"]] = sorted(
            (f["kind"], x, y, x + w, y + h) for f in doc["findings"] for x, y, w, h in [f["bbox"]]
        )
    return out


class TestInhouseConformance(ReaderConformance):
    reader_class = inhouse_reader()
    local_plugins = (str(PLUGIN),)

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(shutil.copytree(EXAMPLE, tmp_path / "inhouse"))}

    @pytest.fixture(params=["not json", "no verdict", "bad bbox"])
    def broken_source(self, request: pytest.FixtureRequest, tmp_path: Path) -> BrokenSource:
        root = shutil.copytree(EXAMPLE, tmp_path / "broken")
        target = root / "2024-05-14" / "board-0005.json"
        doc = json.loads(target.read_text(encoding="utf-8"))
        if request.param == "not json":
            target.write_text("{", encoding="utf-8")
        elif request.param == "no verdict":
            del doc["verdict"]
            target.write_text(json.dumps(doc), encoding="utf-8")
        else:
            doc["findings"] = [{"kind": "dent", "bbox": [1, 2, 0, 4]}]
            target.write_text(json.dumps(doc), encoding="utf-8")
        return BrokenSource({"path": str(root)}, "2024-05-14/board-0005.json")


def test_the_example_config_uploads_categories_and_boxes(osai_uploader: OsaiUploader) -> None:
    result = osai_uploader.run_config(CONFIGS / "inhouse.yaml")
    assert result.report.exit_code == 0, result.report.to_dict()
    assert result.boxes() == expected_boxes()
    categories = {c["id"]: c["name"] for c in result.dataset["categories"]}
    verdicts = {image["name"]: categories[image["classifyCategoryId"]] for image in result.images}
    assert verdicts == {
        "board-0001.jpg": "defect",
        "board-0002.jpg": "ok",
        "board-0003.jpg": "defect",
        "board-0004.jpg": "defect",
        "board-0005.jpg": "ok",
        "board-0006.jpg": "defect",
    }
    dent = next(o for i in result.images for o in i["objects"] if o["name"] == "dent")
    assert dent["difficult"] == 1  # an unsure finding


def test_unsure_findings_can_be_left_out() -> None:
    reader = inhouse_reader()
    records = list(reader(reader.parse_options({"path": str(EXAMPLE), "unsure": "skip"})).records())
    assert "dent" not in {b.label for r in records for b in r.boxes}
    assert sum(len(r.boxes) for r in records) == 5


def test_a_bad_file_names_the_field(tmp_path: Path) -> None:
    root = shutil.copytree(EXAMPLE, tmp_path / "inhouse")
    (root / "2024-05-13" / "board-0002.json").write_text(
        '{"schema": "acme-inspect/1"}', encoding="utf-8"
    )
    reader = inhouse_reader()
    records = list(reader(reader.parse_options({"path": str(root)})).records())
    (problem,) = records[1].problems
    assert problem.severity is Severity.ERROR and problem.code == "inhouse.invalid"
    assert problem.message.startswith("2024-05-13/board-0002.json: schema: ")


def test_osai_import_run_loads_the_plugin_file_from_the_config(tmp_path: Path) -> None:
    # A copy, so the run's journal and local server data stay out of the repository.
    for name in ("inhouse.yaml", "inhouse_layout.py"):
        shutil.copy(CONFIGS / name, tmp_path / name)
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "inhouse")
    done = subprocess.run(
        [sys.executable, "-m", "osai_import", "run", str(tmp_path / "inhouse.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with local_server(tmp_path / ".osai-local") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
    assert (listed["name"], listed["images"]) == ("inhouse-inspections", 6)
