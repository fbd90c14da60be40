"""Lost answers on every creating call: the work is committed, then the answer is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.emulator.app import _API
from osai_import.emulator.settings import ENDPOINTS

from .support import TOKEN, Api, Img

CREATING = ["Datasets", "Categories", "StartUploading", "FinishUploading", "UploadChunk"]
# The status of the same call made a second time, after the first one's work was done.
AGAIN = {"Datasets": 200, "Categories": 400, "StartUploading": 400, "FinishUploading": 200,
         "UploadChunk": 200}


def call(api: Api, endpoint: str, dataset_id: int, session_id: int) -> requests.Response:
    """Make one valid request to ``endpoint`` on a dataset with an active session."""
    if endpoint == "Datasets":
        return api.post("/Datasets", json={"name": "made"})
    if endpoint == "Categories":
        return api.post("/Categories", json={"datasetId": dataset_id, "name": "dog"})
    if endpoint == "StartUploading":
        return api.post(f"/Datasets/{dataset_id}/StartUploading")
    if endpoint == "FinishUploading":
        return api.finish(dataset_id, session_id)
    return api.chunk(dataset_id, session_id, [Img("a.jpg")])


def committed(api: Api, endpoint: str, dataset_id: int, session_id: int) -> bool:
    """Tell from the inspection API whether the call's work is stored."""
    detail = api.inspect(dataset_id)
    if endpoint == "Datasets":
        names = [d["name"] for d in requests.get(
            f"{api.server.root_url}/_emulator/datasets").json()]
        return "made" in names
    if endpoint == "Categories":
        return "dog" in [c["name"] for c in detail["categories"]]
    if endpoint == "StartUploading":
        # A second session, active, holds the lock.
        return bool(detail["locked"]) and len(detail["sessions"]) == 2
    if endpoint == "FinishUploading":
        return not detail["locked"] and detail["sessions"][0]["state"] == "finished"
    return [i["name"] for i in detail["images"]] == ["a.jpg"]


def prepare(api: Api, endpoint: str) -> tuple[int, int]:
    """Return (dataset id, session id); StartUploading needs the first session finished."""
    dataset_id = api.dataset("ready")
    session_id = api.start(dataset_id)
    if endpoint == "StartUploading":
        assert api.finish(dataset_id, session_id).status_code == 200
    return dataset_id, session_id


def lost(answer: Callable[[], requests.Response], mode: str) -> None:
    """Make the call and check that its answer is lost the way ``mode`` says."""
    if mode == "drop":
        with pytest.raises(requests.ConnectionError):
            answer()
        return
    response = answer()
    assert response.status_code == 500
    assert "answer is lost (lose_next)" in response.json()["detail"]


@pytest.mark.parametrize("mode", ["500", "drop"])
@pytest.mark.parametrize("endpoint", CREATING)
def test_one_shot_commits_then_loses_the_answer(api: Api, server: LocalServer, endpoint: str,
                                                mode: str) -> None:
    dataset_id, session_id = prepare(api, endpoint)
    server.settings.lose_mode = mode
    server.settings.lose_next[endpoint] = 1
    lost(lambda: call(api, endpoint, dataset_id, session_id), mode)
    assert committed(api, endpoint, dataset_id, session_id)
    assert server.settings.lose_next[endpoint] == 0
    stats = api.stats()
    kind = "lose_500" if mode == "500" else "lose_drop"
    assert stats["faults"] == {kind: 1}
    assert stats["faultsByEndpoint"] == {endpoint: {kind: 1}}
    assert stats["requests"][endpoint].get("500" if mode == "500" else "dropped") == 1


@pytest.mark.parametrize("endpoint", CREATING)
def test_one_shot_is_used_once_then_answers_come_back(api: Api, server: LocalServer,
                                                     endpoint: str) -> None:
    dataset_id, session_id = prepare(api, endpoint)
    server.settings.lose_mode = "500"
    server.settings.lose_next[endpoint] = 1
    assert call(api, endpoint, dataset_id, session_id).status_code == 500
    # The same call again gets its own answer, which shows that the first one was done:
    # the category and the lock exist.
    again = call(api, endpoint, dataset_id, session_id)
    assert again.status_code == AGAIN[endpoint], again.text
    assert "answer is lost" not in again.text


def test_a_count_of_two_loses_two_answers_alternately(api: Api, server: LocalServer) -> None:
    server.settings.lose_next["Datasets"] = 2
    first = api.post("/Datasets", json={"name": "one"})
    assert first.status_code == 500
    with pytest.raises(requests.ConnectionError):
        api.post("/Datasets", json={"name": "two"})
    assert api.post("/Datasets", json={"name": "three"}).status_code == 200
    names = [d["name"] for d in requests.get(f"{server.root_url}/_emulator/datasets").json()]
    assert names == ["one", "two", "three"]


