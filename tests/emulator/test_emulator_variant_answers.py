"""Answer-shape variants: SignIn, StartUploading and UploadChunk as other services answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import TOKEN, Api, Img


@pytest.mark.parametrize(("shape", "content_type"), [
    ("text", "text/plain; charset=utf-8"), ("json-string", "application/json; charset=utf-8"),
    ("object", "application/json; charset=utf-8")])
def test_sign_in_answers(server: LocalServer, shape: str, content_type: str) -> None:
    server.settings.variants.sign_in_answer = shape
    server.settings.variants.sign_in_field = "accessToken"
    answer = requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == content_type
    if shape == "text":
        bearer = answer.text
        assert not bearer.startswith('"')
    elif shape == "json-string":
        assert answer.text.startswith('"')
        bearer = answer.json()
    else:
        assert list(answer.json()) == ["accessToken"]
        bearer = answer.json()["accessToken"]
    assert bearer.count(".") == 2, "a JWT"
    users = requests.get(f"{server.base_url}/Users", timeout=5,
                         headers={"Authorization": f"Bearer {bearer}"})
    assert users.status_code == 200


@pytest.mark.parametrize(("shape", "ids", "expected"), [
    ("scalar", "int", "1"), ("json-string", "int", '"1"'),
    ("object", "int", '{"datasetUploadId":1}'), ("scalar", "guid", '"G"'),
    ("object", "guid", '{"datasetUploadId":"G"}')])
def test_start_uploading_answers(api: Api, server: LocalServer, shape: str, ids: str,
                                 expected: str) -> None:
    server.settings.variants.ids = ids
    server.settings.variants.start_answer = shape
    server.settings.variants.start_field = "datasetUploadId"
    dataset = api.post("/Datasets", json={"name": "d"}).json()["id"]
    answer = api.post(f"/Datasets/{dataset}/StartUploading")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    session = api.inspect(1)["sessions"][0]
    assert answer.text == expected.replace("G", str(session.get("apiId")))


def chunk_answer(api: Api, server: LocalServer, **variants: object) -> requests.Response:
    """Send a chunk of three images (b.jpg skipped by the server) with these variants."""
    for name, value in variants.items():
        setattr(server.settings.variants, name, value)
    server.settings.variants.chunk_skip = frozenset({"b.jpg"})
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("b.jpg"), Img("c.jpg")])
    # Whatever the answer says, the server stored a and c only.
    assert [i["name"] for i in api.inspect(dataset_id)["images"]] == ["a.jpg", "c.jpg"]
    return answer


def test_chunk_answer_object_lists_what_the_server_skipped(api: Api, server: LocalServer) -> None:
    answer = chunk_answer(api, server)
    assert answer.status_code == 200
    assert answer.json() == {"datasetId": 1, "datasetUploadId": 1, "accepted": 2,
                             "imageIds": [1, 2],
                             "skipped": [{"index": 1, "name": "b.jpg",
                                          "reason": "skipped by the server"}]}


def test_chunk_answer_empty(api: Api, server: LocalServer) -> None:
    answer = chunk_answer(api, server, chunk_answer="empty")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["Content-Length"] == "0"


def test_chunk_answer_list(api: Api, server: LocalServer) -> None:
    answer = chunk_answer(api, server, chunk_answer="list")
    assert answer.json() == [{"id": 1, "name": "a.jpg"}, {"id": 2, "name": "c.jpg"}]


def test_chunk_answer_only_skipped(api: Api, server: LocalServer) -> None:
    answer = chunk_answer(api, server, chunk_answer="skipped")
    assert answer.json() == {"skippedImages": ["b.jpg"]}


@pytest.mark.parametrize("status", [201, 202])
def test_chunk_status(api: Api, server: LocalServer, status: int) -> None:
    answer = chunk_answer(api, server, chunk_status=status, chunk_answer="list")
    assert answer.status_code == status and len(answer.json()) == 2


def test_chunk_status_204_has_no_body(api: Api, server: LocalServer) -> None:
    answer = chunk_answer(api, server, chunk_status=204)
    assert answer.status_code == 204 and answer.content == b""


def test_a_chunk_with_every_image_skipped(api: Api, server: LocalServer) -> None:
    server.settings.variants.chunk_skip = frozenset({"a.jpg"})
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    assert answer.json()["accepted"] == 0 and answer.json()["skipped"][0]["name"] == "a.jpg"
    assert api.inspect(dataset_id)["images"] == []


def test_other_answers_keep_their_shape(api: Api, server: LocalServer) -> None:
    server.settings.variants.chunk_status = 204
    server.settings.variants.start_answer = "object"
    dataset_id = api.dataset()
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": "c"}).json() == {
        "id": 1, "datasetId": 1, "name": "c"}
    assert api.finish(dataset_id, api.post(f"/Datasets/{dataset_id}/StartUploading").json()["id"]
                      ).status_code == 200


def test_serve_answer_flags(tmp_path: Path) -> None:
    with serving(tmp_path, "--sign-in-answer", "object", "--sign-in-field", "jwt",
                 "--start-answer", "json-string", "--chunk-answer", "list", "--chunk-status",
                 "202", "--chunk-skip", "b.jpg") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).json()["jwt"]
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "x"}, headers=headers, timeout=5)
        session = requests.post(f"{url}/Datasets/1/StartUploading", headers=headers,
                                timeout=5).json()
        assert session == "1"
        answer = requests.post(f"{url}/Images/UploadChunk", headers=headers, timeout=5, data={
            "datasetId": "1", "datasetUploadId": session, "imagesMetadata[0][name]": "a.jpg",
            "imagesMetadata[1][name]": "b.jpg"}, files=[
                ("imagesFiles", ("a.jpg", Img("a.jpg").data)),
                ("imagesFiles", ("b.jpg", Img("b.jpg").data))])
        assert answer.status_code == 202
        assert json.loads(answer.text) == [{"id": 1, "name": "a.jpg"}]
