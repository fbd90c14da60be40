"""Category variants: how a duplicate name is answered, and how names are stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api, Img, b64, voc_xml


def twice(api: Api, name: str = "cat", again: str | None = None) -> requests.Response:
    """Create a category, then send the same (or ``again``) name; return the second answer."""
    dataset_id = api.dataset()
    first = api.post("/Categories", json={"datasetId": dataset_id, "name": name})
    assert first.status_code == 200, first.text
    return api.post("/Categories", json={"datasetId": dataset_id, "name": again or name})


def test_400_by_default(api: Api) -> None:
    answer = twice(api)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "name": ["Category 'cat' already exists in dataset 1 (id 1)."]}


@pytest.mark.parametrize(("mode", "detail", "status", "text"), [
    ("409", None, 409, "Category 'cat' already exists in dataset 1 (id 1)."),
    ("409", "Name taken", 409, "Name taken"),
    ("400", "A category with this name already exists.", 400,
     "name: A category with this name already exists."),
])
def test_refusals(api: Api, server: LocalServer, mode: str, detail: str | None, status: int,
                  text: str) -> None:
    server.settings.variants.duplicate_category = mode
    server.settings.variants.duplicate_category_detail = detail
    answer = twice(api)
    assert answer.status_code == status and answer.json()["detail"] == text
    if status == 409:
        assert answer.json()["title"] == "Conflict" and "errors" not in answer.json()
    assert len(api.inspect(1)["categories"]) == 1


@pytest.mark.parametrize("mode", ["400", "409"])
def test_refusal_without_body(api: Api, server: LocalServer, mode: str) -> None:
    server.settings.variants.duplicate_category = mode
    server.settings.variants.duplicate_category_detail = ""
    answer = twice(api)
    assert (answer.status_code, answer.content) == (int(mode), b"")


@pytest.mark.parametrize("ids", ["int", "guid"])
def test_existing_category_answered_200(api: Api, server: LocalServer, ids: str) -> None:
    server.settings.variants.duplicate_category = "existing"
    server.settings.variants.ids = ids
    dataset = api.post("/Datasets", json={"name": "d"}).json()["id"]
    first = api.post("/Categories", json={"datasetId": dataset, "name": "cat"}).json()
    api.post("/Categories", json={"datasetId": dataset, "name": "dog"})
    again = api.post("/Categories", json={"datasetId": dataset, "name": "cat"})
    assert again.status_code == 200 and again.json() == first
    assert [c["name"] for c in api.inspect(1)["categories"]] == ["cat", "dog"]


def test_serve_duplicate_category_flags(tmp_path: Path) -> None:
    with serving(tmp_path, "--duplicate-category", "409", "--duplicate-category-detail",
                 "exists") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        for status in (200, 409):
            answer = requests.post(f"{url}/Categories", json={"datasetId": 1, "name": "c"},
                                   headers=headers, timeout=5)
            assert answer.status_code == status
        assert answer.json()["detail"] == "exists"


@pytest.mark.parametrize(("mode", "stored", "clash"), [
    ("as-sent", "My Cat", "My Cat"), ("underscores", "My_Cat", "My_Cat"),
    ("lower", "my cat", "MY CAT")])
def test_category_names(api: Api, server: LocalServer, mode: str, stored: str,
                        clash: str) -> None:
    server.settings.variants.category_names = mode
    dataset_id = api.dataset()
    created = api.post("/Categories", json={"datasetId": dataset_id, "name": "My Cat"})
    assert created.json()["name"] == stored
    # A name that differs as sent but is stored the same is a duplicate.
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": clash}).status_code == 400
    other = "my cat" if mode == "as-sent" else "My  Cat"
    assert api.post("/Categories", json={"datasetId": dataset_id, "name": other}).status_code == 200
    # A box named as the category was sent belongs to it.
    session_id = api.start(dataset_id)
    box = b64(voc_xml("a.jpg", 32, 24, [("My Cat", 1, 1, 9, 9)]))
    assert api.chunk(dataset_id, session_id, [Img("a.jpg", annotation=box)]).status_code == 200
    detail = api.inspect(dataset_id)
    assert detail["categories"][0]["name"] == stored
    obj = detail["images"][0]["objects"][0]
    assert obj["name"] == "My Cat" and obj["categoryId"] == created.json()["id"]


def test_serve_category_names_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--category-names", "underscores") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        answer = requests.post(f"{url}/Categories", json={"datasetId": 1, "name": "a b c"},
                               headers=headers, timeout=5)
        assert answer.json()["name"] == "a_b_c"
