"""Datasets, categories, the upload lock, FinishUploading and auto-unlock."""

from __future__ import annotations

import time

import pytest
import requests

from osai_import.emulator import LocalServer

from .support import Api, Img


def test_create_dataset(api: Api) -> None:
    answer = api.post("/Datasets", json={"name": "birds"})
    assert answer.status_code == 200
    assert answer.json() == {"id": answer.json()["id"], "name": "birds"}
    assert api.post("/Datasets", json={"name": "birds"}).json()["id"] != answer.json()["id"]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "  "}, {"title": "x"}])
def test_dataset_name_is_required(api: Api, body: dict[str, str]) -> None:
    answer = api.post("/Datasets", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"name": ["The name field is required."]}


def test_categories(api: Api) -> None:
    dataset_id = api.dataset()
    answer = api.post("/Categories", json={"datasetId": dataset_id, "name": "cat"})
    assert answer.status_code == 200
    body = answer.json()
    assert body == {"id": body["id"], "datasetId": dataset_id, "name": "cat"}
    duplicate = api.post("/Categories", json={"datasetId": dataset_id, "name": "cat"})
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["errors"]["name"][0]
    # The same name in another dataset, and a numeric string id, are fine.
    other = api.post("/Categories", json={"datasetId": str(api.dataset("b")), "name": "cat"})
    assert other.status_code == 200
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": "Cat"}).ok
    stored = api.inspect(dataset_id)["categories"]
    assert [c["name"] for c in stored] == ["cat", "Cat"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"name": "cat"}, "datasetId", "required"),
    ({"datasetId": 999, "name": "cat"}, "datasetId", "does not exist"),
    ({"datasetId": "x", "name": "cat"}, "datasetId", "not valid"),
    ({"datasetId": True, "name": "cat"}, "datasetId", "Int32"),
    ({"datasetId": 1}, "name", "required"),
])
def test_category_errors(api: Api, body: dict[str, object], field: str, words: str) -> None:
    api.dataset()
    answer = api.post("/Categories", json=body)
    assert answer.status_code == 400
    assert words in answer.json()["errors"][field][0]


def test_categories_while_locked(api: Api, server: LocalServer) -> None:
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    # OSAI's example creates categories after StartUploading: allowed by default.
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": "a"}).ok
    server.settings.lock_categories = True
    answer = api.post("/Categories", json={"datasetId": dataset_id, "name": "b"})
    assert answer.status_code == 400
    assert answer.json()["errors"]["datasetId"] == [
        f"Dataset {dataset_id} is locked by upload session {session_id}; categories cannot be "
        "created while it is locked."]
    assert api.finish(dataset_id, session_id).ok
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": "b"}).ok


def test_start_locks_and_finish_unlocks(api: Api, server: LocalServer) -> None:
    dataset_id = api.dataset()
    answer = api.post(f"/Datasets/{dataset_id}/StartUploading")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    session_id = answer.json()
    assert isinstance(session_id, int)
    assert api.inspect(dataset_id)["locked"] is True
    again = api.post(f"/Datasets/{dataset_id}/StartUploading")
    assert again.status_code == 400
    assert again.json()["detail"] == (
        f"id: Dataset {dataset_id} is locked by upload session {session_id}; finish that "
        "session or wait until it expires.")
    finished = api.finish(dataset_id, session_id)
    assert finished.status_code == 200 and finished.content == b""
    assert api.inspect(dataset_id)["locked"] is False
    assert api.finish(dataset_id, session_id).status_code == 200  # repeating is harmless
    assert api.start(dataset_id) != session_id


def test_finish_errors(api: Api) -> None:
    dataset_id = api.dataset()
    other = api.dataset("other")
    session_id = api.start(dataset_id)
    missing = api.post(f"/Datasets/{dataset_id}/FinishUploading")
    assert missing.status_code == 400
    assert missing.json()["errors"] == {
        "datasetUploadId": ["The datasetUploadId field is required."]}
    unknown = api.finish(dataset_id, session_id + 50)
    assert unknown.status_code == 400 and "does not exist" in unknown.text
    wrong = api.finish(other, session_id)
    assert wrong.status_code == 400 and "belongs to dataset" in wrong.text
    unknown_dataset = api.post("/Datasets/777/FinishUploading", params={"datasetUploadId": 1})
    assert unknown_dataset.status_code == 404
    assert api.post("/Datasets/777/StartUploading").status_code == 404
    assert api.post("/Datasets/abc/StartUploading").status_code == 400
    assert api.inspect(dataset_id)["locked"] is True


def test_lock_expires_without_chunks_and_chunks_extend_it(api: Api, server: LocalServer) -> None:
    server.settings.unlock_after = 0.6
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    time.sleep(0.35)
    assert api.chunk(dataset_id, session_id, [Img("a.jpg")]).ok
    time.sleep(0.35)  # 0.7 s after the start, 0.35 s after the chunk: still locked
    assert api.inspect(dataset_id)["locked"] is True
    assert api.chunk(dataset_id, session_id, [Img("b.jpg")]).ok
    time.sleep(0.7)
    stored = api.inspect(dataset_id)
    assert stored["locked"] is False
    [session] = stored["sessions"]
    assert session["state"] == "expired" and session["chunks"] == 2
    assert requests.get(f"{server.root_url}/_emulator/datasets").json()[0]["locked"] is False
    # Finishing an expired session is harmless; a new session can start.
    assert api.finish(dataset_id, session_id).status_code == 200
    assert api.inspect(dataset_id)["sessions"][0]["state"] == "expired"
    assert api.start(dataset_id) > session_id


def test_routing(api: Api, server: LocalServer) -> None:
    assert api.post("/datasets", json={"name": "lower"}).status_code == 200
    assert api.post("/Nope").status_code == 404
    assert api.http.get(f"{server.base_url}/Datasets", headers=api.headers).status_code == 405
    assert requests.get(f"{server.root_url}/_emulator/datasets/999").status_code == 404
    assert requests.get(f"{server.root_url}/_emulator/health").json() == {"ok": True}
