"""SIGKILL a run at each stage, run the same command again: everything stored, once.

A SIGKILL gives the program no chance to clean up: no FinishUploading, no report, the
journal as it was at that instant. The second run must finish the job: every image
stored, duplicates only among the items its report flags, categories never duplicated,
no second dataset, the dataset unlocked.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    assert_complete,
    datasets,
    hold,
    images_stored,
    journal_rows,
    kill,
    new_server,
    remote_config,
    run_cli,
    slow,
    slow_reader,
    start_cli,
    stats,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset

CATEGORIES = {"class_0", "class_1", "class_2", "thing"}

def _rerun_completes(config: Path, server: LocalServer, names: list[str]) -> dict[str, Any]:
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert_complete(server, again.report, names, CATEGORIES)
    return again.report


def test_kill_while_planning(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    (tmp_path / "slow_reader.py").write_text(slow_reader(0.05))
    config = remote_config(tmp_path, server.base_url,
                           source={"type": "slowfolder", "path": "data"})
    with_plugin = config.read_text() + "plugins: [./slow_reader.py]\n"
    config.write_text(with_plugin)
    mark = tmp_path / "reading"
    proc = start_cli(config, env={"SLOW_READER_MARK": str(mark)})
    wait_until("the reader has started", mark.exists, proc)
    kill(proc)
    assert stats(server)["total"] == 0, "planning comes before any request"
    report = _rerun_completes(config, server, names)
    assert report["counts"]["already_uploaded"] == 0
    assert sorted(report["categories_created"]) == sorted(CATEGORIES)


def test_kill_after_categories_were_created(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    config = remote_config(tmp_path, server.base_url)
    with hold(server, "start_uploading") as gate:
        proc = start_cli(config)
        wait_until("StartUploading is called", gate.entered.is_set, proc)
        kill(proc)
    [dataset] = datasets(server)
    data = stored(server, dataset["id"])
    assert {c["name"] for c in data["categories"]} == CATEGORIES and data["images"] == []
    report = _rerun_completes(config, server, names)
    assert report["categories_created"] == [], "the journal knew every category"
    assert report["dataset"]["id"] == dataset["id"]


def test_kill_while_creating_a_box_label(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    config = remote_config(tmp_path, server.base_url)
    # Categories are created in name order: the 4th, `thing`, only labels boxes. It is made
    # on the server, then the run dies before it learns the id.
    with hold(server, "create_category", after_commit=True, nth=4) as gate:
        proc = start_cli(config)
        wait_until("the 4th category is made", gate.entered.is_set, proc)
        kill(proc)
    assert [row[2] for row in journal_rows(config)["categories"]].count("thing") == 0
    report = _rerun_completes(config, server, names)
    assert report["categories_created"] == []
    assert any("'thing' already existed" in note for note in report["notes"])
    # The boxes still name their category: the server matched them to it.
    data = stored(server, report["dataset"]["id"])
    assert data["objectsWithoutCategory"] == 0


def test_kill_while_creating_an_image_category_stops_with_a_clear_message(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 12)
    config = remote_config(tmp_path, server.base_url)
    with hold(server, "create_category", after_commit=True, nth=2) as gate:
        proc = start_cli(config)
        wait_until("the 2nd category is made", gate.entered.is_set, proc)
        kill(proc)
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 3
    assert "category 'class_1' already exists in dataset 1 but its id is unknown" in again.stderr
    assert "an earlier run" in again.stderr and "its answer was lost" in again.stderr
    assert "categories: {'class_1': <its id>}" in again.stderr
    assert len(datasets(server)) == 1
    held = stored(server, 1)["categories"]
    made = Counter(c["name"] for c in held)
    assert made == Counter({"class_0": 1, "class_1": 1}), "nothing duplicated"
    assert images_stored(server) == 0
    # The user reads the id in the web app and gives it in the config, as the message says.
    data = yaml.safe_load(config.read_text())
    data["dataset"]["categories"] = {"class_1": next(c["id"] for c in held if c["name"] == "class_1")}
    config.write_text(yaml.safe_dump(data))
    done = run_cli(config)
    done.assert_clean()
    assert done.returncode == 0, done.stderr
    assert done.report is not None
    assert_complete(server, done.report, names, {"class_0", "class_1", "class_2", "thing"})


def test_kill_during_chunks_whose_answers_are_late(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 48)
    config = remote_config(tmp_path, server.base_url, workers=3, chunk_images=4)
    # Chunks are stored at once and answered 0.3 s later, so a kill always catches some
    # stored but unanswered: the rerun sends them again and must flag them.
    with slow(server, "upload_chunk", 0.3, after_commit=True):
        proc = start_cli(config)
        wait_until("three waves of chunks", lambda: images_stored(server) >= 28, proc)
        kill(proc)
    [dataset] = datasets(server)
    assert dataset["locked"] is True, "a SIGKILL cannot unlock"
    report = _rerun_completes(config, server, names)
    assert report["counts"]["already_uploaded"] >= 12
    data = stored(server, dataset["id"])
    assert data["duplicates"] >= 1 and report["counts"]["possibly_duplicated"] >= 1


def test_kill_before_finish(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    config = remote_config(tmp_path, server.base_url)
    with hold(server, "finish_uploading") as gate:
        proc = start_cli(config)
        wait_until("FinishUploading is called", gate.entered.is_set, proc)
        kill(proc)
    [dataset] = datasets(server)
    assert dataset["locked"] is True and dataset["images"] == 30
    report = _rerun_completes(config, server, names)
    assert report["counts"]["uploaded"] == 0 and report["counts"]["already_uploaded"] == 30
    sessions = stored(server, dataset["id"])["sessions"]
    assert [s["state"] for s in sessions] == ["finished", "finished"], "the rerun closed the first"


# --- other ways a run meets an earlier one -----------------------------------------------


def test_a_second_run_of_the_same_config_is_refused_while_the_first_runs(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 12)
    config = remote_config(tmp_path, server.base_url)
    with hold(server, "start_uploading") as gate:
        first = start_cli(config, "--report", str(tmp_path / "first.json"))
        wait_until("the first run locks the dataset", gate.entered.is_set, first)
        second = run_cli(config)
        second.assert_clean()
        assert second.returncode == 3
        assert "another osai-import run is using this journal" in second.stderr
        assert second.report is not None and second.report["exit_code"] == 3
        kill(first)
    assert len(datasets(server)) == 1, "the refused run created nothing"
    _rerun_completes(config, server, names)


def test_a_dataset_gone_from_the_server_is_named(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url)
    assert run_cli(config).returncode == 0
    port = server.port
    server.stop()
    wiped = new_server(tmp_path / "wiped", port=port)  # same URL, none of the old datasets
    try:
        again = run_cli(config)
        again.assert_clean()
        assert again.returncode == 3
        assert "dataset 1, made by an earlier run of this config, is gone" in again.stderr
        assert "--restart" in again.stderr
        restarted = run_cli(config, "--restart")
        assert restarted.returncode == 0, restarted.stderr
        assert [d["images"] for d in datasets(wiped)] == [6]
    finally:
        wiped.stop()


def test_a_left_open_session_is_kept_until_it_is_finished(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 12)
    # Without waiting for the lock: this test is about the journal keeping the session.
    config = remote_config(tmp_path, server.base_url, retries=2, wait_locked=0)
    with hold(server, "finish_uploading") as gate:
        proc = start_cli(config)
        wait_until("FinishUploading is called", gate.entered.is_set, proc)
        kill(proc)
    # The next run cannot finish that session (the server keeps failing FinishUploading),
    # so it cannot lock the dataset either; the journal must still know the session.
    with hold(server, "finish_uploading") as gate:
        gate.release()
        blocked = run_cli(config)
    blocked.assert_clean()
    assert blocked.returncode == 3 and "is locked by upload session 1" in blocked.stderr
    assert "that an earlier run started and could not finish" in blocked.stderr
    assert "run again later" in blocked.stderr
    assert len(journal_rows(config)["sessions"]) == 1
    report = _rerun_completes(config, server, names)
    assert report["counts"]["uploaded"] == 0
