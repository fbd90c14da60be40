"""An image is known on the server by its name and bytes (and annotation), never by a reader's key.

Re-exports that renumber ids, splits that reuse them, several configs feeding one dataset:
every image must end up stored once, what is there already is passed over, and what would
need replacing (OSAI's API cannot replace an image) is named with the truth.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from osai_import.default_plugins.coco_reader.reader import CocoReader
from osai_import.emulator import LocalServer
from osai_import.records import ImageRecord
from osai_import.upload.resume import legacy_fingerprint
from tests.reliability.support import (
    TOKEN,
    assert_complete,
    datasets,
    hold,
    kill,
    remote_config,
    run_cli,
    start_cli,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset
from tests.support import CONFIGS, REALDATA, make_image


def write_coco(path: Path, images: list[tuple[int, str, int, int]], seed: int) -> None:
    """Write a COCO file for ``(id, file_name, width, height)`` images, one box each.

    Each image's box depends on its name and ``seed`` only, so a re-export that renumbers
    and reorders the images keeps every box.
    """
    doc: dict[str, Any] = {
        "images": [{"id": i, "file_name": name, "width": w, "height": h}
                   for i, name, w, h in images],
        "categories": [{"id": 7, "name": "thing"}],
        "annotations": [],
    }
    for n, (image_id, name, w, h) in enumerate(images):
        rng = random.Random(f"{seed}:{name}")
        x, y = rng.randrange(w // 2), rng.randrange(h // 2)
        doc["annotations"].append({"id": 1000 + n, "image_id": image_id, "category_id": 7,
                                   "bbox": [x, y, w // 3, h // 3], "iscrowd": 0})
    path.write_text(json.dumps(doc), encoding="utf-8")


def coco_config(folder: Path, url: str, annotations: str, name: str = "identity",
                **upload: Any) -> Path:
    data = {
        "dataset": {"name": name},
        "source": {"type": "coco", "path": annotations, "images": "images"},
        "server": {"url": url, "timeout": 10},
        "upload": {"workers": 2, "chunk_images": 5, "backoff": 0.02, **upload},
    }
    path = folder / f"{Path(annotations).stem}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_reexport_with_renumbered_ids_after_an_interrupted_run_sends_each_image_once(
    tmp_path: Path, server: LocalServer
) -> None:
    images = []
    for n in range(60):
        w, h = 30 + n % 7, 20 + n % 5
        make_image(tmp_path / "images" / f"photo_{n:03d}.jpg", w, h, (n * 4 % 256, 90, 30))
        images.append((n + 1, f"photo_{n:03d}.jpg", w, h))
    write_coco(tmp_path / "export.json", images, seed=1)
    config = coco_config(tmp_path, server.base_url, "export.json")
    # The first run stops (killed) after some chunks were stored.
    with hold(server, "upload_chunk", nth=5) as gate:
        proc = start_cli(config)
        wait_until("four chunks are stored", gate.entered.is_set, proc)
        kill(proc)
    dataset_id = datasets(server)[0]["id"]
    before = {i["name"] for i in stored(server, dataset_id)["images"]}
    assert 0 < len(before) < 60
    # The export is made again: other ids, another order, the same images and boxes.
    renumbered = [(500 - i, name, w, h) for i, name, w, h in images]
    random.Random(2).shuffle(renumbered)
    write_coco(tmp_path / "export.json", renumbered, seed=1)
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert again.report["counts"]["changed_since_upload"] == 0
    # Every image stored before is passed over, or, when its answer was still on its way
    # at the kill, sent again and flagged.
    flagged = {row["name"] for row in again.report["possibly_duplicated"]}
    assert again.report["counts"]["already_uploaded"] == len(before - flagged)
    assert_complete(server, again.report, [name for _i, name, _w, _h in images])


def test_splits_that_reuse_ids_go_into_one_dataset(tmp_path: Path, server: LocalServer) -> None:
    export = tmp_path / "export"
    shutil.copytree(REALDATA / "datumaro_roboflow_coco", export)
    configs = []
    for split in ("train", "val"):
        data = {
            "dataset": {"name": "roboflow"},
            "source": {"type": "coco", "path": f"export/{split}/_annotations.coco.json"},
            "server": {"url": server.base_url},
        }
        path = tmp_path / f"{split}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        configs.append(path)
    results = [run_cli(config) for config in configs]
    for result in results:
        result.assert_clean()
        assert result.returncode == 0, result.stderr
    [dataset] = datasets(server)
    names = Counter(i["name"] for i in stored(server, dataset["id"])["images"])
    assert names == Counter({"train_001.jpg": 1, "train_002.jpg": 1, "val_001.jpg": 1})
    # Run again, both: nothing to send, nothing said to have changed.
    for config in configs:
        rerun = run_cli(config)
        assert rerun.returncode == 0 and rerun.report is not None
        assert rerun.report["counts"]["uploaded"] == 0
        assert rerun.report["counts"]["changed_since_upload"] == 0


def test_same_name_other_bytes_is_named_with_the_truth_and_not_sent(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 6, boxes=False)
    config = remote_config(tmp_path, server.base_url)
    first = run_cli(config)
    assert first.returncode == 0
    # Another photo under the same name, and a box added to another image.
    make_image(tmp_path / "data" / "class_1" / "img_00001.jpg", 25, 17, (1, 2, 3))  # same size
    (tmp_path / "data" / "class_2" / "img_00002.xml").write_text(
        "<annotation><object><name>thing</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
    )
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 1
    assert again.report is not None
    changed = {c["name"]: c["what"] for c in again.report["changed_since_upload"]}
    assert changed == {"img_00001.jpg": "bytes", "img_00002.jpg": "annotation"}
    assert "already holds an image named 'img_00001.jpg' with other bytes" in again.stderr
    assert "has no call to replace or delete an image" in again.stderr
    assert "Rename the file to upload it as another image" in again.stderr
    held = Counter(i["name"] for i in stored(server, first.report["dataset"]["id"])["images"])
    assert held == Counter(names), "nothing was sent twice"


def test_a_touched_file_with_the_same_bytes_is_already_uploaded(
    tmp_path: Path, server: LocalServer
) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url)
    assert run_cli(config).returncode == 0
    touched = tmp_path / "data" / "class_0" / "img_00000.jpg"
    os.utime(touched, ns=(1_000_000_000, 1_000_000_000))
    moved = tmp_path / "data" / "class_0" / "img_00003.jpg"
    data = moved.read_bytes()
    moved.unlink()
    moved.write_bytes(data)  # a new inode, the same bytes
    again = run_cli(config)
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert again.report["counts"]["already_uploaded"] == 6
    assert again.report["counts"]["uploaded"] == again.report["counts"]["changed_since_upload"] == 0


def test_removed_files_are_reported_as_no_longer_in_the_source(
    tmp_path: Path, server: LocalServer
) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url)
    assert run_cli(config).returncode == 0
    (tmp_path / "data" / "class_1" / "img_00004.jpg").unlink()
    again = run_cli(config)
    assert again.returncode == 0 and again.report is not None
    assert [r["name"] for r in again.report["missing_from_source"]] == ["img_00004.jpg"]
    assert "img_00004.jpg (class_1/img_00004.jpg): sent by an earlier run" in again.stderr


def test_two_configs_sharing_a_journal_fill_one_dataset_exactly(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 9)
    shutil.copytree(tmp_path / "data", tmp_path / "more")  # the same 9 images, and 3 more
    for n in range(9, 12):
        make_image(tmp_path / "more" / "class_0" / f"img_{n:05d}.jpg", 20, 20, (n, 9, 9))
    one = remote_config(tmp_path, server.base_url, name="shared")
    other = tmp_path / "other.yaml"
    data = yaml.safe_load(one.read_text())
    data["source"]["path"] = "more"
    other.write_text(yaml.safe_dump(data))
    first = run_cli(one)
    second = run_cli(other)
    assert first.returncode == second.returncode == 0, second.stderr
    assert second.report is not None
    assert second.report["counts"]["already_uploaded"] == 9
    assert second.report["counts"]["uploaded"] == 3
    [dataset] = datasets(server)
    held = Counter(i["name"] for i in stored(server, dataset["id"])["images"])
    assert set(held) == {f"img_{n:05d}.jpg" for n in range(12)} and max(held.values()) == 1
    assert set(names) < set(held)


def _as_0_1_journal(folder: Path, dataset_id: Any,
                    items: list[tuple[str, ImageRecord, str]]) -> None:
    """Rewrite ``folder``'s journal as osai-import 0.1 kept it: ``(key, record, state)``
    items keyed by the reader's key, with 0.1's fingerprint of each record's file."""
    db = sqlite3.connect(folder / ".osai-import" / "journal.sqlite")
    server_id = db.execute("SELECT server FROM datasets").fetchone()[0]
    db.executescript(
        "DROP TABLE images; DROP TABLE intents; DROP TABLE runs; PRAGMA user_version=0;"
        "CREATE TABLE items (server TEXT NOT NULL, dataset_id TEXT NOT NULL, key TEXT NOT NULL,"
        " fingerprint TEXT NOT NULL, state TEXT NOT NULL, sha256 TEXT,"
        " PRIMARY KEY (server, dataset_id, key));"
    )
    for key, record, state in items:
        stat = Path(record.path).stat()
        db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, NULL)",
                   (server_id, f"i:{dataset_id}", key,
                    legacy_fingerprint(record, stat.st_size, stat.st_mtime_ns), state))
    db.commit()
    db.close()


