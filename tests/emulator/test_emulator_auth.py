"""Sign-in, bearer tokens, 401s with WWW-Authenticate, and token expiry."""

from __future__ import annotations

import time

import pytest
import requests

from osai_import.emulator import EmulatorSettings, LocalServer

from .support import TOKEN, Api

PROTECTED = [
    ("GET", "/Users"), ("POST", "/Datasets"), ("POST", "/Categories"),
    ("POST", "/Datasets/1/StartUploading"), ("POST", "/Datasets/1/FinishUploading"),
    ("POST", "/Images/UploadChunk"),
]


def test_sign_in_answers_a_plain_text_token(server: LocalServer) -> None:
    answer = requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.count(".") == 2 and '"' not in answer.text
    users = requests.get(f"{server.base_url}/Users",
                         headers={"Authorization": f"Bearer {answer.text}"})
    assert users.status_code == 200 and "id" in users.json()


def test_sign_in_with_a_wrong_token_is_401(server: LocalServer) -> None:
    answer = requests.post(f"{server.base_url}/Users/SignIn", json="wrong")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The access token is not valid."


@pytest.mark.parametrize(("kwargs", "status", "words"), [
    ({"json": {"token": TOKEN}}, 400, "System.String"),
    ({"data": "{nope", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ({"data": "", "headers": {"Content-Type": "application/json"}}, 400, "non-empty"),
    ({"data": TOKEN, "headers": {"Content-Type": "text/plain"}}, 415, "not JSON"),
])
def test_sign_in_wants_a_json_string(server: LocalServer, kwargs: dict[str, object],
                                     status: int, words: str) -> None:
    answer = requests.post(f"{server.base_url}/Users/SignIn", **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == status
    assert words in answer.text


def test_generated_token(tmp_path: object) -> None:
    with LocalServer(EmulatorSettings(data_dir=tmp_path)) as server:  # type: ignore[arg-type]
        assert len(server.token) >= 20
        assert requests.post(f"{server.base_url}/Users/SignIn", json=server.token).ok


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_every_endpoint_needs_a_bearer_token(server: LocalServer, method: str, path: str,
                                             authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = requests.request(method, f"{server.base_url}{path}", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    if authorization == "Bearer not.a.jwt":
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_bearer_token_expires_then_sign_in_again(api: Api, server: LocalServer) -> None:
    server.settings.jwt_ttl = 0.6
    api.bearer = api.sign_in()
    assert api.post("/Datasets", json={"name": "fresh"}).status_code == 200
    time.sleep(0.7)
    answer = api.post("/Datasets", json={"name": "stale"})
    assert answer.status_code == 401
    header = answer.headers["WWW-Authenticate"]
    assert header.startswith('Bearer error="invalid_token"') and "expired" in header
    assert "expired" in answer.json()["detail"]
    api.bearer = api.sign_in()
    assert api.post("/Datasets", json={"name": "again"}).status_code == 200


def test_tokens_outlive_a_restart_but_not_a_new_access_token(settings: EmulatorSettings) -> None:
    with LocalServer(settings) as first:
        bearer = Api(first).bearer
    with LocalServer(settings) as second:
        answer = requests.get(f"{second.base_url}/Users",
                              headers={"Authorization": f"Bearer {bearer}"})
        assert answer.status_code == 200
    settings.token = "another-token"
    with LocalServer(settings) as third:
        answer = requests.get(f"{third.base_url}/Users",
                              headers={"Authorization": f"Bearer {bearer}"})
        assert answer.status_code == 401
