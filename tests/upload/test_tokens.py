"""Bearer tokens refused however a server refuses them.

Real HTTP on loopback: the local server with short-lived tokens refused by a 401 or a 403,
with or without a body or a challenge.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from osai_import.errors import AuthError
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent
from tests.support import make_image
from tests.upload.emulated import FAST, TOKEN, requests_seen, serve, stored

TTL = 0.4  # seconds a bearer token lives in the runs that outlive it


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Write three real images of distinct content."""
    return [make_image(tmp_path / "img" / f"im{i}.jpg", color=(70 * i, 30, 90))
            for i in range(3)]


# --- a token that expires mid-run ------------------------------------------------------

@pytest.mark.parametrize(("status", "body", "challenge"), [
    (403, True, True), (403, False, True), (403, True, False), (403, False, False),
    (401, False, False)])
def test_a_token_that_expires_between_calls_is_renewed_however_it_is_refused(
        tmp_path: Path, images: list[Path], status: int, body: bool, challenge: bool) -> None:
    events: list[RetryEvent] = []
    with serve(tmp_path, jwt_ttl=TTL, token_status=status, token_body=body,
               token_challenge=challenge) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST, on_retry=events.append) as client:

        def later() -> None:
            time.sleep(TTL + 0.05)  # the token of the last call is dead now

        dataset = client.create_dataset("expiring")
        later()
        cat = client.create_category(dataset.id, "cat")
        later()
        upload_id = client.start_uploading(dataset.id)
        for n, path in enumerate(images):
            later()
            client.upload_chunk(dataset.id, upload_id, [ChunkItem(f"{n}.jpg", path, None, cat.id)])
        later()
        client.finish_uploading(dataset.id, upload_id)
        refused = {name: requests_seen(server, name).get(str(status), 0) for name in (
            "Categories", "StartUploading", "UploadChunk", "FinishUploading")}
        signed_in = requests_seen(server, "SignIn")
        held = stored(server, dataset.id)
    assert refused == {"Categories": 1, "StartUploading": 1, "UploadChunk": 3,
                       "FinishUploading": 1}
    renewals = [e for e in events if e.reauth]
    assert len(renewals) == 6 and {e.status for e in renewals} == {status}
    assert signed_in == {"200": 7}
    assert [(i["name"], i["duplicate"]) for i in held["images"]] == [
        ("0.jpg", False), ("1.jpg", False), ("2.jpg", False)]
    assert held["locked"] is False and held["sessions"][0]["state"] == "finished"


def test_a_403_on_a_token_signed_in_for_the_call_is_the_user_s_rights(tmp_path: Path) -> None:
    events: list[RetryEvent] = []
    with serve(tmp_path, jwt_ttl=0, token_status=403, token_body=False) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST, on_retry=events.append) as client:
        with pytest.raises(AuthError) as caught:
            client.create_dataset("forbidden")
        assert requests_seen(server, "SignIn") == {"200": 1}  # no sign-in after a fresh one
        assert requests_seen(server, "Datasets") == {"403": 1}
    error = caught.value
    assert error.status == 403 and error.endpoint == "POST /Datasets"
    assert "forbidden (HTTP 403)" in str(error) and "user may do this" in str(error)
    assert events == []


def test_a_403_is_renewed_once_per_call_then_is_the_user_s_rights(tmp_path: Path) -> None:
    events: list[RetryEvent] = []
    with serve(tmp_path, jwt_ttl=0.2, token_status=403) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST, on_retry=events.append) as client:
        client.sign_in()
        time.sleep(0.25)
        server.settings.jwt_ttl = 0  # the renewed token is refused too, as a 403
        with pytest.raises(AuthError, match="user may do this") as caught:
            client.create_dataset("forbidden")
        assert requests_seen(server, "SignIn") == {"200": 2}
        assert requests_seen(server, "Datasets") == {"403": 2}
    assert caught.value.status == 403
    assert [(e.status, e.reauth) for e in events] == [(403, True)]


def test_a_401_after_signing_in_again_still_renews_up_to_the_bound(tmp_path: Path) -> None:
    with serve(tmp_path, jwt_ttl=0, token_status=401, token_body=False,
               token_challenge=False) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        with pytest.raises(AuthError, match="OSAI_TOKEN") as caught:
            client.create_dataset("never")
        assert requests_seen(server, "SignIn") == {"200": 4}  # the first and 3 renewals
    assert caught.value.status == 401 and "right after signing in" in str(caught.value)
