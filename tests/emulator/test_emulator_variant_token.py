"""Token-refusal variants: an expired bearer token answered 401 or 403, with or without extras."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import TOKEN, Api


def expired(server: LocalServer) -> dict[str, str]:
    """Sign in with a zero lifetime and return headers holding the (already dead) token."""
    server.settings.jwt_ttl = 0
    bearer = requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN, timeout=5).text
    server.settings.jwt_ttl = 3600
    return {"Authorization": f"Bearer {bearer}"}


def create(server: LocalServer, headers: dict[str, str]) -> requests.Response:
    """Try to create a dataset."""
    return requests.post(f"{server.base_url}/Datasets", json={"name": "x"}, headers=headers,
                         timeout=5)


def test_401_with_body_and_challenge_by_default(server: LocalServer) -> None:
    answer = create(server, expired(server))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "expired" in answer.headers["WWW-Authenticate"]
    assert answer.json()["detail"].startswith("The bearer token is refused: The token expired")


@pytest.mark.parametrize(("status", "body", "challenge"), [
    (401, False, True), (401, True, False), (401, False, False),
    (403, True, True), (403, False, False)])
def test_variants(server: LocalServer, status: int, body: bool, challenge: bool) -> None:
    variants = server.settings.variants
    variants.token_status, variants.token_body, variants.token_challenge = status, body, challenge
    for headers in (expired(server), {}, {"Authorization": "Bearer not-a-jwt"}):
        answer = create(server, headers)
        assert answer.status_code == status
        assert ("WWW-Authenticate" in answer.headers) is challenge
        if body:
            assert answer.json()["status"] == status
            assert answer.json()["title"] == ("Forbidden" if status == 403 else "Unauthorized")
        else:
            assert answer.content == b"" and "Content-Type" not in answer.headers
    assert requests.get(f"{server.root_url}/_emulator/datasets", timeout=5).json() == []


def test_a_fresh_token_works_and_sign_in_keeps_its_401(server: LocalServer) -> None:
    server.settings.variants.token_status = 403
    server.settings.variants.token_body = False
    wrong = requests.post(f"{server.base_url}/Users/SignIn", json="wrong", timeout=5)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "The access token is not valid."
    api = Api(server)
    assert create(server, api.headers).status_code == 200


def test_serve_token_flags(tmp_path: Path) -> None:
    with serving(tmp_path, "--jwt-ttl", "0", "--token-status", "403", "--no-token-body",
                 "--no-token-challenge") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        answer = requests.get(f"{url}/Users", headers={"Authorization": f"Bearer {bearer}"},
                              timeout=5)
        assert (answer.status_code, answer.content) == (403, b"")
        assert "WWW-Authenticate" not in answer.headers