def test_a_refused_request_keeps_the_one_shot_armed(api: Api, server: LocalServer) -> None:
    dataset_id = api.dataset()
    api.category(dataset_id, "cat")
    server.settings.lose_next["Categories"] = 1
    duplicate = api.post("/Categories", json={"datasetId": dataset_id, "name": "cat"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.text
    assert server.settings.lose_next["Categories"] == 1
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": "dog"}).status_code == 500
    assert [c["name"] for c in api.inspect(dataset_id)["categories"]] == ["cat", "dog"]


def test_a_one_shot_ignores_lose_endpoints(api: Api, server: LocalServer) -> None:
    assert server.settings.lose_endpoints == frozenset({"UploadChunk"})
    server.settings.lose_next["Users"] = 1
    assert api.http.get(f"{api.base}/Users", headers=api.headers).status_code == 500
    assert api.http.get(f"{api.base}/Users", headers=api.headers).status_code == 200


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_rate_on_every_creating_call(api: Api, server: LocalServer, mode: str) -> None:
    dataset_id, session_id = prepare(api, "UploadChunk")
    server.settings.lose_endpoints = frozenset(CREATING)
    server.settings.lose_rate, server.settings.lose_mode = 1, mode
    detail = "answer is lost (--lose-rate)"
    # In an order where each call is valid after the ones before it did their work.
    for endpoint in ["Datasets", "Categories", "UploadChunk", "FinishUploading",
                     "StartUploading"]:
        if mode == "drop":
            with pytest.raises(requests.ConnectionError):
                call(api, endpoint, dataset_id, session_id)
        else:
            assert detail in call(api, endpoint, dataset_id, session_id).json()["detail"]
    # Every call did its work: the chunk went into the first session, which was finished,
    # and a new session locks the dataset.
    stored = api.inspect(dataset_id)
    assert [i["name"] for i in stored["images"]] == ["a.jpg"]
    assert [c["name"] for c in stored["categories"]] == ["dog"]
    assert [s["state"] for s in stored["sessions"]] == ["finished", "active"]
    assert "made" in [d["name"] for d in requests.get(
        f"{server.root_url}/_emulator/datasets").json()]
    kind = "lose_500" if mode == "500" else "lose_drop"
    assert api.stats()["faults"] == {kind: len(CREATING)}


def test_rate_alternates_500_and_drop_across_endpoints(api: Api, server: LocalServer) -> None:
    server.settings.lose_endpoints = frozenset({"Datasets", "Categories"})
    server.settings.lose_rate = 1
    dataset = api.post("/Datasets", json={"name": "a"})
    assert dataset.status_code == 500
    with pytest.raises(requests.ConnectionError):
        api.post("/Categories", json={"datasetId": 1, "name": "cat"})
    assert api.post("/Datasets", json={"name": "b"}).status_code == 500
    # An endpoint outside lose_endpoints is answered.
    assert api.post("/Datasets/1/StartUploading").status_code == 200
    assert api.stats()["faultsByEndpoint"] == {
        "Datasets": {"lose_500": 2}, "Categories": {"lose_drop": 1}}


def test_same_seed_same_faults_with_html_and_every_endpoint(tmp_path: Path) -> None:
    def run(folder: str, seed: int) -> list[str]:
        settings = EmulatorSettings(data_dir=tmp_path / folder, token=TOKEN, seed=seed)
        seen: list[str] = []
        with LocalServer(settings) as server:
            api = Api(server)
            settings.lose_endpoints = frozenset(ENDPOINTS)
            settings.fail_rate = settings.lose_rate = settings.html_rate = 0.25
            for n in range(24):
                try:
                    answer = api.post("/Datasets", json={"name": f"d{n}"})
                    seen.append("html" if answer.headers["Content-Type"].startswith("text/html")
                                else str(answer.status_code))
                except requests.ConnectionError:
                    seen.append("dropped")
        return seen

    first, second, other = run("a", 5), run("b", 5), run("c", 6)
    assert first == second != other
    assert {"200", "503", "500", "dropped", "html"} <= set(first)


def test_settings_refuse_unknown_endpoints_and_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown endpoint.*Dataset"):
        EmulatorSettings(data_dir=tmp_path, lose_endpoints=frozenset({"Dataset"}))
    with pytest.raises(ValueError, match="html_next"):
        EmulatorSettings(data_dir=tmp_path, html_next={"upload": 1})
    with pytest.raises(ValueError, match="lose_mode"):
        EmulatorSettings(data_dir=tmp_path, lose_mode="sometimes")


def test_every_routed_endpoint_has_a_settings_name() -> None:
    assert {rule.endpoint for rule in _API.iter_rules()} == set(ENDPOINTS)