def test_a_journal_of_version_0_1_is_read_and_nothing_is_sent_twice(
    tmp_path: Path, server: LocalServer
) -> None:
    make_folder_dataset(tmp_path / "data", 8, boxes=False)
    config = remote_config(tmp_path, server.base_url)
    first = run_cli(config)
    assert first.returncode == 0 and first.report is not None
    dataset_id = first.report["dataset"]["id"]
    # Rewrite the journal as osai-import 0.1 kept it: six acknowledged, one sent without
    # an answer, one unknown.
    items = []
    for n in range(7):
        key = f"class_{n % 3}/img_{n:05d}.jpg"
        file = tmp_path / "data" / key
        items.append((key, ImageRecord(key, file, file.name, category=f"class_{n % 3}"),
                      "acked" if n < 6 else "sent"))
    _as_0_1_journal(tmp_path, dataset_id, items)
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    counts = again.report["counts"]
    assert counts["already_uploaded"] == 6
    # The item 0.1 sent without an answer goes again, flagged; the unknown one goes too.
    assert counts["uploaded"] == 2
    assert [r["name"] for r in again.report["possibly_duplicated"]] == ["img_00006.jpg"]
    held = Counter(i["name"] for i in stored(server, dataset_id)["images"])
    # What 0.1 acknowledged is not sent again; what it did not know is (this journal was
    # rewritten to forget it, so the server holds it twice, as it would after such a run).
    assert [held[f"img_{n:05d}.jpg"] for n in range(8)] == [1, 1, 1, 1, 1, 1, 2, 2]


