"""Ctrl-C and SIGTERM stop a run within 10 s in every phase, and the next run finishes the job.

Each test starts the real CLI, waits until the run is in one phase (reading the source, a
setup call in flight, waiting for a locked dataset, chunks in flight, FinishUploading),
sends the signal, and measures how long the process takes to end. A second interrupt
exits at once. Whatever the phase, the same command run again stores every image once
(or flags it) and leaves the dataset unlocked.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    assert_complete,
    datasets,
    hold,
    remote_config,
    run_cli,
    slow_reader,
    start_cli,
    stats,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset

CATEGORIES = {"class_0", "class_1", "class_2", "thing"}
STOP_WITHIN = 10.0

def stop(proc: subprocess.Popen[str], signum: int = signal.SIGINT) -> tuple[float, str]:
    """Send ``signum``; return how long the run took to end, and its stderr."""
    started = time.monotonic()
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    return time.monotonic() - started, err


def assert_stopped(proc: subprocess.Popen[str], elapsed: float, err: str) -> None:
    assert elapsed < STOP_WITHIN, f"the run took {elapsed:.1f} s to stop:\n{err}"
    assert proc.returncode == 3, err
    assert "Traceback" not in err, err
    assert "interrupted; run the same command again to resume" in err


def resumes(config: Path, server: LocalServer, names: list[str]) -> dict[str, Any]:
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert_complete(server, again.report, names, CATEGORIES)
    return again.report


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_while_reading_the_source(tmp_path: Path, server: LocalServer, signum: int) -> None:
    names = make_folder_dataset(tmp_path / "data", 30)
    (tmp_path / "slow_reader.py").write_text(slow_reader(0.2))
    config = remote_config(tmp_path, server.base_url, source={"type": "slowfolder", "path": "data"})
    config.write_text(config.read_text() + "plugins: [./slow_reader.py]\n")
    mark = tmp_path / "reading"
    proc = start_cli(config, env={"SLOW_READER_MARK": str(mark)})
    wait_until("the source is being read", mark.exists, proc)
    assert_stopped(proc, *stop(proc, signum))
    assert stats(server)["total"] == 0, "nothing was sent"
    mark.unlink()
    resumes(config, server, names)


@pytest.mark.parametrize(
    ("handler", "after_commit", "nth"),
    [("create_dataset", False, 1), ("create_dataset", True, 1),
     ("create_category", True, 4), ("start_uploading", False, 1)],
)
def test_while_a_setup_call_is_in_flight(
    tmp_path: Path, server: LocalServer, handler: str, after_commit: bool, nth: int
) -> None:
    names = make_folder_dataset(tmp_path / "data", 24)
    config = remote_config(tmp_path, server.base_url, wait_locked=30)
    with hold(server, handler, after_commit=after_commit, nth=nth) as gate:
        proc = start_cli(config)
        wait_until(f"{handler} is in flight", gate.entered.is_set, proc)
        elapsed, err = stop(proc, signal.SIGTERM)
    assert_stopped(proc, elapsed, err)
    if handler == "create_dataset" and after_commit:
        # Made, its id lost with the run: the next run makes another, and says so.
        again = run_cli(config)
        assert again.returncode == 0, again.stderr
        assert again.report is not None
        assert any("may also hold an empty dataset named 'reliability'" in w
                   for w in again.report["warnings"]), again.report["warnings"]
        counts = sorted(d["images"] for d in datasets(server))
        assert counts == [0, 24]
        return
    resumes(config, server, names)


def test_a_session_started_whose_answer_was_cut_is_waited_out(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 12)
    server.settings.unlock_after = 3
    config = remote_config(tmp_path, server.base_url, wait_locked=30)
    with hold(server, "start_uploading", after_commit=True) as gate:
        proc = start_cli(config)
        wait_until("StartUploading is in flight", gate.entered.is_set, proc)
        assert_stopped(proc, *stop(proc))
    assert stored(server, 1)["locked"] is True, "the lost session holds the lock"
    started = time.monotonic()
    report = resumes(config, server, names)
    assert time.monotonic() - started > 1, "the run waited for the unlock"
    assert report["counts"]["uploaded"] == 12


def test_while_waiting_for_a_locked_dataset(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url, wait_locked=120)
    with hold(server, "start_uploading", after_commit=True) as gate:
        proc = start_cli(config)
        wait_until("StartUploading is in flight", gate.entered.is_set, proc)
        stop(proc)
    waiting = start_cli(config)
    line = waiting.stderr.readline() if waiting.stderr else ""
    while "waiting" not in line and waiting.poll() is None:
        line = waiting.stderr.readline() if waiting.stderr else ""
    assert "whose StartUploading answer was lost" in line and "Ctrl-C to stop" in line, line
    elapsed, err = stop(waiting)
    assert_stopped(waiting, elapsed, err)
    assert elapsed < 3, "a wait ends at once"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_while_chunks_are_in_flight(tmp_path: Path, server: LocalServer, signum: int) -> None:
    names = make_folder_dataset(tmp_path / "data", 40)
    config = remote_config(tmp_path, server.base_url, workers=3, chunk_images=4)
    with hold(server, "upload_chunk", nth=3) as gate:
        proc = start_cli(config)
        wait_until("chunks are in flight", gate.entered.is_set, proc)
        elapsed, err = stop(proc, signum)
    assert_stopped(proc, elapsed, err)
    [dataset] = datasets(server)
    assert stored(server, dataset["id"])["locked"] is False, "the session was finished"
    resumes(config, server, names)


def test_while_finish_uploading_does_not_answer(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    config = remote_config(tmp_path, server.base_url, timeout=60)
    with hold(server, "finish_uploading") as gate:
        proc = start_cli(config)
        wait_until("FinishUploading is in flight", gate.entered.is_set, proc)
        elapsed, err = stop(proc)
    assert_stopped(proc, elapsed, err)
    resumes(config, server, names)


def test_a_second_interrupt_exits_at_once(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    config = remote_config(tmp_path, server.base_url, timeout=60)
    with hold(server, "finish_uploading") as gate:
        proc = start_cli(config)
        wait_until("FinishUploading is in flight", gate.entered.is_set, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        elapsed, err = stop(proc)
    assert elapsed < 2, err
    assert proc.returncode == 130
    assert "stopped at once (second interrupt)" in err
    resumes(config, server, names)


def test_an_answer_that_trickles_is_cut_at_the_deadline(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 8)
    server.settings.trickle_endpoints = frozenset({"UploadChunk"})
    server.settings.trickle_interval = 0.5  # one byte every half second: never a read timeout
    config = remote_config(tmp_path, server.base_url, timeout=2, retries=1, workers=1)
    started = time.monotonic()
    result = run_cli(config, timeout=60)
    elapsed = time.monotonic() - started
    result.assert_clean()
    assert result.returncode == 3, result.stderr
    assert elapsed < 15, f"two tries of 2 s each, not {elapsed:.0f} s"
    assert "did not answer within 2 s" in result.stderr or "no whole answer within 2 s" in result.stderr
    [dataset] = datasets(server)
    assert dataset["locked"] is False, "FinishUploading, which does not trickle, ran"
    assert result.report is not None and result.report["counts"]["unconfirmed"] > 0


def test_ctrl_c_during_a_trickling_answer_stops_at_once(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 8)
    server.settings.trickle_endpoints = frozenset({"UploadChunk"})
    server.settings.trickle_interval = 2.0
    config = remote_config(tmp_path, server.base_url, timeout=120, workers=1)
    proc = start_cli(config)
    wait_until("a chunk is stored, its answer trickling",
               lambda: bool(datasets(server)) and datasets(server)[0]["images"] > 0, proc)
    elapsed, err = stop(proc)
    assert_stopped(proc, elapsed, err)
    server.settings.trickle_endpoints = frozenset()
    report = resumes(config, server, names)
    assert report["counts"]["possibly_duplicated"] >= 1, "the chunk whose answer was cut"
