"""What counts as the API's answer, and recovery decided by status and structure.

Real HTTP on loopback against small servers that answer as a proxy, a portal or a
service of unknown wording would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from osai_import.errors import (
    DuplicateCategoryError,
    ForeignAnswerError,
    RejectedError,
    TransientError,
    UnexpectedResponseError,
)
from osai_import.upload.answers import read_body, skipped_names
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent, RetryPolicy
from tests.upload.wire import WireServer, answer, api, lost_then, reply

TOKEN = "tok-93be1f0c7a2d4e58"
FAST = RetryPolicy(attempts=3, base=0.001, cap=0.001, retry_after_cap=0.001)
JPEG = b"\xff\xd8\xff" + b"\x00" * 100
PORTAL = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>\n<title>\n  Wi-Fi &amp; Guest "
          "login\n</title></head><body>Accept the terms to go on.</body></html>")


def items(*names: str) -> list[ChunkItem]:
    """Return chunk items of a tiny JPEG under ``names``."""
    return [ChunkItem(name, JPEG) for name in names]


# --- a 2xx that is not the API's is no acknowledgement -------------------------------

def test_an_html_200_on_upload_chunk_is_never_success_and_names_the_page() -> None:
    events: list[RetryEvent] = []
    routes = {"/UploadChunk": answer(reply(200, PORTAL, "text/html; charset=utf-8"))}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST, on_retry=events.append) as client:
        with pytest.raises(ForeignAnswerError) as caught:
            client.upload_chunk(1, 7, items("a.jpg"))
        assert len(server.seen("/UploadChunk")) == 3
    error = caught.value
    assert isinstance(error, TransientError)
    assert (error.endpoint, error.status, error.attempts) == ("POST /Images/UploadChunk", 200, 3)
    assert error.maybe_committed is True  # a proxy may have passed the request on
    assert error.title == "Wi-Fi & Guest login"
    assert error.content_type == "text/html; charset=utf-8"
    message = str(error)
    for part in ("POST /Images/UploadChunk", "something other than OSAI's API answered",
                 "HTTP 200", "text/html", "'Wi-Fi & Guest login'", "captive portal"):
        assert part in message, part
    assert "Accept the terms" not in message  # the title, not the page
    assert [(e.status, e.maybe_committed) for e in events] == [(200, True), (200, True)]


def test_a_page_then_a_real_answer_is_a_retried_success_that_may_be_stored_twice() -> None:
    routes = {"/UploadChunk": answer(reply(200, PORTAL, "text/html"),
                                     reply(200, '{"accepted": 1}', "application/json"))}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        result = client.upload_chunk(1, 7, items("a.jpg"))
    assert (result.attempts, result.maybe_committed, result.body) == (2, True, {"accepted": 1})


HTML_PAGES = {
    "text/html": reply(200, "<p>hi</p>", "text/html"),
    "xhtml": reply(200, "<x/>", "application/xhtml+xml"),
    "doctype in text/plain": reply(200, "\r\n  <!DocType HTML><title>Proxy</title>",
                                   "text/plain"),
    "html without a type": reply(200, " <HTML><head><title>Proxy</title>"),
    "JSON that is not": reply(200, "<not json>", "application/json"),
    "problem+json that is not": reply(200, "{oops", "application/problem+json"),
}
CALLS: dict[str, tuple[str, Callable[[OsaiClient], Any]]] = {
    "POST /Users/SignIn": ("/Users/SignIn", lambda c: c.sign_in()),
    "GET /Users": ("/api/Users", lambda c: c.current_user()),
    "POST /Datasets": ("/api/Datasets", lambda c: c.create_dataset("d")),
    "POST /Categories": ("/Categories", lambda c: c.create_category(1, "cat")),
    "POST /Datasets/{id}/StartUploading": ("/StartUploading", lambda c: c.start_uploading(1)),
    "POST /Images/UploadChunk": ("/UploadChunk",
                                 lambda c: c.upload_chunk(1, 7, items("a.jpg"))),
    "POST /Datasets/{id}/FinishUploading": ("/FinishUploading",
                                            lambda c: c.finish_uploading(1, 7)),
}


@pytest.mark.parametrize("endpoint", list(CALLS))
@pytest.mark.parametrize("page", list(HTML_PAGES))
def test_no_endpoint_takes_a_page_for_an_answer(endpoint: str, page: str) -> None:
    suffix, call = CALLS[endpoint]
    with WireServer(api({suffix: answer(HTML_PAGES[page])})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(ForeignAnswerError) as caught:
        call(client)
        assert len(server.seen(suffix)) == 3
    assert caught.value.endpoint == endpoint and caught.value.status == 200
    assert ("page title 'Proxy'" in str(caught.value)) == (b"<title>Proxy" in HTML_PAGES[page])


@pytest.mark.parametrize(("answered", "body"), [
    (reply(200), None),
    (reply(201, '{"imageIds": [4]}', "application/json"), {"imageIds": [4]}),
    (reply(202, "[4]", "application/json; charset=utf-8"), [4]),
    (reply(204), None),
    (reply(200, "OK", "text/plain"), None),
    (reply(200, "  ", "application/json"), None),
], ids=["200 empty", "201 object", "202 list", "204", "200 text", "200 blank JSON"])
def test_upload_chunk_takes_every_acknowledgement_the_api_may_send(
        answered: bytes, body: Any) -> None:
    with WireServer(api({"/UploadChunk": answer(answered)})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        result = client.upload_chunk(1, 7, items("a.jpg"))
        assert len(server.seen("/UploadChunk")) == 1
    assert (result.attempts, result.maybe_committed, result.body) == (1, False, body)


def test_a_2xx_the_api_never_sends_on_upload_chunk_is_no_acknowledgement() -> None:
    routes = {"/UploadChunk": answer(reply(203, "{}", "application/json"))}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(ForeignAnswerError, match="HTTP 203"):
        client.upload_chunk(1, 7, items("a.jpg"))


@pytest.mark.parametrize("answered", [
    {"accepted": 1, "skipped": ["b.gif"]},
    {"skippedImages": [{"name": "b.gif", "reason": "not an image"}]},
    {"UnsupportedImages": [{"index": 1, "reason": "not an image"}]},
    {"skipped": [{"fileName": "b.gif"}], "imageIds": [3]},
], ids=["names", "objects with a name", "objects with an index", "fileName"])
def test_the_images_an_answer_says_it_skipped_are_in_the_result(answered: Any) -> None:
    routes = {"/UploadChunk": answer(reply(200, json.dumps(answered), "application/json"))}
    with WireServer(api(routes)) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        result = client.upload_chunk(1, 7, items("a.jpg", "b.gif"), skip_unsupported=True)
        sent = server.seen("/UploadChunk")[0]
    assert result.skipped == ("b.gif",) and result.count == 2
    assert sent.query["skipUnsupportedImages"] == ["true"]


def test_skipped_names_keeps_what_it_can_name_and_only_that() -> None:
    assert skipped_names({"skipped": ["a", {"name": "b"}, {"index": 0}, {"index": 9}, {}, 3]},
                         ["first"]) == ("a", "b", "first")
    assert skipped_names([{"name": "a"}]) == () and skipped_names({"skipped": "a"}) == ()
    assert skipped_names(None) == () and skipped_names({"imageIds": [1]}) == ()


def test_read_body_tells_pages_and_broken_json_from_answers() -> None:
    assert read_body("text/html", b"").foreign == "an HTML page"
    assert read_body(None, b"\xef\xbb\xbf\n<html>").foreign == "an HTML page"
    assert read_body("application/json", b"[1").foreign == (
        "a body labelled application/json that is not JSON")
    assert read_body("text/plain", b"<htm").foreign is None  # not a page's start
    assert read_body(None, b'"token"').data == "token" and read_body(None, b"x").data is None
    assert read_body("text/html", b"<title>" + b"x" * 70000 + b"</title>").title is None


# --- recovery by status and structure ---------------------------------------------------

@pytest.mark.parametrize("refusal", [
    reply(400, "Bad Request", "text/plain"),
    reply(400, '{"title": "One or more validation errors occurred."}',
          "application/problem+json"),
    reply(404),
    reply(410, "<html><title>Gone</title></html>", "text/html"),
], ids=["400 text", "400 problem", "404 empty", "410 page"])
def test_finish_uploading_refused_after_a_lost_answer_is_done(refusal: bytes) -> None:
    with WireServer(api({"/FinishUploading": lost_then(refusal)})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        client.finish_uploading(1, 7)
        assert len(server.seen("/FinishUploading")) == 2


@pytest.mark.parametrize(("refusal", "kind"), [
    (reply(400, "The upload session is not active.", "text/plain"), RejectedError),
    (reply(404), UnexpectedResponseError),
])
def test_finish_uploading_refused_at_the_first_try_is_an_error(refusal: bytes, kind: type) -> None:
    with WireServer(api({"/FinishUploading": answer(refusal)})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(kind) as caught:
        client.finish_uploading(1, 7)
    assert caught.value.after_lost_answer is False


@pytest.mark.parametrize(("route", "status", "lost"), [
    (lost_then(reply(400, "Invalid", "text/plain")), 400, True),
    (lost_then(reply(400)), 400, True),
    (answer(reply(500, "oops"), reply(400, "Invalid", "text/plain")), 400, True),
    (lost_then(reply(409, "Conflict", "text/plain")), 409, True),
    (answer(reply(409)), 409, False),
    (answer(reply(400, '{"errors": {"Name": ["Nazwa jest zajęta"]}}',
                  "application/problem+json")), 400, False),
], ids=["lost, 400 any words", "lost, 400 empty", "500, 400", "lost, 409", "409",
        "400 blaming the name"])
def test_a_duplicate_category_is_told_by_status_and_structure(
        route: Any, status: int, lost: bool) -> None:
    with WireServer(api({"/Categories": route})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(DuplicateCategoryError) as caught:
        client.create_category(3, "cat")
    error = caught.value
    assert (error.status, error.after_lost_answer) == (status, lost)
    assert "'cat'" in str(error) and "dataset 3" in str(error)
    assert ("earlier try" in str(error)) == lost


@pytest.mark.parametrize("route", [
    answer(reply(400, "Category 'cat' already exists.", "text/plain")),
    answer(reply(400, '{"errors": {"datasetId": ["Dataset 3 is locked."]}}',
                 "application/problem+json")),
    answer(reply(400, '{"errors": {"name": ["too long"], "datasetId": ["bad"]}}',
                 "application/problem+json")),
], ids=["words alone", "the dataset blamed", "more than the name blamed"])
def test_words_alone_make_no_duplicate(route: Any) -> None:
    with WireServer(api({"/Categories": route})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(RejectedError) as caught:
        client.create_category(3, "cat")
    assert not isinstance(caught.value, DuplicateCategoryError)
    if "already exists" in str(caught.value):  # the words only sharpen the message
        assert "if category 'cat' exists already in dataset 3" in str(caught.value)


def test_a_dataset_made_after_a_lost_answer_says_so() -> None:
    with WireServer(api({"/api/Datasets": lost_then(reply(200, '{"id": 9}',
                                                          "application/json"))})) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        made = client.create_dataset("d")
        again = client.create_dataset("e")
    assert (made.id, made.after_lost_answer) == (9, True)
    assert again.after_lost_answer is False
