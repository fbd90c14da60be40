"""A dataset's categories and images read back, where a server lists them.

Real HTTP on loopback: the local server with its listing variant on and off, with ids of
either kind, and small servers whose listings take other shapes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from osai_import.errors import RejectedError
from osai_import.upload.answers import CategoryRef, ListedImage, listed_images
from osai_import.upload.client import OsaiClient
from osai_import.upload.multipart import ChunkItem
from tests.support import make_image
from tests.upload.emulated import FAST, TOKEN, requests_seen, serve
from tests.upload.wire import WireServer, answer, api, reply


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Write three real images of distinct content."""
    return [make_image(tmp_path / "img" / f"im{i}.{'png' if i % 2 else 'jpg'}",
                       color=(50 * i, 90, 120)) for i in range(3)]


@pytest.mark.parametrize("ids", ["int", "guid"])
def test_a_listing_server_shows_what_the_upload_made(
        tmp_path: Path, images: list[Path], ids: str) -> None:
    with serve(tmp_path, ids=ids, listing=True) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        dataset = client.create_dataset("listed")
        assert client.list_categories(dataset.id) == []
        assert client.list_images(dataset.id) == []
        cat, dog = (client.create_category(dataset.id, name) for name in ("cat", "dog"))
        upload_id = client.start_uploading(dataset.id)
        client.upload_chunk(dataset.id, upload_id, [
            ChunkItem("a.jpg", images[0], None, cat.id), ChunkItem("b.png", images[1]),
            ChunkItem("c.jpg", images[2], None, dog.id)])
        client.finish_uploading(dataset.id, upload_id)
        categories = client.list_categories(dataset.id)
        listed = client.list_images(dataset.id)
        assert requests_seen(server, "ListCategories") == {"200": 2}
        assert requests_seen(server, "ListImages") == {"200": 2}
    assert categories == [CategoryRef(cat.id, "cat"), CategoryRef(dog.id, "dog")]
    assert listed is not None and [(i.name, i.category_id) for i in listed] == [
        ("a.jpg", cat.id), ("b.png", None), ("c.jpg", dog.id)]
    assert [i.sha256 for i in listed] == [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in images]
    assert all(type(i.id) is int for i in listed)  # images keep integer ids in either mode
    kind = str if ids == "guid" else int
    assert all(type(c.id) is kind for c in categories)


def test_without_listing_the_client_asks_once_and_goes_on(
        tmp_path: Path, images: list[Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="osai_import.upload.client")
    with serve(tmp_path) as server, OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        dataset = client.create_dataset("unlisted")
        for _ in range(3):
            assert client.list_categories(dataset.id) is None
            assert client.list_images(dataset.id) is None
        assert requests_seen(server, "(unknown)") == {"404": 2}  # once per endpoint
        server.settings.variants.listing = True  # too late: the client remembers
        assert client.list_categories(dataset.id) is None
        assert requests_seen(server, "ListCategories") == {}
        cat = client.create_category(dataset.id, "cat")  # the upload goes on without it
        upload_id = client.start_uploading(dataset.id)
        client.upload_chunk(dataset.id, upload_id, [ChunkItem("a.jpg", images[0], None, cat.id)])
        client.finish_uploading(dataset.id, upload_id)
    assert "GET /Datasets/{id}/Categories is not served here (HTTP 404)" in caplog.text


def listing(categories: bytes, images: bytes) -> WireServer:
    """Return a small server whose listings answer as given."""
    return WireServer(api({"/Categories": answer(categories), "/Images": answer(images)}))


def as_json(body: Any, status: int = 200) -> bytes:
    """Return an answer of ``body`` as JSON."""
    return reply(status, json.dumps(body), "application/json")


def test_field_names_are_read_in_any_case_and_optional_ones_may_be_missing() -> None:
    digest = "AB" * 32
    categories = as_json([{"ID": "c-1", "NAME": "cat", "extra": 1}, {"Id": 2, "name": "dog"}])
    images = as_json([{"id": 7, "Name": "a.jpg", "CategoryID": "c-1", "SHA256": digest},
                      {"iD": "i-8", "nAmE": "b.jpg"},
                      {"id": 9, "name": "c.jpg", "classifyCategoryId": 2, "sha256": "md5:xyz"}])
    with listing(categories, images) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        assert client.list_categories("d-1") == [CategoryRef("c-1", "cat"), CategoryRef(2, "dog")]
        assert client.list_images("d-1") == [
            ListedImage("a.jpg", 7, "c-1", digest.lower()), ListedImage("b.jpg", "i-8"),
            ListedImage("c.jpg", 9, 2, None)]
        assert [e.path for e in server.exchanges if e.method == "GET"] == [
            "/api/Datasets/d-1/Categories", "/api/Datasets/d-1/Images"]
        assert all(e.headers["authorization"].startswith("Bearer ")
                   for e in server.exchanges if e.method == "GET")


@pytest.mark.parametrize("unusable", [
    reply(405, "", headers={"Allow": "POST"}),
    reply(404, ""),
    as_json({"items": [{"id": 1, "name": "cat"}]}),  # paged, or wrapped: not a list
    as_json([{"id": 1, "name": "cat"}, {"name": "no id"}]),  # one entry would be missing
    as_json([{"id": 1, "name": 5}]),
    as_json([["id", "name"]]),
    reply(200, ""),
    reply(200, "cat,dog", "text/plain"),
])
def test_anything_but_a_list_of_entries_means_no_listing_for_the_client_s_life(
        unusable: bytes) -> None:
    with listing(unusable, unusable) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        for _ in range(2):
            assert client.list_categories(1) is None
            assert client.list_images(1) is None
        assert len(server.seen("/Categories")) == 1 and len(server.seen("/Images")) == 1


def test_a_refused_listing_raises_as_every_call_does() -> None:
    refused = reply(400, '{"title": "bad page size"}', "application/problem+json")
    with listing(refused, as_json([])) as server, \
            OsaiClient(server.base_url, TOKEN, retry=FAST) as client:
        with pytest.raises(RejectedError, match="bad page size"):
            client.list_categories(1)
        assert client.list_images(1) == []
        with pytest.raises(RejectedError):  # not remembered as absent: it is there
            client.list_categories(1)
        assert len(server.seen("/Categories")) == 2


def test_listed_images_need_an_id_and_a_name_each() -> None:
    assert listed_images([]) == []
    assert listed_images([{"id": True, "name": "a"}]) is None
    assert listed_images([{"id": " ", "name": "a"}]) is None
    assert listed_images({"id": 1, "name": "a"}) is None
    assert listed_images([{"id": 1, "name": "a", "categoryId": False}]) == [
        ListedImage("a", 1)]