def test_a_0_1_journal_of_a_coco_source_keyed_by_image_id_is_still_read(
    tmp_path: Path, server: LocalServer
) -> None:
    # COCO items are keyed by their file now; osai-import 0.1 keyed them by image id.
    shutil.copytree(CONFIGS / "examples" / "coco", tmp_path / "coco")
    source = {"type": "coco", "path": "coco/annotations.json", "images": "coco/images"}
    config = remote_config(tmp_path, server.base_url, source=source)
    first = run_cli(config)
    assert first.returncode == 0 and first.report is not None
    dataset_id = first.report["dataset"]["id"]
    options = {k: v for k, v in source.items() if k != "type"}
    coco = CocoReader(CocoReader.parse_options(options, tmp_path))
    _as_0_1_journal(tmp_path, dataset_id, [
        (str(record.extras["coco_image_id"]), record, "acked") for record in coco.records()])
    again = run_cli(config)
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert again.report["counts"]["already_uploaded"] == 4
    assert again.report["counts"]["uploaded"] == 0
    held = Counter(i["name"] for i in stored(server, dataset_id)["images"])
    assert len(held) == 4 and max(held.values()) == 1


def test_flags_stay_in_every_report_until_resolved(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 12)
    config = remote_config(tmp_path, server.base_url, workers=1, chunk_images=4)
    server.settings.lose_rate = 0.5  # half the answers lost: chunks resent, some stored twice
    server.settings.seed = 5
    first = run_cli(config)
    server.settings.lose_rate = 0.0
    assert first.returncode == 0, first.stderr
    assert first.report is not None
    flagged = {r["name"] for r in first.report["possibly_duplicated"]}
    assert first.report["counts"]["possibly_duplicated_new"] == len(flagged) > 0
    later = run_cli(config)
    assert later.report is not None and later.report["counts"]["uploaded"] == 0
    assert {r["name"] for r in later.report["possibly_duplicated"]} == flagged
    assert later.report["counts"]["possibly_duplicated_new"] == 0
    assert "(0 in this run, the rest from earlier runs)" in later.stderr
    data = stored(server, first.report["dataset"]["id"])
    doubled = {name for name, n in Counter(i["name"] for i in data["images"]).items() if n > 1}
    assert doubled <= flagged
    assert all(r["since"].endswith("+00:00") for r in later.report["possibly_duplicated"])
    # The user checks them in the web app, then tells the journal, one or all.
    first_name = min(flagged)
    settled = resolve_cli(config, first_name)
    assert settled.returncode == 0 and "1 image(s) of dataset 1 settled" in settled.stderr
    after = run_cli(config)
    assert after.report is not None
    assert {r["name"] for r in after.report["possibly_duplicated"]} == flagged - {first_name}
    wrong = resolve_cli(config, "no-such-image.jpg")
    assert wrong.returncode == 2 and "not among the unsettled images" in wrong.stderr
    assert resolve_cli(config, "--all").returncode == 0
    clean = run_cli(config)
    assert clean.report is not None and clean.report["possibly_duplicated"] == []


def resolve_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``osai-import resolve CONFIG ARGS``."""
    env = {**os.environ, "OSAI_TOKEN": TOKEN, "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "osai_import", "resolve", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
