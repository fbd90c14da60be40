"""Each shipped example config, run for real against the embedded local server.

The server must end up holding exactly the images, categories and boxes the reader and
the encoder produce, each image once, with the dataset unlocked.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from osai_import.check.stream import run_check
from osai_import.config.resolve import prepare
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.run.context import RunOptions
from osai_import.run.runner import run
from osai_import.source.voc import parse_voc
from tests.run.support import stored
from tests.support import CONFIGS, LEFT_BY_RUNS

EXAMPLES = sorted(p.name for p in CONFIGS.glob("*.yaml"))


def _expected(config: Path) -> dict[str, tuple[str | None, list[tuple[object, ...]]]]:
    resolved, _ = prepare(config)
    encoder = resolved.encoder()
    expected: dict[str, tuple[str | None, list[tuple[object, ...]]]] = {}

    def keep(item: object) -> None:
        if not item.ok:  # type: ignore[attr-defined]
            return
        record = item.record  # type: ignore[attr-defined]
        annotation = encoder.encode(record)
        objects = []
        if annotation is not None:
            parsed = parse_voc(annotation.data, source=record.key)
            objects = sorted(
                (b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in parsed.boxes
            )
        expected[record.name] = (record.category, objects)

    run_check(lambda: resolved.reader().records(), resolved.config.check, on_item=keep)
    return expected


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_config_stores_exactly_what_the_source_holds(tmp_path: Path, name: str) -> None:
    shutil.copytree(CONFIGS, tmp_path / "configs", ignore=LEFT_BY_RUNS)
    config = tmp_path / "configs" / name
    expected = _expected(config)
    assert expected, f"{name} reads no image"

    resolved, _ = prepare(config)
    report = run(resolved, RunOptions(quiet=True), Console(file=None, quiet=True))
    assert report.exit_code == 0, report.to_dict()
    assert report.uploaded == len(expected)

    with LocalServer(EmulatorSettings(data_dir=tmp_path / "configs" / ".osai-local")) as server:
        data = stored(server, report.dataset_id)
    assert data["locked"] is False
    assert data["duplicates"] == 0
    names = Counter(image["name"] for image in data["images"])
    assert names == Counter(expected.keys()), "each planned image stored exactly once"
    categories = {c["id"]: c["name"] for c in data["categories"]}
    for image in data["images"]:
        category, objects = expected[image["name"]]
        got_category = categories.get(image["classifyCategoryId"]) if image["classifyCategoryId"] is not None else None
        assert got_category == category, image["name"]
        got = sorted(
            (o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"]) for o in image["objects"]
        )
        assert got == objects, image["name"]
        if objects:
            assert image["annotationType"] == 0, image["name"]


def test_quickstart_numbers(tmp_path: Path) -> None:
    shutil.copytree(CONFIGS, tmp_path / "configs", ignore=LEFT_BY_RUNS)
    resolved, _ = prepare(tmp_path / "configs" / "quickstart.yaml")
    report = run(resolved, RunOptions(quiet=True), Console(quiet=True))
    assert (report.uploaded, report.exit_code) == (12, 0)
    with LocalServer(EmulatorSettings(data_dir=tmp_path / "configs" / ".osai-local")) as server:
        data = stored(server, report.dataset_id)
    assert sorted(c["name"] for c in data["categories"]) == ["apple", "lemon", "orange"]
    assert sum(len(i["objects"]) for i in data["images"]) == 19
    assert sum(1 for i in data["images"] if i["objects"]) == 9

    # A second run resumes from the journal: nothing sent again, nothing created again.
    again = run(resolved, RunOptions(quiet=True), Console(quiet=True))
    assert (again.uploaded, again.already_uploaded, again.exit_code) == (0, 12, 0)
    assert again.dataset_id == report.dataset_id and again.categories_created == []
