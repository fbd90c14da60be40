"""Injected faults: reproducible from a seed, applied only where documented."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from osai_import.emulator import EmulatorSettings, LocalServer

from .support import TOKEN, Api, Img


def outcomes(
    data_dir: Path, seed: int, *, seed_at_run_time: bool = False
) -> tuple[list[str], dict[str, object]]:
    """Run one fixed sequence of requests against a faulty server; return what came back."""
    settings = EmulatorSettings(data_dir=data_dir, token=TOKEN,
                                seed=None if seed_at_run_time else seed)
    seen: list[str] = []
    with LocalServer(settings) as server:
        api = Api(server)  # set up before faults start
        dataset_id = api.dataset()
        session_id = api.start(dataset_id)
        if seed_at_run_time:
            settings.seed = seed
        settings.fail_rate, settings.throttle_rate, settings.lose_rate = 0.2, 0.2, 0.3
        for n in range(30):
            try:
                if n % 3 == 0:
                    answer = api.post("/Datasets", json={"name": f"d{n}"})
                else:
                    answer = api.chunk(dataset_id, session_id, [Img(f"{n}.jpg")])
                seen.append(str(answer.status_code))
            except requests.ConnectionError:
                seen.append("dropped")
        return seen, api.stats()


def test_same_seed_same_faults(tmp_path: Path) -> None:
    first, stats = outcomes(tmp_path / "a", seed=7)
    second, _ = outcomes(tmp_path / "b", seed=7)
    other, _ = outcomes(tmp_path / "c", seed=8)
    assert first == second
    assert first != other
    assert {"503", "429", "500", "dropped", "200"} <= set(first)
    faults = stats["faults"]
    assert isinstance(faults, dict)
    assert faults["fail"] == first.count("503")
    assert faults["throttle"] == first.count("429")
    assert faults["lose_500"] == first.count("500")
    assert faults["lose_drop"] == first.count("dropped")


def test_a_seed_set_on_a_running_server_starts_a_reproducible_sequence(tmp_path: Path) -> None:
    first, _ = outcomes(tmp_path / "a", seed=11, seed_at_run_time=True)
    second, _ = outcomes(tmp_path / "b", seed=11, seed_at_run_time=True)
    assert first == second
    assert {"503", "429", "200"} <= set(first)


def test_fail_is_503_before_anything(api: Api, server: LocalServer,
                                     upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.fail_rate = 1
    assert api.chunk(dataset_id, session_id, [Img("a.jpg")]).status_code == 503
    # Before auth too: a proxy in front of the service answers without looking.
    assert requests.get(f"{server.base_url}/Users").status_code == 503
    assert requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN).status_code == 503
    # Never on the inspection API.
    assert api.inspect(dataset_id)["images"] == []
    server.settings.fail_rate = 0
    assert api.chunk(dataset_id, session_id, [Img("a.jpg")]).status_code == 200


def test_throttle_is_429_with_retry_after(api: Api, server: LocalServer) -> None:
    server.settings.throttle_rate = 1
    answer = api.post("/Datasets", json={"name": "x"})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    server.settings.retry_after = 0.25
    assert api.post("/Datasets", json={"name": "x"}).headers["Retry-After"] == "0.25"
    server.settings.throttle_rate = 0
    assert requests.get(f"{server.root_url}/_emulator/datasets").json() == []


def test_lost_answers_are_stored_and_alternate(api: Api, server: LocalServer,
                                               upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.lose_rate = 1
    # Only UploadChunk answers are lost.
    assert api.post("/Datasets", json={"name": "fine"}).status_code == 200
    first = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    assert first.status_code == 500 and "answer is lost" in first.json()["detail"]
    with pytest.raises(requests.ConnectionError):
        api.chunk(dataset_id, session_id, [Img("b.jpg")])
    assert api.chunk(dataset_id, session_id, [Img("c.jpg")]).status_code == 500
    # A rejected chunk is answered as it is: there is nothing stored to lose.
    assert api.chunk(dataset_id, session_id, [Img("d.gif", data=b"GIF")]).status_code == 400
    assert [i["name"] for i in api.inspect(dataset_id)["images"]] == ["a.jpg", "b.jpg", "c.jpg"]
    assert api.stats()["requests"]["UploadChunk"] == {"400": 1, "500": 2, "dropped": 1}


def test_latency(api: Api, server: LocalServer) -> None:
    server.settings.latency_ms = 150
    started = time.perf_counter()
    assert api.post("/Datasets", json={"name": "slow"}).ok
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    requests.get(f"{server.root_url}/_emulator/datasets")
    assert time.perf_counter() - started < 0.15
