"""Session-gone variants: a chunk for a finished or expired upload session."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api, Img


def gone(api: Api, server: LocalServer, how: str) -> tuple[int, int]:
    """Return (dataset id, session id) of a session that is finished or expired."""
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    if how == "finished":
        assert api.finish(dataset_id, session_id).status_code == 200
    else:
        server.settings.unlock_after = 0  # idle for 0 s: expired at the next look
    return dataset_id, session_id


@pytest.mark.parametrize(("how", "why"), [
    ("finished", "it was finished"), ("expired", "it expired after 0 s without an accepted chunk")])
def test_400_naming_the_cause_by_default(api: Api, server: LocalServer, how: str,
                                         why: str) -> None:
    dataset_id, session_id = gone(api, server, how)
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    assert answer.status_code == 400
    assert answer.json()["errors"]["datasetUploadId"] == [
        f"Upload session 1 of dataset 1 is not active: {why}. Call StartUploading to start a "
        "new upload session."]
    assert api.finish(dataset_id, session_id).status_code == 200


@pytest.mark.parametrize("how", ["finished", "expired"])
@pytest.mark.parametrize(("status", "detail", "expected"), [
    (404, None, "is not active"), (410, None, "is not active"),
    (400, "Upload not found", "Upload not found"), (410, "gone", "gone")])
def test_variants(api: Api, server: LocalServer, how: str, status: int, detail: str | None,
                  expected: str) -> None:
    server.settings.variants.session_gone_status = status
    server.settings.variants.session_gone_detail = detail
    dataset_id, session_id = gone(api, server, how)
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    assert answer.status_code == status and expected in answer.json()["detail"]
    if status == 400:
        assert answer.json()["errors"] == {"datasetUploadId": [expected]}
    assert api.inspect(dataset_id)["images"] == []


def test_no_body(api: Api, server: LocalServer) -> None:
    server.settings.variants.session_gone_status = 404
    server.settings.variants.session_gone_detail = ""
    dataset_id, session_id = gone(api, server, "finished")
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    assert (answer.status_code, answer.content) == (404, b"")


@pytest.mark.parametrize("how", ["finished", "expired"])
def test_finish_of_a_gone_session(api: Api, server: LocalServer, how: str) -> None:
    server.settings.variants.session_gone_status = 410
    server.settings.variants.session_gone_on_finish = True
    dataset_id, session_id = gone(api, server, how)
    answer = api.finish(dataset_id, session_id)
    assert answer.status_code == 410 and "is not active" in answer.json()["detail"]
    # An active session still finishes with a 200.
    server.settings.unlock_after = 300
    assert api.finish(dataset_id, api.start(dataset_id)).status_code == 200


def test_unknown_sessions_keep_their_400(api: Api, server: LocalServer) -> None:
    server.settings.variants.session_gone_status = 404
    dataset_id = api.dataset()
    answer = api.chunk(dataset_id, 99, [Img("a.jpg")])
    assert answer.status_code == 400 and "does not exist" in answer.text


def test_serve_session_gone_flags(tmp_path: Path) -> None:
    with serving(tmp_path, "--session-gone-status", "410", "--session-gone-detail", "",
                 "--session-gone-on-finish") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        requests.post(f"{url}/Datasets/1/StartUploading", headers=headers, timeout=5)
        finishes = [requests.post(f"{url}/Datasets/1/FinishUploading?datasetUploadId=1",
                                  headers=headers, timeout=5) for _ in range(2)]
        assert [(f.status_code, f.content) for f in finishes] == [(200, b""), (410, b"")]


@pytest.mark.parametrize("status", [400, 409, 423])
def test_a_locked_dataset_refuses_start_uploading_with_the_status_asked(
        api: Api, server: LocalServer, status: int) -> None:
    server.settings.variants.locked_status = status
    dataset_id = api.dataset()
    first = api.start(dataset_id)
    answer = api.post(f"/Datasets/{dataset_id}/StartUploading")
    assert answer.status_code == status
    assert f"is locked by upload session {first}" in answer.json()["detail"]
    assert ("errors" in answer.json()) == (status == 400)
    assert api.finish(dataset_id, first).status_code == 200
    assert api.start(dataset_id) != first


def test_serve_locked_status_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--locked-status", "423") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        starts = [requests.post(f"{url}/Datasets/1/StartUploading", headers=headers, timeout=5)
                  for _ in range(2)]
        assert [s.status_code for s in starts] == [200, 423]
