"""A lost answer on any creating call is resolved, by this run or the next, never a dead end.

The server does the work (a dataset, a category, a session, a finish) and its answer is
lost (a 500, or a dropped connection). The journal wrote the call's intent first, so the
run knows what it does not know: it waits out a lock it cannot name, asks for a category
id it cannot learn (naming the category and where to put the id), reports a dataset that
may exist empty; and --restart signs in before it forgets anything.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    assert_complete,
    datasets,
    journal_rows,
    kill,
    new_server,
    remote_config,
    run_cli,
    start_cli,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset

CATEGORIES = {"class_0", "class_1", "class_2", "thing"}


@pytest.fixture(params=["500", "drop"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    running = new_server(tmp_path / "server", lose_mode=request.param)
    yield running
    running.stop()


def test_a_lost_answer_on_start_uploading_is_waited_out_in_the_same_run(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 16)
    server.settings.unlock_after = 2
    server.settings.lose_next["StartUploading"] = 1
    config = remote_config(tmp_path, server.base_url, wait_locked=30)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert "is locked by" in result.stderr and "trying again" in result.stderr
    assert result.report is not None
    data = assert_complete(server, result.report, names, CATEGORIES)
    assert len(data["sessions"]) == 2, "the lost session, then this run's own"
    assert journal_rows(config)["intents"] == []


def test_without_waiting_a_lost_session_stops_with_the_remedy_then_resumes(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    server.settings.lose_next["StartUploading"] = 1
    config = remote_config(tmp_path, server.base_url, wait_locked=0)
    blocked = run_cli(config)
    blocked.assert_clean()
    assert blocked.returncode == 3
    assert "dataset 1 is locked by a session whose StartUploading answer was lost" in blocked.stderr
    assert "OSAI unlocks it by itself after a while without new images" in blocked.stderr
    assert "upload.wait_locked" in blocked.stderr
    assert journal_rows(config)["intents"] != [], "the lost session is written down"
    server.settings.unlock_after = 1
    time.sleep(1.5)  # OSAI's quiet period is over: the lost session has expired
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert_complete(server, again.report, names, CATEGORIES)
    assert journal_rows(config)["intents"] == []


def test_lost_category_answers_ask_for_image_category_ids_and_reuse_box_labels(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 12)
    server.settings.lose_next["Categories"] = 4  # every category: class_0..2 and "thing"
    config = remote_config(tmp_path, server.base_url)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 3, "the image categories' ids cannot be learnt"
    assert "category 'class_0' already exists in dataset 1 but its id is unknown" in result.stderr
    assert "this run created it and its answer was lost" in result.stderr
    assert "categories: {'class_0': <its id>}" in result.stderr
    # The user copies the id from the web app, as the message says; the next category's
    # answer is lost too, and the next run asks for that one.
    data = yaml.safe_load(config.read_text())
    for asked in ("class_0", "class_1", "class_2"):
        held = {c["name"]: c["id"] for c in stored(server, 1)["categories"]}
        data["dataset"]["categories"] = {**data["dataset"].get("categories", {}),
                                         asked: held[asked]}
        config.write_text(yaml.safe_dump(data))
        if asked == "class_2":
            break
        blocked = run_cli(config)
        assert blocked.returncode == 3, blocked.stderr
        following = f"class_{int(asked[-1]) + 1}"
        assert f"category '{following}' already exists in dataset 1" in blocked.stderr
    done = run_cli(config)
    done.assert_clean()
    assert done.returncode == 0, done.stderr
    assert done.report is not None
    assert_complete(server, done.report, names, CATEGORIES)
    assert Counter(c["name"] for c in stored(server, 1)["categories"]) == Counter(CATEGORIES)
    assert any("'thing' already existed" in note for note in done.report["notes"])


def test_a_lost_answer_on_finish_uploading_counts_as_finished(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    server.settings.lose_next["FinishUploading"] = 1
    config = remote_config(tmp_path, server.base_url)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None and result.report["warnings"] == []
    assert_complete(server, result.report, names, CATEGORIES)
    assert journal_rows(config)["sessions"] == []


def test_a_lost_answer_on_create_dataset_reports_the_possible_empty_dataset(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 6)
    server.settings.lose_next["Datasets"] = 1
    config = remote_config(tmp_path, server.base_url, name="lost-answer")
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert any("may also hold an empty dataset named 'lost-answer'" in w
               for w in result.report["warnings"]), result.report["warnings"]
    found = sorted((d["name"], d["images"]) for d in datasets(server))
    assert found == [("lost-answer", 0), ("lost-answer", 6)]
    used = result.report["dataset"]["id"]
    assert sorted(i["name"] for i in stored(server, used)["images"]) == sorted(names)


def test_restart_with_a_mistyped_token_forgets_nothing(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url)
    first = run_cli(config)
    assert first.returncode == 0
    refused = run_cli(config, "--restart", token="mistyped-token-0000")
    refused.assert_clean()
    assert refused.returncode == 3
    again = run_cli(config)
    assert again.returncode == 0 and again.report is not None
    assert again.report["counts"]["already_uploaded"] == 6
    assert again.report["counts"]["uploaded"] == 0
    assert [d["images"] for d in datasets(server)] == [len(names)]


def test_restart_finishes_the_old_session_before_it_forgets(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    config = remote_config(tmp_path, server.base_url, workers=1, chunk_images=2)
    server.settings.latency_ms = 100
    proc = start_cli(config)
    wait_until("chunks are stored", lambda: bool(datasets(server)) and
               datasets(server)[0]["images"] > 2, proc)
    kill(proc)
    server.settings.latency_ms = 0
    assert stored(server, 1)["locked"] is True
    restarted = run_cli(config, "--restart")
    restarted.assert_clean()
    assert restarted.returncode == 0, restarted.stderr
    assert stored(server, 1)["locked"] is False, "the old session was finished"
    assert restarted.report is not None and restarted.report["dataset"]["id"] == 2
    assert sorted(i["name"] for i in stored(server, 2)["images"]) == sorted(names)
