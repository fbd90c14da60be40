"""Answers read by structure: SignIn's token, StartUploading's id, ids of either kind.

Real HTTP on loopback: the local server in each of its answer-shape and id variants, and
small servers that answer objects of several fields.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from osai_import.errors import RejectedError, UnexpectedResponseError
from osai_import.plugin.base import Annotation
from osai_import.upload.answers import Body, bearer_token, session_id
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from tests.support import make_image
from tests.upload.emulated import FAST, TOKEN, requests_seen, serve, stored
from tests.upload.wire import WireServer, answer, api, reply

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Write three real images of distinct content."""
    return [make_image(tmp_path / "img" / f"im{i}.{'png' if i % 2 else 'jpg'}",
                       color=(60 * i, 40, 200 - 50 * i)) for i in range(3)]


def voc(name: str) -> bytes:
    """Return a Pascal VOC document with one box named ``name``."""
    return (f"<annotation><size><width>32</width><height>24</height><depth>3</depth></size>"
            f"<object><name>{name}</name><bndbox><xmin>1</xmin><xmax>9</xmax><ymin>2</ymin>"
            f"<ymax>8</ymax></bndbox></object></annotation>").encode()


# --- SignIn's answer ---------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "field"), [
    ("text", "token"), ("json-string", "token"), ("object", "token"),
    ("object", "bearerToken"), ("object", "Session_Key"), ("object", "x")])
def test_every_sign_in_answer_shape_gives_the_bearer_token(
        tmp_path: Path, shape: str, field: str) -> None:
    with serve(tmp_path, sign_in_answer=shape, sign_in_field=field) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        client.sign_in()
        assert client.current_user()["id"] == 1  # the token went back as it came
        bearer = client._bearer
        assert bearer is not None and JWT.fullmatch(bearer), bearer  # no quotes, no braces
        assert requests_seen(server, "SignIn") == {"200": 1}
        assert requests_seen(server, "Users") == {"200": 1}


def sign_in_answering(body: str) -> WireServer:
    """Return a small server whose SignIn answers ``body`` as JSON."""
    return WireServer(api({"/Users/SignIn": answer(reply(200, body, "application/json"))}))


@pytest.mark.parametrize(("body", "token"), [
    ('{"accessToken": "tok.en-1", "expiresIn": 3600, "refreshToken": "r-2"}', "tok.en-1"),
    ('{"Token": "tok.en-2", "user": {"id": 1}}', "tok.en-2"),
    ('{"bearer_token": "tok.en-3", "type": "Bearer"}', "tok.en-3"),
    ('{"weird": " \\"tok.en-4\\" "}', "tok.en-4"),
])
def test_a_sign_in_object_of_several_fields_is_read_by_its_known_names(
        body: str, token: str) -> None:
    with sign_in_answering(body) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        client.create_dataset("d")
        assert server.seen("/Datasets")[0].headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize(("body", "shown"), [
    ('{"first": "secret-value-1", "second": "secret-value-2"}', "fields 'first', 'second'"),
    ('{"token": "", "other": 5}', "fields 'token', 'other'"),
    ('{"only": ""}', "one field 'only'"),
    ('{"only": 12345}', "one field 'only'"),
    ('{"only": "two words"}', "one field 'only'"),
    ('{"data": {"token": "secret-value-3"}}', "one field 'data'"),
    ("{}", ""),
    ("[\"secret-value-4\"]", ""),
    ("42", ""),
])
def test_a_sign_in_answer_without_one_usable_token_is_named_not_shown(
        body: str, shown: str) -> None:
    with sign_in_answering(body) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(UnexpectedResponseError) as caught:
        client.sign_in()
    message = str(caught.value)
    assert "holds no usable bearer token" in message and "application/json" in message
    assert shown in message
    assert "secret-value" not in message and caught.value.status == 200


def test_sign_in_answers_are_read_as_the_documentation_and_the_variants_say() -> None:
    assert bearer_token("eyJa.b.c\r\n") == "eyJa.b.c"
    assert bearer_token('"eyJa.b.c"') == "eyJa.b.c"
    assert bearer_token('{"anything": "eyJa.b.c"}') == "eyJa.b.c"
    assert bearer_token('{"jwt": "eyJa.b.c", "exp": 5}') == "eyJa.b.c"
    assert bearer_token('{"jwt": "eyJa.b.c", "token": "eyJd.e.f"}') == "eyJd.e.f"
    for unusable in ("", "   ", "two words", '{"a": "x", "b": "y"}', '{"a": null}', "[]",
                     "true", '"caf\u00e9"'):
        assert bearer_token(unusable) is None, unusable


# --- StartUploading's answer, and ids of either kind ----------------------------------

SHAPES = [("scalar", "id"), ("json-string", "id"), ("object", "id"),
          ("object", "uploadId"), ("object", "datasetUploadId"), ("object", "Session_Ref")]


