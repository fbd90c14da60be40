"""Bad items during a run: skipped at planning, or refused by the server and isolated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from osai_import.config.resolve import prepare
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.plugin.manager import build_plugins
from osai_import.records import ImageRecord
from osai_import.run.context import RunOptions
from osai_import.run.runner import run
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal
from osai_import.upload.session import UploadSession
from osai_import.upload.uploader import Item, Tally, Uploader
from tests.run.support import TOKEN, make_folder_dataset, stored, write_config
from tests.support import make_image

BAD_ENCODER = '''
from osai_import import Annotation, Encoder, hookimpl

class Sloppy(Encoder):
    """Write a VOC file whose box is inside out for images named *_00007.jpg."""
    name = "sloppy"
    def encode(self, record):
        xmin, xmax = (9, 2) if record.name.endswith("_00007.jpg") else (2, 9)
        xml = (f"<annotation><filename>{record.name}</filename><object><name>x</name>"
               f"<bndbox><xmin>{xmin}</xmin><ymin>1</ymin><xmax>{xmax}</xmax><ymax>5</ymax>"
               "</bndbox></object></annotation>")
        return Annotation(0, xml.encode())

@hookimpl
def register_encoders(register):
    register(Sloppy)
'''


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with LocalServer(EmulatorSettings(data_dir=tmp_path / "server", token=TOKEN)) as running:
        yield running


def test_corrupt_image_is_skipped_named_and_the_rest_stored(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 20)
    bad = tmp_path / "data" / "class_1" / "img_00004.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)  # a JPEG cut after its first bytes
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    resolved, _ = prepare(config)
    result = run(resolved, RunOptions(quiet=True, report=tmp_path / "r.json"), Console(quiet=True))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 1
    assert report["counts"]["uploaded"] == 19 and report["counts"]["skipped"] == 1
    [problem] = [p for p in report["problems"] if p["severity"] == "error"]
    assert problem["item"] == "class_1/img_00004.jpg"
    data = stored(server, report["dataset"]["id"])
    assert len(data["images"]) == 19 and "img_00004.jpg" not in {i["name"] for i in data["images"]}
    assert data["locked"] is False


def test_image_the_server_refuses_is_isolated_and_named(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 30, boxes=False)
    (tmp_path / "sloppy.py").write_text(BAD_ENCODER)
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(
        tmp_path / "c.yaml",
        server={"url": server.base_url},
        annotations={"type": "sloppy"},
        plugins=["./sloppy.py"],
        upload={"chunk_images": 16},
    )
    resolved, _ = prepare(config)
    result = run(resolved, RunOptions(quiet=True, report=tmp_path / "r.json"), Console(quiet=True))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 1
    assert report["counts"]["uploaded"] == 29
    [failed] = report["failed"]
    assert failed["item"] == "class_1/img_00007.jpg"
    assert "xmin" in failed["reason"] and "server.rejected" in failed["reason"]
    data = stored(server, report["dataset"]["id"])
    assert len(data["images"]) == 29 and data["duplicates"] == 0


def test_corrupt_file_inside_a_chunk_is_bisected_out(tmp_path: Path, server: LocalServer) -> None:
    # The file breaks after planning (as when a disk or a sync tool changes it): the
    # server's 400 must cost only that image.
    records = []
    for n in range(12):
        path = make_image(tmp_path / f"{n}.jpg", 20, 20)
        records.append(ImageRecord(f"{n}.jpg", path, f"{n}.jpg", width=20, height=20, depth=3))
    (tmp_path / "5.jpg").write_bytes(b"\xff\xd8\xff" + b"garbage" * 10)
    client = OsaiClient(server.base_url, TOKEN)
    journal = Journal(tmp_path / "journal")
    dataset_id = client.create_dataset("chunk").id
    session = UploadSession(client, journal, "test", dataset_id)
    session.start()
    tally = Tally()
    encoder = build_plugins(entry_points=False).encoders.get("none").cls(None)  # type: ignore[arg-type]
    uploader = Uploader(client, session, encoder, journal, {}, tally,
                        skip_unsupported=False, on_done=lambda *a: None)
    uploader.send([Item(r, r.path.stat().st_size, None, "fp") for r in records])
    session.finish()
    assert tally.uploaded == 11
    assert list(tally.failed) == ["5.jpg"]
    assert "server.rejected" in tally.failed["5.jpg"]
    data = stored(server, dataset_id)
    assert sorted(i["name"] for i in data["images"]) == sorted(f"{n}.jpg" for n in range(12) if n != 5)
    assert data["locked"] is False
