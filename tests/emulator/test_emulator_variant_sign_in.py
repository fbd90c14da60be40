"""Sign-in variants: POST with a JSON string (documented), or only the legacy GET ?token=."""

from __future__ import annotations

from pathlib import Path

import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import TOKEN


def test_post_only_by_default(server: LocalServer) -> None:
    url = f"{server.base_url}/Users/SignIn"
    assert requests.post(url, json=TOKEN, timeout=5).status_code == 200
    legacy = requests.get(url, params={"token": TOKEN}, timeout=5)
    assert legacy.status_code == 405 and legacy.headers["Allow"] == "POST"


def test_legacy_get_only(server: LocalServer) -> None:
    server.settings.variants.sign_in = "legacy-get"
    url = f"{server.base_url}/Users/SignIn"
    post = requests.post(url, json=TOKEN, timeout=5)
    assert post.status_code == 405 and post.headers["Allow"] == "GET"
    answer = requests.get(url, params={"Token": TOKEN}, timeout=5)
    assert answer.status_code == 200 and answer.text.count(".") == 2
    users = requests.get(f"{server.base_url}/Users", timeout=5,
                         headers={"Authorization": f"Bearer {answer.text}"})
    assert users.status_code == 200
    wrong = requests.get(url, params={"token": "wrong"}, timeout=5)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "The access token is not valid."
    # Without a token it says what it wants, so a client can tell the legacy form is there
    # without putting the token in a URL.
    bare = requests.get(url, timeout=5)
    assert bare.status_code == 400
    assert bare.json()["errors"] == {"token": ["The token field is required."]}


def test_legacy_answers_in_the_shape_asked(server: LocalServer) -> None:
    server.settings.variants.sign_in = "legacy-get"
    server.settings.variants.sign_in_answer = "object"
    answer = requests.get(f"{server.base_url}/Users/SignIn", params={"token": TOKEN}, timeout=5)
    assert list(answer.json()) == ["token"]


def test_serve_sign_in_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--sign-in", "legacy-get") as (url, token):
        assert requests.post(f"{url}/Users/SignIn", json=token, timeout=5).status_code == 405
        assert requests.get(f"{url}/Users/SignIn", params={"token": token},
                            timeout=5).status_code == 200