@pytest.mark.parametrize("ids", ["int", "guid"])
@pytest.mark.parametrize(("shape", "field"), SHAPES)
def test_a_whole_upload_works_with_every_session_answer_and_id_kind(
        tmp_path: Path, images: list[Path], ids: str, shape: str, field: str) -> None:
    with serve(tmp_path, ids=ids, start_answer=shape, start_field=field) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        dataset = client.create_dataset("shapes")
        cat = client.create_category(dataset.id, "cat")
        upload_id = client.start_uploading(dataset.id)
        if ids == "guid":
            for value in (dataset.id, cat.id, upload_id):
                assert isinstance(value, str) and GUID.fullmatch(value), value
        else:
            assert type(dataset.id) is int and type(cat.id) is int
            # A JSON string stays a string: the id goes back as the server gave it.
            assert upload_id == (str(1) if shape == "json-string" else 1)
        client.upload_chunk(dataset.id, upload_id, [
            ChunkItem("a.jpg", images[0], Annotation(0, voc("cat")), cat.id),
            ChunkItem("b.png", images[1])])
        client.finish_uploading(dataset.id, upload_id)
        held = stored(server, dataset.id)
    assert held["locked"] is False and [s["state"] for s in held["sessions"]] == ["finished"]
    category = held["categories"][0]
    assert category.get("apiId", category["id"]) == cat.id
    assert [(i["name"], i["classifyCategoryId"]) for i in held["images"]] == [
        ("a.jpg", category["id"]), ("b.png", None)]
    assert [o["categoryId"] for o in held["images"][0]["objects"]] == [category["id"]]


def test_guid_ids_go_through_a_session_of_several_chunks_and_categories(
        tmp_path: Path, images: list[Path]) -> None:
    with serve(tmp_path, ids="guid") as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        other = client.create_dataset("other")
        foreign = client.create_category(other.id, "foreign")
        dataset = client.create_dataset("guids")
        cats = [client.create_category(dataset.id, name) for name in ("cat", "dog")]
        assert len({other.id, dataset.id, foreign.id, *(c.id for c in cats)}) == 5
        upload_id = client.start_uploading(dataset.id)
        for n, path in enumerate(images):
            client.upload_chunk(dataset.id, upload_id,
                                [ChunkItem(f"{n}.jpg", path, None, cats[n % 2].id)])
        with pytest.raises(RejectedError) as caught:  # a GUID of another dataset's category
            client.upload_chunk(dataset.id, upload_id, [
                ChunkItem("ok.jpg", images[0], None, cats[0].id),
                ChunkItem("bad.jpg", images[1], None, foreign.id)])
        client.finish_uploading(dataset.id, upload_id)
        held = stored(server, dataset.id)
    assert caught.value.image_indexes() == (1,)
    by_guid = {c["apiId"]: c["id"] for c in held["categories"]}
    assert [(i["name"], i["classifyCategoryId"]) for i in held["images"]] == [
        ("0.jpg", by_guid[cats[0].id]), ("1.jpg", by_guid[cats[1].id]),
        ("2.jpg", by_guid[cats[0].id])]
    assert held["apiId"] == dataset.id and held["sessions"][0]["apiId"] == upload_id
    assert held["sessions"][0]["state"] == "finished" and held["locked"] is False


def start_answering(body: str, content_type: str = "application/json") -> WireServer:
    """Return a small server whose StartUploading answers ``body``."""
    return WireServer(api({"/StartUploading": answer(reply(200, body, content_type))}))


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    ('{"datasetUploadId": 9, "datasetId": 4, "state": "active"}', "application/json", 9),
    ('{"uploadId": "u-9", "datasetId": 4}', "application/json", "u-9"),
    ('{"ID": 11, "started": "2024-01-01"}', "application/json", 11),
    ('{"sessionId": null, "id": 12}', "application/json", 12),
    ('{"anything": "b7c1"}', "application/json", "b7c1"),
    ('"13"', "application/json", "13"),
    ("u-14\r\n", "text/plain", "u-14"),
    ("", "application/json", None),
])
def test_a_session_answer_is_read_by_structure_then_by_known_names(
        body: str, content_type: str, expected: Any) -> None:
    with start_answering(body, content_type) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        if expected is None:
            with pytest.raises(UnexpectedResponseError, match="no datasetUploadId"):
                client.start_uploading(4)
        else:
            assert client.start_uploading(4) == expected


@pytest.mark.parametrize(("body", "shown"), [
    ('{"first": 1, "second": 2}', "fields 'first', 'second'"),
    ('{"only": true}', "one field 'only'"),
    ('{"only": "  "}', "one field 'only'"),
    ('{"only": 7.5}', "one field 'only'"),
    ('{"only": [7]}', "one field 'only'"),
    ('{"id": null, "datasetId": 4}', "fields 'id', 'datasetId'"),
])
def test_a_session_answer_without_one_usable_id_is_an_unexpected_response(
        body: str, shown: str) -> None:
    with start_answering(body) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client, \
            pytest.raises(UnexpectedResponseError) as caught:
        client.start_uploading(4)
    message = str(caught.value)
    assert "POST /Datasets/{id}/StartUploading" in message and "no datasetUploadId" in message
    assert shown in message and caught.value.status == 200


def test_session_ids_are_read_from_every_shape() -> None:
    assert session_id(Body(7, is_json=True), "7") == 7
    assert session_id(Body(), " 'x' ") == "'x'"
    assert session_id(Body({"a": {"id": 1}}, is_json=True), "") is None
    assert session_id(Body(True, is_json=True), "true") is None
