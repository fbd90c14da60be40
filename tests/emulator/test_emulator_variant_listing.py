"""Listing variant: read endpoints for a dataset's categories and images."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api, Img, make_image


def test_no_listing_by_default(api: Api, upload: tuple[int, int, int]) -> None:
    dataset_id = upload[0]
    for what in ("Categories", "Images"):
        answer = api.http.get(f"{api.base}/Datasets/{dataset_id}/{what}", headers=api.headers)
        assert answer.status_code == 404
        assert answer.json()["detail"].startswith("No OSAI endpoint at GET")


def test_listing(api: Api, server: LocalServer, upload: tuple[int, int, int]) -> None:
    server.settings.variants.listing = True
    dataset_id, category_id, session_id = upload
    dog = api.category(dataset_id, "dog")
    red, blue = make_image(color=(200, 0, 0)), make_image("png", color=(0, 0, 200))
    assert api.chunk(dataset_id, session_id, [Img("a.jpg", red, category=category_id),
                                              Img("b.png", blue)]).status_code == 200
    categories = api.http.get(f"{api.base}/Datasets/{dataset_id}/Categories", headers=api.headers)
    assert categories.status_code == 200
    assert categories.json() == [{"id": category_id, "name": "cat"}, {"id": dog, "name": "dog"}]
    images = api.http.get(f"{api.base}/datasets/{dataset_id}/images", headers=api.headers)
    assert images.json() == [
        {"id": 1, "name": "a.jpg", "categoryId": category_id,
         "sha256": hashlib.sha256(red).hexdigest()},
        {"id": 2, "name": "b.png", "categoryId": None, "sha256": hashlib.sha256(blue).hexdigest()}]
    assert api.stats()["requests"]["ListImages"] == {"200": 1}


def test_listing_needs_a_token_and_a_dataset(api: Api, server: LocalServer) -> None:
    server.settings.variants.listing = True
    assert requests.get(f"{server.base_url}/Datasets/1/Images", timeout=5).status_code == 401
    missing = api.http.get(f"{api.base}/Datasets/7/Categories", headers=api.headers)
    assert missing.status_code == 404 and missing.json()["detail"] == "Dataset 7 does not exist."
    empty = api.dataset()
    assert api.http.get(f"{api.base}/Datasets/{empty}/Images", headers=api.headers).json() == []


def test_listing_with_guids(api: Api, server: LocalServer) -> None:
    server.settings.variants.listing = True
    server.settings.variants.ids = "guid"
    dataset = api.post("/Datasets", json={"name": "g"}).json()["id"]
    category = api.post("/Categories", json={"datasetId": dataset, "name": "cat"}).json()["id"]
    session = api.post(f"/Datasets/{dataset}/StartUploading").json()
    form = {"datasetId": dataset, "datasetUploadId": session, "imagesMetadata[0][name]": "a.jpg",
            "imagesMetadata[0][classifyCategoryId]": category}
    assert api.post("/Images/UploadChunk", data=form,
                    files=[("imagesFiles", ("a.jpg", make_image()))]).status_code == 200
    listed = api.http.get(f"{api.base}/Datasets/{dataset}/Categories", headers=api.headers)
    assert listed.json() == [{"id": category, "name": "cat"}]
    images = api.http.get(f"{api.base}/Datasets/{dataset}/Images", headers=api.headers).json()
    assert images[0]["categoryId"] == category and isinstance(images[0]["id"], int)
    unknown = api.http.get(f"{api.base}/Datasets/{uuid.uuid4()}/Images", headers=api.headers)
    assert unknown.status_code == 404


@pytest.mark.parametrize("endpoint", ["ListCategories", "ListImages"])
def test_faults_reach_the_listing(api: Api, server: LocalServer, endpoint: str) -> None:
    server.settings.variants.listing = True
    dataset_id = api.dataset()
    server.settings.html_next[endpoint] = 1
    path = "Categories" if endpoint == "ListCategories" else "Images"
    answer = api.http.get(f"{api.base}/Datasets/{dataset_id}/{path}", headers=api.headers)
    assert answer.headers["Content-Type"].startswith("text/html")


def test_serve_listing_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--listing") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        requests.post(f"{url}/Categories", json={"datasetId": 1, "name": "c"}, headers=headers,
                      timeout=5)
        answer = requests.get(f"{url}/Datasets/1/Categories", headers=headers, timeout=5)
        assert answer.json() == [{"id": 1, "name": "c"}]
