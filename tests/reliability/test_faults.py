"""`osai-import run` through every fault the server can throw at it: nothing lost, never locked.

Each test runs the real CLI in a child process against a live local server and then checks
the promise (``assert_complete``): every planned image stored, duplicates only among the
items the report flags, the dataset unlocked, and the report's counts equal the server's.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Response

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    assert_complete,
    closed_port,
    datasets,
    finish_cli,
    images_stored,
    journal_rows,
    new_server,
    remote_config,
    restart,
    run_cli,
    slow,
    start_cli,
    stats,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset

CATEGORIES = {"class_0", "class_1", "class_2", "thing"}

# Seeds are picked so that each kind of fault comes early in the draws: a run makes 20 to
# 40 requests, and the assertions below check that every fault of the kind happened.
FAULTS: dict[str, dict[str, Any]] = {
    "503": {"fail_rate": 0.3, "seed": 8},
    "429": {"throttle_rate": 0.3, "seed": 8},
    "lost answers": {"lose_rate": 0.4, "seed": 8},
    "latency": {"latency_ms": 25},
    "all mixed": {"fail_rate": 0.15, "throttle_rate": 0.1, "lose_rate": 0.15, "latency_ms": 30,
                  "jwt_ttl": 0.25, "seed": 44},
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_alone_and_all_mixed(tmp_path: Path, fault: str) -> None:
    # Its own server: the fault generator reads its seed when the server starts.
    server = new_server(tmp_path / "seeded", **FAULTS[fault])
    try:
        _survives(tmp_path, server, fault)
    finally:
        server.stop()


def _survives(tmp_path: Path, server: LocalServer, fault: str) -> None:
    names = make_folder_dataset(tmp_path / "data", 48)
    config = remote_config(tmp_path, server.base_url)
    started = time.monotonic()
    result = run_cli(config)
    elapsed = time.monotonic() - started
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    report = result.report
    assert report is not None
    assert_complete(server, report, names, CATEGORIES)
    injected = stats(server)["faults"]
    retries = report["retries"]
    # ">=": an emulator hiccup (a 500 under load) is retried too; every injected fault is.
    if fault == "503":
        assert injected["fail"] >= 3 and retries["503"] >= injected["fail"]
    if fault == "429":
        assert injected["throttle"] >= 3 and retries["429"] >= injected["throttle"]
    if fault == "lost answers":
        # Both kinds of loss happened, each was retried, and each retried chunk is flagged.
        assert injected["lose_500"] >= 2 and injected["lose_drop"] >= 2
        # A chunk of several images dropped a second time is sent in halves instead (a
        # server may refuse a chunk too large so), and a 500 on the last try of such a half
        # halves it again rather than retrying: at least every other loss is a retry.
        assert 2 * retries["500"] >= injected["lose_500"]
        assert 2 * retries["connection"] >= injected["lose_drop"]
        assert report["counts"]["possibly_duplicated"] >= 4
        assert stored(server, report["dataset"]["id"])["duplicates"] >= 4
    if fault == "latency":
        requests_made = stats(server)["total"]
        assert elapsed > requests_made * 0.025 / 3
    if fault == "all mixed":
        assert {"fail", "throttle", "lose_500"} <= set(injected), injected
        assert stats(server)["requests"]["SignIn"]["200"] >= 2, "the bearer token was renewed"


def test_retry_after_is_waited_for(tmp_path: Path) -> None:
    names = make_folder_dataset(tmp_path / "data", 16)
    server = new_server(tmp_path / "seeded", throttle_rate=0.4, retry_after=0.25, seed=8)
    # With backoff this short, only the server's Retry-After can make the run slow.
    config = remote_config(tmp_path, server.base_url, workers=1, backoff=0.001, max_backoff=0.002)
    try:
        _waits_for_retry_after(server, config, names)
    finally:
        server.stop()


def _waits_for_retry_after(server: LocalServer, config: Path, names: list[str]) -> None:
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert_complete(server, result.report, names, CATEGORIES)
    throttled = stats(server)["faults"]["throttle"]
    assert throttled >= 3
    assert result.report["durations_seconds"]["total"] >= throttled * 0.25


def test_server_restarted_mid_run(tmp_path: Path, server: LocalServer) -> None:
    # Enough work left after the first images (about 0.5 s) that the restart lands mid-run.
    names = make_folder_dataset(tmp_path / "data", 100)
    server.settings.latency_ms = 30
    config = remote_config(tmp_path, server.base_url, workers=2, retries=25, max_backoff=0.3)
    report = tmp_path / "r.json"
    proc = start_cli(config, "--report", str(report))
    wait_until("some images are stored", lambda: images_stored(server) >= 12, proc)
    second = restart(server, pause=0.8)
    try:
        result = finish_cli(proc, report)
        result.assert_clean()
        assert result.returncode == 0, result.stderr
        assert result.report is not None
        assert result.report["retries"].get("connection", 0) >= 1, "the pause was felt"
        assert_complete(second, result.report, names, CATEGORIES)
    finally:
        second.stop()


def test_server_unreachable_at_start(tmp_path: Path) -> None:
    make_folder_dataset(tmp_path / "data", 8)
    port = closed_port()
    url = f"http://127.0.0.1:{port}/api"
    config = remote_config(tmp_path, url, retries=2)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 3
    assert f"cannot reach {url}" in result.stderr
    assert "check server.url" in result.stderr
    assert result.report is not None and result.report["exit_code"] == 3
    assert result.report["aborted"] and url in result.report["aborted"]
    assert result.report["dataset"]["id"] is None
    assert result.report["counts"]["read"] == 8, "the source was read before the server"
    rows = journal_rows(config)
    assert all(not rows[t] for t in ("datasets", "categories", "sessions", "images", "intents")), rows
    # Nothing was created: a server brought up on that port later holds nothing.
    late = new_server(tmp_path / "late", port=port)
    try:
        assert datasets(late) == []
    finally:
        late.stop()


def test_bearer_token_expires_mid_run(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 60)
    server.settings.jwt_ttl = 0.3
    server.settings.latency_ms = 40  # the run lasts well over the token's 0.3 s
    config = remote_config(tmp_path, server.base_url, workers=2, chunk_images=3)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert_complete(server, result.report, names, CATEGORIES)
    assert result.report["retries"]["401"] >= 1
    assert stats(server)["requests"]["SignIn"]["200"] >= 2


@pytest.mark.parametrize("stall", ["client paused", "server stalled"])
def test_session_unlocked_by_the_server_during_a_stall(
    tmp_path: Path, server: LocalServer, stall: str
) -> None:
    names = make_folder_dataset(tmp_path / "data", 90)
    server.settings.unlock_after = 0.4
    server.settings.latency_ms = 30  # enough work left (about 0.5 s) for the stall to land
    config = remote_config(tmp_path, server.base_url, workers=2, chunk_images=3)
    report = tmp_path / "r.json"
    proc = start_cli(config, "--report", str(report))
    wait_until("some images are stored", lambda: images_stored(server) >= 9, proc)
    if stall == "client paused":
        proc.send_signal(signal.SIGSTOP)  # a laptop lid closed, a VM paused
        time.sleep(1.0)
        proc.send_signal(signal.SIGCONT)
    else:
        server.settings.latency_ms = 900
        time.sleep(0.5)
        server.settings.latency_ms = 30
    result = finish_cli(proc, report)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    data = assert_complete(server, result.report, names, CATEGORIES)
    states = [s["state"] for s in data["sessions"]]
    assert "expired" in states and len(states) >= 2, states
    assert result.report["upload_sessions"] == len(states)


def test_slow_server_beyond_the_timeout_then_fast_again(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 60)
    server.settings.latency_ms = 30
    config = remote_config(tmp_path, server.base_url, timeout=0.4, workers=2, retries=20,
                           max_backoff=0.3)
    report = tmp_path / "r.json"
    proc = start_cli(config, "--report", str(report))
    wait_until("some images are stored", lambda: images_stored(server) >= 8, proc)
    server.settings.latency_ms = 700
    time.sleep(1.5)
    server.settings.latency_ms = 0
    result = finish_cli(proc, report)
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert result.report["retries"]["connection"] >= 2, "timeouts were retried"
    assert_complete(server, result.report, names, CATEGORIES)


def test_slow_server_beyond_the_timeout_aborts_unlocked_then_resumes(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 24)
    config = remote_config(tmp_path, server.base_url, timeout=0.3, workers=2, retries=2)
    # Every chunk is stored, but its answer comes after the client gave up waiting.
    with slow(server, "upload_chunk", 0.6, after_commit=True):
        result = run_cli(config)
    result.assert_clean()
    assert result.returncode == 3, result.stderr
    assert "did not answer within 0.3 s" in result.stderr
    assert "server.timeout" in result.stderr
    assert result.report is not None and result.report["exit_code"] == 3
    dataset_id = result.report["dataset"]["id"]
    data = stored(server, dataset_id)
    assert data["locked"] is False, "FinishUploading ran despite the abort"
    assert result.report["counts"]["uploaded"] == 0
    unconfirmed = {row["name"] for row in result.report["unconfirmed"]}
    assert {i["name"] for i in data["images"]} <= unconfirmed

    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert again.report["dataset"]["id"] == dataset_id
    assert_complete(server, again.report, names, CATEGORIES)


def test_bearer_token_expires_twice_while_one_chunk_is_retried(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 4)
    server.settings.jwt_ttl = 0.3
    api = server.app.api
    real = api.upload_chunk
    calls = iter(range(1, 100))

    def throttle_twice(*args: Any, **kwargs: Any) -> Response:
        # Each wait (Retry-After 0.35 s) outlives the bearer token: the chunk's retries
        # meet a 401 twice, and the run must sign in twice within that one call.
        if next(calls) <= 2:
            return Response(b"{}", status=429, headers={"Retry-After": "0.35"},
                            content_type="application/problem+json")
        return real(*args, **kwargs)

    api.upload_chunk = throttle_twice  # type: ignore[method-assign]
    try:
        result = run_cli(remote_config(tmp_path, server.base_url, workers=1, chunk_images=4))
    finally:
        del api.upload_chunk
    result.assert_clean()
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert result.report["retries"]["401"] >= 2
    assert_complete(server, result.report, names, CATEGORIES)
