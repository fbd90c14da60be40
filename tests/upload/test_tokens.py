"""Bearer tokens refused however a server refuses them, and a sign-in that wants a URL.

Real HTTP on loopback: the local server with short-lived tokens refused by a 401 or a 403,
with or without a body or a challenge, and in its legacy sign-in variant; small servers
for the legacy forms it does not offer.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from osai_import.errors import AuthError, LegacySignInError, UnexpectedResponseError
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent
from tests.support import make_image
from tests.upload.emulated import FAST, TOKEN, requests_seen, serve, stored
from tests.upload.wire import Exchange, WireServer, api, reply, send

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
    assert events == [] and not isinstance(error, LegacySignInError)


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


# --- the legacy sign-in is never used --------------------------------------------------

def assert_legacy_refused(error: LegacySignInError, status: int) -> None:
    """Check the one line a user sees when only the legacy sign-in answers."""
    message = str(error)
    assert isinstance(error, AuthError) and "\n" not in message
    assert (error.status, error.endpoint) == (status, "POST /Users/SignIn")
    for part in ("only the legacy sign-in", "GET /Users/SignIn?token=", "in the URL",
                 "osai-import refuses to use it", "server.url", "OSAI's current API"):
        assert part in message, part
    assert TOKEN not in message


def test_a_server_with_only_the_legacy_sign_in_is_refused_without_a_token_in_a_url(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="osai_import.emulator")
    with serve(tmp_path, sign_in="legacy-get") as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        with pytest.raises(LegacySignInError) as caught:
            client.sign_in()
        with pytest.raises(LegacySignInError):
            client.create_dataset("never")  # every call says the same, none uses the GET
        seen = requests_seen(server, "(unknown)")
    assert_legacy_refused(caught.value, 405)
    lines = [r.getMessage() for r in caplog.records if r.name == "osai_import.emulator"]
    signing = [line for line in lines if "signin" in line.lower()]
    assert len(signing) == 2 and all('"POST /api/Users/SignIn HTTP/1.1" 405' in line
                                     for line in signing), lines
    assert not any(TOKEN[:8] in line for line in lines), lines
    assert seen == {"405": 2}


def legacy(post: bytes, get: bytes) -> WireServer:
    """Return a small server answering POST and GET /Users/SignIn as given."""
    def route(server: WireServer, exchange: Exchange, sock: socket.socket) -> bool:
        return send(sock, post if exchange.method == "POST" else get)
    return WireServer(api({"/Users/SignIn": route}))


def assert_no_token_in_a_url(server: WireServer) -> None:
    """Check the access token went, if anywhere, only in a POST body."""
    for exchange in server.exchanges:
        target = exchange.path + repr(exchange.query)
        assert TOKEN not in target and TOKEN[:8] not in target
        assert TOKEN not in repr(exchange.headers)
        if exchange.method != "POST":
            assert exchange.query == {} and TOKEN.encode() not in exchange.body


@pytest.mark.parametrize(("post", "get", "status"), [
    # A 404 to the POST: the GET, asked without a token, says the field is missing.
    (reply(404, ""), reply(400, '{"errors": {"token": ["The token field is required."]}}',
                           "application/problem+json"), 404),
    # A 405 that does not say what is allowed: the GET answers 401.
    (reply(405, "", headers={}), reply(401, "", headers={"WWW-Authenticate": "Bearer"}), 405),
    # A 405 naming GET among others: no need to ask.
    (reply(405, "", headers={"Allow": "HEAD, get"}), reply(500, "never asked"), 405),
])
def test_the_legacy_sign_in_is_told_by_status_and_structure(
        post: bytes, get: bytes, status: int) -> None:
    with legacy(post, get) as server, OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(LegacySignInError) as caught:
        client.sign_in()
    assert_legacy_refused(caught.value, status)
    assert_no_token_in_a_url(server)
    methods = [e.method for e in server.seen("/Users/SignIn")]
    assert methods == (["POST"] if b"Allow" in post else ["POST", "GET"])
    assert server.seen("/Users/SignIn")[0].json() == TOKEN  # the POST, in its body


@pytest.mark.parametrize(("post", "get"), [
    (reply(404, ""), reply(404, "")),  # no sign-in at this path at all: a wrong URL
    (reply(405, "", headers={"Allow": "PUT"}), reply(405, "", headers={"Allow": "PUT"})),
])
def test_no_sign_in_at_all_is_a_wrong_url_not_the_legacy_form(post: bytes, get: bytes) -> None:
    with legacy(post, get) as server, OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(UnexpectedResponseError) as caught:
        client.sign_in()
    assert not isinstance(caught.value, AuthError)
    assert "server.url is the API root" in str(caught.value)
    assert [e.method for e in server.exchanges] == ["POST", "GET"]
    assert_no_token_in_a_url(server)
