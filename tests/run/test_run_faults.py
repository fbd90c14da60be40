"""`osai-import run` against a faulty, slow, interrupted server: nothing lost, never locked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from osai_import.config.resolve import prepare
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.emulator.problems import Drop
from osai_import.run.context import RunOptions
from osai_import.run.runner import run
from tests.run.support import TOKEN, datasets, make_folder_dataset, stored, write_config


@pytest.fixture
def server(tmp_path: Path) -> Any:
    settings = EmulatorSettings(data_dir=tmp_path / "server", token=TOKEN, retry_after=0.05)
    with LocalServer(settings) as running:
        yield running


def _remote_config(tmp_path: Path, server: LocalServer, **upload: Any) -> Path:
    upload = {"workers": 4, "chunk_images": 10, "backoff": 0.02, "max_backoff": 0.2,
              "retries": 12, **upload}
    return write_config(
        tmp_path / "run.yaml",
        server={"url": server.base_url, "timeout": 10},
        upload=upload,
    )


def _assert_server_matches(server: LocalServer, report: dict[str, Any], names: list[str]) -> None:
    data = stored(server, report["dataset"]["id"])
    assert data["locked"] is False, "the dataset was left locked"
    held = Counter(image["name"] for image in data["images"])
    assert set(held) == set(names), "every planned image is stored"
    duplicated = {name for name, n in held.items() if n > 1}
    flagged = {row["name"] for row in report["possibly_duplicated"]}
    assert duplicated <= flagged, f"unflagged duplicates: {sorted(duplicated - flagged)}"
    assert report["counts"]["failed"] == 0


def test_1000_images_through_503_429_lost_answers_and_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = make_folder_dataset(tmp_path / "data", 1000)
    settings = EmulatorSettings(
        data_dir=tmp_path / "faulty", token=TOKEN, retry_after=0.05, seed=1234,
        fail_rate=0.10, throttle_rate=0.05, lose_rate=0.05, latency_ms=50,
    )
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    with LocalServer(settings) as server:
        config = _remote_config(tmp_path, server)
        resolved, _ = prepare(config)
        result = run(
            resolved, RunOptions(quiet=True, report=tmp_path / "r.json"), Console(quiet=True)
        )
        server.settings.fail_rate = server.settings.throttle_rate = server.settings.lose_rate = 0
        report = json.loads((tmp_path / "r.json").read_text())
        assert result.exit_code == 0, report
        assert report["counts"]["uploaded"] == 1000
        assert sum(report["retries"].values()) > 0, "faults were injected and retried"
        _assert_server_matches(server, report, names)
        data = stored(server, report["dataset"]["id"])
    # The report's counts equal what the server holds: every image once, plus the extra
    # copies of lost answers, all of them among the items the report flags.
    held = Counter(image["name"] for image in data["images"])
    assert len(held) == report["counts"]["uploaded"]
    assert len(data["images"]) == len(held) + data["duplicates"]
    assert sum(1 for n in held.values() if n > 1) <= report["counts"]["possibly_duplicated"]


def _cli(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OSAI_TOKEN": TOKEN}
    return subprocess.Popen(
        [sys.executable, "-m", "osai_import", "run", str(config), "--quiet", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for_images(server: LocalServer, at_least: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = datasets(server)
        if found and found[0]["images"] >= at_least:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


def test_sigkill_midway_then_rerun_stores_everything(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 300)
    config = _remote_config(tmp_path, server, workers=2)
    server.settings.latency_ms = 40
    proc = _cli(config)
    _wait_for_images(server, 60, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(datasets(server)) == 1
    server.settings.latency_ms = 0

    again = _cli(config, "--report", str(tmp_path / "again.json"))
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    report = json.loads((tmp_path / "again.json").read_text())
    assert report["counts"]["already_uploaded"] >= 50
    assert report["counts"]["uploaded"] + report["counts"]["already_uploaded"] == 300
    assert report["categories_created"] == []
    assert len(datasets(server)) == 1, "no second dataset"
    _assert_server_matches(server, report, names)
    cats = Counter(c["name"] for c in stored(server, report["dataset"]["id"])["categories"])
    assert all(n == 1 for n in cats.values()), cats


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_unlocks_the_dataset(tmp_path: Path, server: LocalServer, sig: int) -> None:
    make_folder_dataset(tmp_path / "data", 200, boxes=False)
    config = _remote_config(tmp_path, server, workers=2)
    server.settings.latency_ms = 60
    proc = _cli(config, "--report", str(tmp_path / "r.json"))
    _wait_for_images(server, 20, proc)
    assert datasets(server)[0]["locked"] is True
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err.decode()
    assert datasets(server)[0]["locked"] is False
    report = json.loads((tmp_path / "r.json").read_text())
    assert "interrupted" in report["aborted"]
    assert report["counts"]["uploaded"] == datasets(server)[0]["images"]


def test_a_chunk_dropped_twice_after_chunks_as_large_passed_does_not_shrink_the_rest(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connections ended without an answer are how some servers refuse a chunk too large;
    # after chunks of 10 went through, two drops of the next are a network fault, and the
    # run must not take 10 for a limit.
    names = make_folder_dataset(tmp_path / "data", 60)
    api = server.app.api
    real = api.upload_chunk
    calls = Counter[str]()

    def dropping(*args: Any, **kwargs: Any) -> Any:
        calls["chunk"] += 1
        if calls["chunk"] in (3, 4):
            raise Drop()
        return real(*args, **kwargs)

    api.upload_chunk = dropping  # type: ignore[method-assign]
    monkeypatch.setenv("OSAI_TOKEN", TOKEN)
    config = _remote_config(tmp_path, server, workers=1)
    resolved, _ = prepare(config)
    run(resolved, RunOptions(quiet=True, report=tmp_path / "r.json"), Console(quiet=True))
    report = json.loads((tmp_path / "r.json").read_text())
    _assert_server_matches(server, report, names)
    chunk_answers = server.app.stats.snapshot()["requests"]["UploadChunk"]
    # 6 chunks of 10, the one dropped twice sent again as two halves of 5.
    assert chunk_answers == {"200": 7, "dropped": 2}, chunk_answers
