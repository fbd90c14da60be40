"""The order of a run's steps under each mode: checking overlapped with the upload (the
default, ``on_problem: skip``), the whole check first (``stop``), and ``--dry-run``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from osai_import import commands
from osai_import.check.checker import CheckedItem
from osai_import.check.plan import Planner
from osai_import.check.stream import _in_order
from osai_import.config.resolve import prepare
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.records import ImageRecord, Problem, Severity
from osai_import.run.context import RunOptions
from osai_import.run.feed import Changed, FeedPlace, PlanWalk, pending_items
from osai_import.run.runner import run
from osai_import.source.files import facts_of, open_image
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.resume import annotation_fingerprint
from tests.run.support import (
    TOKEN,
    datasets,
    make_folder_dataset,
    stored,
    write_config,
)
from tests.support import make_image


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with LocalServer(EmulatorSettings(data_dir=tmp_path / "server", token=TOKEN)) as running:
        yield running


def _run(tmp_path: Path, config: Path, **options: Any) -> dict[str, Any]:
    resolved, _ = prepare(config)
    report_path = tmp_path / "r.json"
    run(resolved, RunOptions(quiet=True, report=report_path, **options), Console(quiet=True))
    result: dict[str, Any] = json.loads(report_path.read_text())
    return result


def _dataset_with_a_lonely_broken_class(root: Path) -> None:
    """Twelve good images in three classes, and a class whose one image is corrupt."""
    make_folder_dataset(root, 12)
    make_image(root / "lonely" / "only.jpg", 20, 20)
    (root / "lonely" / "only.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)


def test_overlapped_check_skips_bad_items_and_creates_categories_first(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dataset_with_a_lonely_broken_class(tmp_path / "data")
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    report = _run(tmp_path, write_config(tmp_path / "c.yaml", server={"url": server.base_url}))
    assert report["exit_code"] == 1
    assert report["counts"]["read"] == 13 and report["counts"]["planned"] == 12
    assert report["counts"]["uploaded"] == 12
    assert report["counts"]["skipped_by_code"] == {"image.unreadable": 1}
    # The category names were taken from the records before any image was opened: the
    # class whose only image is unusable exists on the server, empty (docs/run.md).
    assert "lonely" in report["categories_created"]
    data = stored(server, report["dataset"]["id"])
    assert len(data["images"]) == 12 and data["locked"] is False
    assert {c["name"] for c in data["categories"]} == {"class_0", "class_1", "class_2",
                                                        "thing", "lonely"}


def test_stop_mode_creates_nothing_when_one_item_fails(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dataset_with_a_lonely_broken_class(tmp_path / "data")
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url},
                          upload={"on_problem": "stop"})
    report = _run(tmp_path, config)
    assert report["exit_code"] == 1
    assert report["counts"]["planned"] == 12 and report["counts"]["uploaded"] == 0
    assert any("on_problem is `stop`" in w for w in report["warnings"])
    assert datasets(server) == []


def test_stop_mode_on_a_clean_source_creates_exactly_the_used_categories(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 12)
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url},
                          upload={"on_problem": "stop"})
    report = _run(tmp_path, config)
    assert report["exit_code"] == 0 and report["counts"]["uploaded"] == 12
    assert sorted(report["categories"]) == ["class_0", "class_1", "class_2", "thing"]
    data = stored(server, report["dataset"]["id"])
    assert len(data["images"]) == 12 and data["locked"] is False


def test_stop_mode_reports_a_file_broken_between_check_and_upload(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 12)
    victim = tmp_path / "data" / "class_1" / "img_00004.jpg"
    replay = Planner.replay

    def break_then_replay(self: Planner) -> Any:
        victim.unlink()  # after the whole check passed, before the upload reads it again
        return replay(self)

    monkeypatch.setattr(Planner, "replay", break_then_replay)
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url},
                          upload={"on_problem": "stop"})
    report = _run(tmp_path, config)
    assert report["exit_code"] == 1
    assert report["counts"]["uploaded"] == 11 and report["counts"]["skipped"] == 0
    [failed] = report["failed"]
    assert failed["item"] == "class_1/img_00004.jpg"
    assert "image.missing" in failed["reason"] and "found while uploading" in failed["reason"]
    assert len(stored(server, report["dataset"]["id"])["images"]) == 11


def test_dry_run_checks_everything_and_sends_nothing(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dataset_with_a_lonely_broken_class(tmp_path / "data")
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    report = _run(tmp_path, config, dry_run=True)
    assert report["dry_run"] is True
    assert report["counts"]["planned"] == 12 and report["counts"]["skipped"] == 1
    # The whole check ran first, so only categories of items that passed are planned.
    assert sorted(report["categories"]) == ["class_0", "class_1", "class_2", "thing"]
    assert datasets(server) == []


def _journal_rows(folder: Path) -> list[str]:
    (path,) = folder.rglob("journal.sqlite")
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def test_dry_run_after_a_run_counts_only_what_the_journal_lacks(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 20)
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    first = _run(tmp_path, config)
    assert first["counts"]["uploaded"] == 20
    before = _journal_rows(tmp_path / ".osai-import")
    make_image(tmp_path / "data" / "class_0" / "late.jpg", 20, 20)
    changed = min((tmp_path / "data" / "class_1").glob("*.jpg"))
    make_image(changed, 21, 20)  # other bytes under a name the dataset holds
    plan = _run(tmp_path, config, dry_run=True)
    assert plan["counts"]["planned"] == 1, "only the new image is to upload"
    assert plan["counts"]["already_uploaded"] == 19
    assert [c["item"] for c in plan["changed_since_upload"]] == [
        f"class_1/{changed.name}"]
    assert plan["dataset"]["id"] == first["dataset"]["id"]
    assert _journal_rows(tmp_path / ".osai-import") == before, (
        "a dry run writes nothing to the journal")
    assert len(stored(server, first["dataset"]["id"])["images"]) == 20
    # --restart would start a new dataset: everything is to upload.
    fresh = _run(tmp_path, config, dry_run=True, restart=True)
    assert fresh["counts"]["planned"] == 21 and fresh["counts"]["already_uploaded"] == 0


def test_dry_run_lists_the_category_names(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    console_file = tmp_path / "out.txt"
    monkeypatch.setattr(commands, "_stderr_console",
                        lambda: Console(file=console_file.open("w"), width=200))
    assert commands.run_command(config, RunOptions(dry_run=True)) == 0
    text = console_file.read_text()
    assert "4: class_0, class_1, class_2, thing" in text  # image classes and box labels


def test_a_run_in_which_every_item_fails_creates_nothing(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        make_image(tmp_path / "data" / f"class_{i % 2}" / f"img_{i}.jpg", 20, 20)
        (tmp_path / "data" / f"class_{i % 2}" / f"img_{i}.jpg").write_bytes(b"")
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    report = _run(tmp_path, config)
    assert report["exit_code"] == 1 and report["counts"]["skipped"] == 4
    assert report["dataset"]["id"] is None
    assert datasets(server) == [], "no empty dataset, no unused category"
    assert any("no dataset and no category was created" in n for n in report["notes"])


def test_rerun_sends_only_what_is_missing(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder_dataset(tmp_path / "data", 700)  # more than one batch of journal lookups
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = write_config(tmp_path / "c.yaml", server={"url": server.base_url})
    first = _run(tmp_path, config)
    assert first["counts"]["uploaded"] == 700
    make_image(tmp_path / "data" / "class_0" / "late.jpg", 20, 20)
    second = _run(tmp_path, config)
    assert second["counts"]["already_uploaded"] == 700
    assert second["counts"]["uploaded"] == 1 and second["exit_code"] == 0
    data = stored(server, first["dataset"]["id"])
    assert len(data["images"]) == 701 and data["duplicates"] == 0


def test_pending_items_passes_over_refused_and_acknowledged_items(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    run = journal.start_run("cfg")
    records = [ImageRecord(f"k{n}", make_image(tmp_path / f"{n}.jpg"), f"{n}.jpg") for n in range(6)]
    refused = Problem("image.missing", Severity.ERROR, "gone", "k1")
    items = []
    for r in records:
        fd, st, link = open_image(r.path)
        os.close(fd)
        items.append(CheckedItem(r, (refused,) if r.key == "k1" else (), st.st_size,
                                 st.st_mtime_ns, facts_of(st, link)))
    place = FeedPlace(journal, "srv", 7, "voc:{}", "cfg", run)

    def row(item: CheckedItem, digest: str, state: str, fingerprint: str | None = None) -> ImageRow:
        facts = item.facts
        assert facts is not None
        return ImageRow(item.record.name, digest, fingerprint or annotation_fingerprint(
            item.record, "voc:{}"), state, None, "earlier-key", "cfg", facts.size, facts.mtime_ns,
            facts.dev, facts.ino)

    digest = hashlib.sha256(records[5].path.read_bytes()).hexdigest()
    journal.record("srv", 7, [
        row(items[3], "whatever", "sending"),
        row(items[5], digest, "acked"),
        # Sent from a file with other facts: this one is read, and its bytes differ.
        ImageRow("2.jpg", "other-bytes", annotation_fingerprint(records[2], "voc:{}"), "acked",
                 None, "earlier", "cfg", 1, 1, 1, 1),
    ])
    walk = PlanWalk()
    passed: list[int] = []
    sent = list(pending_items(place, items, walk, on_passed=passed.append))
    assert [i.record.key for i in sent] == ["k0", "k3", "k4"]
    assert [i.resent for i in sent] == [False, True, False]
    assert walk.refused == [("k1", "image.missing", "gone")]
    assert walk.changed_since_upload == [Changed("k2", "2.jpg", "bytes")]
    assert walk.already_uploaded == 1  # k5: same name, bytes and annotation, another key
    assert sum(passed) == 3
    journal.close()


def test_image_headers_are_read_in_the_calling_thread_from_fast_storage() -> None:
    threads: list[str] = []

    def work(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n * 2

    assert list(_in_order(range(300), work, 4)) == [n * 2 for n in range(300)]  # type: ignore[arg-type]
    assert set(threads) == {threading.current_thread().name}


def test_slow_storage_moves_header_reads_to_threads_in_order() -> None:
    threads: list[str] = []

    def slow(n: int) -> int:
        threads.append(threading.current_thread().name)
        time.sleep(0.002)  # a network share, not a local disk
        return n * 2

    assert list(_in_order(range(150), slow, 4)) == [n * 2 for n in range(150)]  # type: ignore[arg-type]
    assert threads[0] == threading.current_thread().name
    assert any(name.startswith("osai-check") for name in threads[64:])
