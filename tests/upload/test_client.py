"""Tests of the OSAI client over real HTTP against the local server on loopback."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request

from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.errors import (
    AuthError,
    CancelledError,
    ConfigError,
    DuplicateCategoryError,
    ItemReadError,
    RejectedError,
    ServerError,
    TooLargeError,
    TransientError,
    UnexpectedResponseError,
    UnreachableError,
    UnsendableNameError,
)
from osai_import.plugin.base import Annotation
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem, encode_chunk
from osai_import.upload.refusals import Redactor, parse_problem
from osai_import.upload.retry import RetryEvent, RetryPolicy, parse_retry_after
from tests.support import make_image
from tests.upload.emulated import requests_seen, stored

TOKEN = "access-token-5f1c2e9a7b"
FAST = RetryPolicy(attempts=10, base=0.001, cap=0.01, retry_after_cap=0.02)


def voc(boxes: list[tuple[str, int, int, int, int]]) -> bytes:
    """Return a Pascal VOC document for a 32x24 image; boxes are (name, x0, y0, x1, y1)."""
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><xmax>{c}</xmax><ymin>{b}</ymin>"
        f"<ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in boxes)
    return (f"<annotation><filename>x.jpg</filename><size><width>32</width><height>24</height>"
            f"<depth>3</depth></size>{objects}</annotation>").encode()


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    """Return emulator settings on a fresh data folder, with fast Retry-After answers."""
    return EmulatorSettings(data_dir=tmp_path / "osai", token=TOKEN, seed=1, retry_after=0.01)


@pytest.fixture
def server(settings: EmulatorSettings) -> Iterator[LocalServer]:
    """Run the local server for one test."""
    with LocalServer(settings) as running:
        yield running


@pytest.fixture
def events() -> list[RetryEvent]:
    """Collect the retry events of the test's client."""
    return []


@pytest.fixture
def client(server: LocalServer, events: list[RetryEvent]) -> Iterator[OsaiClient]:
    """Return a client of the test's server with fast retries."""
    with OsaiClient(server.base_url, server.token, retry=FAST, timeout=10,
                    on_retry=events.append) as made:
        yield made


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Write five real images (JPEG and PNG) of distinct content."""
    return [make_image(tmp_path / "img" / f"im{i}.{'png' if i % 2 else 'jpg'}",
                       color=(40 * i, 20, 200 - 30 * i)) for i in range(5)]


def ready(client: OsaiClient, name: str = "ds") -> tuple[Any, Any, Any]:
    """Create a dataset with a category 'cat' and start uploading; return the three ids."""
    dataset = client.create_dataset(name)
    category = client.create_category(dataset.id, "cat")
    return dataset.id, category.id, client.start_uploading(dataset.id)


# --- sign-in -----------------------------------------------------------------------------

def test_sign_in_then_current_user(client: OsaiClient) -> None:
    client.sign_in()
    user = client.current_user()
    assert isinstance(user, dict) and user["id"] == 1
    assert TOKEN not in repr(client) and "signed_in=True" in repr(client)


def test_calls_sign_in_by_themselves(client: OsaiClient, server: LocalServer) -> None:
    assert client.create_dataset("lazy").name == "lazy"
    assert requests_seen(server, "SignIn") == {"200": 1}


def test_wrong_token_is_an_auth_error_that_names_the_fix(server: LocalServer) -> None:
    wrong = "wrong-token-0123456789"
    with OsaiClient(server.base_url, wrong, retry=FAST) as client, \
            pytest.raises(AuthError) as caught:
        client.sign_in()
    message = str(caught.value)
    assert "OSAI_TOKEN" in message and "new access token" in message
    assert wrong not in message and TOKEN not in message
    assert isinstance(caught.value, ServerError) and caught.value.status in (400, 401)


def test_empty_token_fails_before_any_request(server: LocalServer) -> None:
    with OsaiClient(server.base_url, "  ", retry=FAST) as client, pytest.raises(AuthError):
        client.current_user()
    assert requests_seen(server, "SignIn") == {}


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="/api"):
        OsaiClient("app-eu.onestepai.com/api", TOKEN)


def test_base_url_without_api_gives_a_hint(server: LocalServer) -> None:
    with OsaiClient(server.root_url, TOKEN, retry=FAST) as client, \
            pytest.raises(UnexpectedResponseError, match="API root") as caught:
        client.sign_in()
    assert caught.value.status == 404


# --- the upload calls --------------------------------------------------------------------

def test_upload_stores_names_bytes_annotations_and_categories(
        client: OsaiClient, server: LocalServer, images: list[Path]) -> None:
    dataset = client.create_dataset("animals")
    cat = client.create_category(dataset.id, "cat")
    dog = client.create_category(dataset.id, "dog")
    assert (dataset.name, cat.name) == ("animals", "cat") and cat.id != dog.id
    upload_id = client.start_uploading(dataset.id)
    assert stored(server, dataset.id)["locked"] is True
    items = [
        ChunkItem("a.jpg", images[0], Annotation(0, voc([("dog", 1, 2, 10, 12)])), cat.id),
        ChunkItem("b é.png", lambda: open(images[1], "rb"), None, dog.id),  # noqa: SIM115 - an opener
        ChunkItem('c"q.jpg', images[2].read_bytes()),
    ]
    result = client.upload_chunk(dataset.id, upload_id, items)
    client.finish_uploading(dataset.id, upload_id)

    assert (result.count, result.attempts, result.maybe_committed) == (3, 1, False)
    assert result.bytes_sent > sum(p.stat().st_size for p in images[:3])
    held = stored(server, dataset.id)
    assert held["locked"] is False and held["sessions"][0]["state"] == "finished"
    by_name = {image["name"]: image for image in held["images"]}
    assert list(by_name) == ["a.jpg", "b é.png", 'c"q.jpg']
    for item, path in zip(items, images, strict=False):
        assert by_name[item.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert by_name["a.jpg"]["annotationType"] == 0
    assert [(o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
            for o in by_name["a.jpg"]["objects"]] == [("dog", 1, 2, 10, 12)]
    assert [by_name[n]["classifyCategoryId"] for n in by_name] == [cat.id, dog.id, None]
    assert by_name["c\"q.jpg"]["annotationType"] is None and by_name["c\"q.jpg"]["objects"] == []


def test_skip_unsupported_reports_the_dropped_names(
        client: OsaiClient, server: LocalServer, images: list[Path]) -> None:
    dataset_id, _, upload_id = ready(client)
    result = client.upload_chunk(dataset_id, upload_id, [
        ChunkItem("ok.jpg", images[0]), ChunkItem("notes.jpg", b"plain text, no image")],
        skip_unsupported=True)
    client.finish_uploading(dataset_id, upload_id)
    assert result.skipped == ("notes.jpg",)
    assert [i["name"] for i in stored(server, dataset_id)["images"]] == ["ok.jpg"]


def test_chunk_body_layout_follows_the_documented_form() -> None:
    items = [ChunkItem("x.jpg", b"\xff\xd8\xff-1", Annotation(0, b"<annotation/>"), 7),
             ChunkItem("y.png", b"\x89PNG\r\n\x1a\n-2")]
    body, content_type = encode_chunk(3, "u-9", items)
    request = Request.from_values(input_stream=io.BytesIO(body), content_length=len(body),
                                  content_type=content_type, method="POST")
    assert list(request.form.items(multi=True)) == [
        ("datasetId", "3"), ("datasetUploadId", "u-9"),
        ("imagesMetadata[0][name]", "x.jpg"), ("imagesMetadata[0][annotationType]", "0"),
        ("imagesMetadata[0][annotation]", base64.b64encode(b"<annotation/>").decode()),
        ("imagesMetadata[0][classifyCategoryId]", "7"),
        ("imagesMetadata[1][name]", "y.png"), ("imagesMetadata[1][annotation]", "")]
    files = request.files.getlist("imagesFiles")
    assert [(f.filename, f.mimetype, f.read()) for f in files] == [
        ("x.jpg", "image/jpeg", b"\xff\xd8\xff-1"), ("y.png", "image/png", b"\x89PNG\r\n\x1a\n-2")]


def test_unreadable_item_is_named_and_nothing_is_sent(
        client: OsaiClient, server: LocalServer, tmp_path: Path, images: list[Path]) -> None:
    dataset_id, _, upload_id = ready(client)
    with pytest.raises(ItemReadError) as caught:
        client.upload_chunk(dataset_id, upload_id, [
            ChunkItem("a.jpg", images[0]), ChunkItem("gone.jpg", tmp_path / "missing.jpg")])
    assert (caught.value.index, caught.value.name) == (1, "gone.jpg")
    assert "gone.jpg" in str(caught.value) and "missing.jpg" in str(caught.value)
    with pytest.raises(UnsendableNameError) as bad_name:
        client.upload_chunk(dataset_id, upload_id, [ChunkItem("a\\b.jpg", images[0])])
    assert bad_name.value.index == 0
    for name in ("a\r\nb.jpg", "caf\udce9.jpg", " "):
        with pytest.raises(UnsendableNameError):
            client.upload_chunk(dataset_id, upload_id, [ChunkItem(name, images[0])])
    assert requests_seen(server, "UploadChunk") == {}


# --- refusals ----------------------------------------------------------------------------

def test_bad_image_is_rejected_with_its_index_and_nothing_stored(
        client: OsaiClient, server: LocalServer, images: list[Path], events: list[RetryEvent]) -> None:
    dataset_id, _, upload_id = ready(client)
    items = [ChunkItem("a.jpg", images[0]), ChunkItem("bad.jpg", b"GIF89a not allowed"),
             ChunkItem("c.jpg", images[2])]
    with pytest.raises(RejectedError) as caught:
        client.upload_chunk(dataset_id, upload_id, items)
    error = caught.value
    assert error.status == 400 and error.image_indexes() == (1,)
    assert error.messages_for(1) and all("bad.jpg" in m for m in error.messages_for(1))
    assert error.messages_for(0) == []
    assert "bad.jpg" in str(error) and "UploadChunk" in str(error)
    assert stored(server, dataset_id)["images"] == [] and events == []


def test_category_of_another_dataset_blames_that_image(
        client: OsaiClient, images: list[Path]) -> None:
    other = client.create_dataset("other")
    foreign = client.create_category(other.id, "foreign")
    dataset_id, cat_id, upload_id = ready(client)
    with pytest.raises(RejectedError) as caught:
        client.upload_chunk(dataset_id, upload_id, [
            ChunkItem("a.jpg", images[0], None, cat_id),
            ChunkItem("b.png", images[1], None, foreign.id)])
    assert caught.value.image_indexes() == (1,)


def test_a_finished_or_idle_session_refuses_a_chunk_whole_and_a_new_one_starts(
        client: OsaiClient, settings: EmulatorSettings, images: list[Path]) -> None:
    # The uploader reads such a refusal by its structure (no image named) and probes with
    # StartUploading, which succeeds exactly when the old session is gone.
    dataset_id, _, upload_id = ready(client)
    client.finish_uploading(dataset_id, upload_id)
    with pytest.raises(RejectedError) as finished:
        client.upload_chunk(dataset_id, upload_id, [ChunkItem("a.jpg", images[0])])
    assert finished.value.status == 400 and finished.value.image_indexes() == ()
    settings.unlock_after = 0.2
    second = client.start_uploading(dataset_id)
    time.sleep(0.3)
    with pytest.raises(RejectedError) as idle:
        client.upload_chunk(dataset_id, second, [ChunkItem("a.jpg", images[0])])
    assert idle.value.image_indexes() == ()
    third = client.start_uploading(dataset_id)
    assert third != second
    assert client.upload_chunk(dataset_id, third, [ChunkItem("a.jpg", images[0])]).count == 1


def test_duplicate_and_locked_category_errors(
        client: OsaiClient, settings: EmulatorSettings) -> None:
    settings.lock_categories = True
    dataset = client.create_dataset("cats")
    client.create_category(dataset.id, "cat")
    with pytest.raises(DuplicateCategoryError) as duplicate:
        client.create_category(dataset.id, "cat")
    assert not duplicate.value.after_lost_answer and "'cat'" in str(duplicate.value)
    upload_id = client.start_uploading(dataset.id)
    with pytest.raises(RejectedError) as locked:
        client.create_category(dataset.id, "dog")
    assert locked.value.dataset_locked and not isinstance(locked.value, DuplicateCategoryError)
    client.finish_uploading(dataset.id, upload_id)


def test_unknown_dataset_is_an_unexpected_404(client: OsaiClient) -> None:
    with pytest.raises(UnexpectedResponseError, match="ids exist") as caught:
        client.start_uploading(98765)
    assert caught.value.status == 404


def test_too_large_is_not_retried(client: OsaiClient, settings: EmulatorSettings,
                                  events: list[RetryEvent], tmp_path: Path) -> None:
    dataset_id, _, upload_id = ready(client)
    image = make_image(tmp_path / "big.jpg")
    settings.max_request_bytes = image.stat().st_size  # the form around it is too much
    with pytest.raises(TooLargeError) as caught:
        client.upload_chunk(dataset_id, upload_id, [ChunkItem("big.jpg", image)])
    assert caught.value.status == 413 and caught.value.attempts == 1 and events == []
    assert "fewer or smaller" in str(caught.value)


# --- retries -----------------------------------------------------------------------------

def test_503_and_429_are_retried_until_every_chunk_is_stored(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        events: list[RetryEvent], images: list[Path]) -> None:
    settings.fail_rate, settings.throttle_rate = 0.25, 0.15
    dataset_id, _, upload_id = ready(client)
    results = [client.upload_chunk(dataset_id, upload_id, [ChunkItem(f"{n}.jpg", images[n % 5])])
               for n in range(12)]
    client.finish_uploading(dataset_id, upload_id)
    statuses = {event.status for event in events}
    assert {503, 429} <= statuses and all(not e.maybe_committed for e in events)
    assert any(r.attempts > 1 for r in results) and not any(r.maybe_committed for r in results)
    held = stored(server, dataset_id)
    assert sorted(i["name"] for i in held["images"]) == sorted(f"{n}.jpg" for n in range(12))
    assert held["duplicates"] == 0 and held["locked"] is False


def test_lost_answers_are_retried_and_flagged_as_maybe_committed(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        events: list[RetryEvent], images: list[Path]) -> None:
    dataset_id, _, upload_id = ready(client)
    settings.lose_rate = 0.4
    results = {f"{n}.jpg": client.upload_chunk(dataset_id, upload_id,
                                               [ChunkItem(f"{n}.jpg", images[n % 5])])
               for n in range(12)}
    client.finish_uploading(dataset_id, upload_id)
    lost = [e for e in events if e.maybe_committed]
    assert {e.status for e in lost} == {500, None}  # a 500 and a dropped connection
    flagged = {name for name, result in results.items() if result.maybe_committed}
    held = stored(server, dataset_id)
    copies: dict[str, set[str]] = {}
    for image in held["images"]:
        copies.setdefault(image["name"], set()).add(image["sha256"])
    assert set(copies) == set(results)
    twice = {i["name"] for i in held["images"] if i["duplicate"]}
    assert twice and twice <= flagged
    assert all(len(hashes) == 1 for hashes in copies.values())  # a retry resends the same bytes


def test_retries_exhausted_name_the_endpoint_status_and_tries(
        server: LocalServer, settings: EmulatorSettings, events: list[RetryEvent]) -> None:
    settings.fail_rate = 1.0
    policy = RetryPolicy(attempts=3, base=0.001, cap=0.001, retry_after_cap=0.001)
    with OsaiClient(server.base_url, TOKEN, retry=policy, on_retry=events.append) as client, \
            pytest.raises(TransientError) as caught:
        client.sign_in()
    error = caught.value
    assert not isinstance(error, UnreachableError)
    assert (error.status, error.attempts, error.endpoint) == (503, 3, "POST /Users/SignIn")
    assert "POST /Users/SignIn failed 3 times" in str(error) and "HTTP 503" in str(error)
    assert [e.attempt for e in events] == [1, 2]


def test_connection_refused_is_unreachable_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(attempts=3, base=0.01, cap=0.02)
    started = time.monotonic()
    with OsaiClient(f"http://127.0.0.1:{port}/api", TOKEN, retry=policy) as client, \
            pytest.raises(UnreachableError) as caught:
        client.create_dataset("nowhere")
    assert time.monotonic() - started < 3
    # Nothing ever answered at that address: two tries, not the policy's three.
    assert caught.value.attempts == 2 and caught.value.maybe_committed is False
    assert f"127.0.0.1:{port}/api" in str(caught.value) and "server.url" in str(caught.value)


def test_retry_after_seconds_and_dates_are_understood() -> None:
    assert parse_retry_after("7") == 7 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490) == 0
    assert [parse_retry_after(v) for v in (None, "", "soon", "nan", "inf")] == [None] * 5
    policy = RetryPolicy(attempts=3, base=1, cap=4, retry_after_cap=30)
    assert 30 <= policy.delay(1, 3600) <= 31 and 2 <= policy.delay(1, 2) <= 3
    assert all(0 <= policy.delay(n, None) <= min(4, 2 ** (n - 1)) for n in range(1, 50))


# --- tokens ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [401, 403])
def test_expired_bearer_token_signs_in_once_for_all_threads(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        events: list[RetryEvent], images: list[Path], status: int) -> None:
    settings.variants.token_status = status  # a 403 is how some servers say "expired"
    dataset_id, _, upload_id = ready(client)
    settings.jwt_ttl = 0.5
    client.sign_in()  # a token that expires in 0.5 s
    time.sleep(0.6)
    settings.jwt_ttl = 3600  # the renewed token must outlive the test
    settings.latency_ms = 50  # so all six requests are in flight with the dead token
    failures: list[BaseException] = []
    barrier = threading.Barrier(6)

    def send(n: int) -> None:
        barrier.wait()
        try:
            client.upload_chunk(dataset_id, upload_id, [ChunkItem(f"{n}.jpg", images[n % 5])])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert requests_seen(server, "SignIn") == {"200": 3}  # fixture's, the 0.5 s one, one renewal
    assert any(e.reauth for e in events) and {e.status for e in events if e.reauth} == {status}
    assert len(stored(server, dataset_id)["images"]) == 6


def test_token_refused_right_after_sign_in_is_an_auth_error(
        client: OsaiClient, settings: EmulatorSettings) -> None:
    settings.jwt_ttl = 0  # every bearer token is dead on arrival
    with pytest.raises(AuthError, match="OSAI_TOKEN") as caught:
        client.create_dataset("never")
    assert caught.value.status == 401


def test_cancel_stops_retries_but_not_finish_uploading(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        images: list[Path]) -> None:
    dataset_id, _, upload_id = ready(client)
    client.retry = RetryPolicy(attempts=50, base=5, cap=5, retry_after_cap=5)
    settings.fail_rate = 1.0
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            client.upload_chunk(dataset_id, upload_id, [ChunkItem("a.jpg", images[0])])
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=send)
    started = time.monotonic()
    worker.start()
    time.sleep(0.2)
    client.cancel()
    worker.join(5)
    assert time.monotonic() - started < 3 and isinstance(outcome[0], CancelledError)
    settings.fail_rate = 0.0
    with pytest.raises(CancelledError):
        client.upload_chunk(dataset_id, upload_id, [ChunkItem("a.jpg", images[0])])
    client.finish_uploading(dataset_id, upload_id)
    assert stored(server, dataset_id)["locked"] is False


def test_secrets_never_reach_messages_or_logs(
        server: LocalServer, settings: EmulatorSettings, caplog: pytest.LogCaptureFixture,
        images: list[Path]) -> None:
    messages: list[str] = []
    caplog.set_level(logging.DEBUG)
    with OsaiClient(server.base_url, TOKEN, retry=FAST, on_retry=lambda e: messages.append(
            repr(e))) as client:
        dataset_id, _, upload_id = ready(client)
        bearer = client._bearer
        assert bearer
        settings.fail_rate, settings.lose_rate = 0.2, 0.3
        for n in range(5):
            client.upload_chunk(dataset_id, upload_id, [ChunkItem(f"{n}.jpg", images[n])])
        settings.fail_rate, settings.lose_rate = 0.0, 0.0
        failing: list[Any] = [
            lambda: client.upload_chunk(dataset_id, upload_id, [ChunkItem("x.jpg", b"no")]),
            lambda: client.create_category(dataset_id, "cat"),
            lambda: client.start_uploading(424242),
        ]
        for call in failing:
            with pytest.raises(ServerError) as caught:
                call()
            messages.append(str(caught.value) + repr(caught.value.__dict__))
        messages.append(repr(client))
        settings.jwt_ttl = 0
        client.sign_in()
        with pytest.raises(AuthError) as auth:
            client.current_user()
        messages.append(str(auth.value))
    with OsaiClient(server.base_url, "bad-" + TOKEN, retry=FAST) as wrong:
        with pytest.raises(AuthError) as refused:
            wrong.sign_in()
        messages.append(str(refused.value))
    text = "\n".join(messages) + caplog.text
    assert "POST /Images/UploadChunk" in caplog.text  # the log does record the requests
    assert TOKEN not in text and bearer not in text and "Bearer" not in caplog.text


def test_echoed_secrets_are_redacted_from_problem_details() -> None:
    redact = Redactor(TOKEN, "eyJhbGciOi.payload0.sig")
    body = ('{"title": "bad token ' + TOKEN + '", "errors": {"token": ["Bearer abc.def is '
            'invalid", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"]}}')
    title, detail, errors, raw = parse_problem(body, redact)
    shown = f"{title}{detail}{errors}{raw}"
    assert TOKEN not in shown and "abc.def" not in shown and "eyJzdWIiOiJ4In0" not in shown
    assert title == "bad token [redacted]" and errors["token"][0] == "Bearer [redacted] is invalid"


def test_problem_keys_of_every_known_shape_blame_an_index() -> None:
    error = RejectedError("x", endpoint="POST /Images/UploadChunk", errors={
        "imagesMetadata[3].annotation": ["bad"], "imagesMetadata[5][name]": ["bad"],
        "ImagesFiles[7]": ["bad"], "datasetId": ["fine"]})
    assert error.image_indexes() == (3, 5, 7) and error.messages_for(5) == [
        "imagesMetadata[5][name]: bad"]
    only_detail = RejectedError("x", endpoint="e", detail="imagesFiles[2]: not an image")
    assert only_detail.image_indexes() == (2,)
    bare = RejectedError("x", endpoint="e", body="<html>Bad Request</html>")
    assert bare.image_indexes() == () and not bare.name_exists


def test_form_value_limit_is_a_rejection_that_says_split(
        client: OsaiClient, settings: EmulatorSettings, images: list[Path]) -> None:
    dataset_id, _, upload_id = ready(client)
    settings.max_form_values = 5
    items = [ChunkItem(f"{n}.jpg", images[n], None, None) for n in range(3)]
    with pytest.raises(RejectedError) as caught:
        client.upload_chunk(dataset_id, upload_id, items)
    assert caught.value.status == 400 and caught.value.image_indexes() == ()
    result = client.upload_chunk(dataset_id, upload_id, items[:1])  # 4 values fit
    assert result.count == 1


def test_many_threads_share_one_client_under_faults(
        client: OsaiClient, server: LocalServer, settings: EmulatorSettings,
        events: list[RetryEvent], images: list[Path]) -> None:
    dataset_id, cat_id, upload_id = ready(client)
    settings.fail_rate, settings.throttle_rate, settings.lose_rate = 0.1, 0.05, 0.1
    settings.latency_ms = 5
    results: dict[str, Any] = {}

    def send(worker: int) -> None:
        for n in range(5):
            name = f"w{worker}-{n}.jpg"
            item = ChunkItem(name, images[n], Annotation(0, voc([("cat", 1, 1, 9, 9)])), cat_id)
            try:
                results[name] = client.upload_chunk(dataset_id, upload_id, [item])
            except BaseException as error:
                results[name] = error

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.finish_uploading(dataset_id, upload_id)
    assert all(not isinstance(r, BaseException) for r in results.values()), results
    assert events, "faults were injected, so some calls must have been retried"
    held = stored(server, dataset_id)
    assert {i["name"] for i in held["images"]} == set(results) and len(results) == 40
    flagged = {name for name, r in results.items() if r.maybe_committed}
    assert {i["name"] for i in held["images"] if i["duplicate"]} <= flagged
    assert all(i["classifyCategoryId"] == cat_id and len(i["objects"]) == 1
               for i in held["images"])
