"""Ids variant: GUID strings for datasets, categories and upload sessions."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.emulator.variants import Variants

from .child import refused, serving
from .support import TOKEN, Api, Img, b64, voc_xml


def is_guid(value: Any) -> bool:
    """Tell whether a JSON value is a GUID string in canonical form."""
    return isinstance(value, str) and str(uuid.UUID(value)) == value


def chunk(api: Api, dataset: str, session: str, name: str,
          category: str | None = None) -> requests.Response:
    """Send one image with GUID ids in the form."""
    form = {"datasetId": dataset, "datasetUploadId": session, "imagesMetadata[0][name]": name,
            "imagesMetadata[0][annotationType]": "0",
            "imagesMetadata[0][annotation]": b64(voc_xml(name, 32, 24, [("cat", 1, 1, 9, 9)]))}
    if category is not None:
        form["imagesMetadata[0][classifyCategoryId]"] = category
    return api.post("/Images/UploadChunk", data=form, files=[("imagesFiles", (name, Img(name).data))])


@pytest.fixture
def guids(server: LocalServer) -> LocalServer:
    """Switch the running server to GUID ids."""
    server.settings.variants.ids = "guid"
    return server


def test_a_whole_upload_with_guids(api: Api, guids: LocalServer) -> None:
    dataset = api.post("/Datasets", json={"name": "g"}).json()
    assert is_guid(dataset["id"]) and dataset["name"] == "g"
    category = api.post("/Categories", json={"datasetId": dataset["id"], "name": "cat"}).json()
    assert is_guid(category["id"]) and category["datasetId"] == dataset["id"]
    started = api.post(f"/Datasets/{dataset['id']}/StartUploading")
    assert started.headers["Content-Type"].startswith("application/json")
    session = started.json()
    assert is_guid(session) and len({dataset["id"], category["id"], session}) == 3
    answer = chunk(api, dataset["id"], session, "a.jpg", category["id"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["datasetId"], body["datasetUploadId"]) == (dataset["id"], session)
    assert all(isinstance(i, int) for i in body["imageIds"]), "images keep integer ids"
    finished = api.post(f"/Datasets/{dataset['id']}/FinishUploading",
                        params={"datasetUploadId": session})
    assert finished.status_code == 200, finished.text
    # The inspection API takes the GUID too and shows the API's ids beside its own.
    stored = api.http.get(f"{guids.root_url}/_emulator/datasets/{dataset['id']}").json()
    assert stored["apiId"] == dataset["id"] and not stored["locked"]
    assert stored["categories"][0]["apiId"] == category["id"]
    assert stored["sessions"][0]["apiId"] == session
    image = stored["images"][0]
    assert image["classifyCategoryId"] == stored["categories"][0]["id"]
    assert image["objects"][0]["categoryId"] == stored["categories"][0]["id"]
    listed = api.http.get(f"{guids.root_url}/_emulator/datasets").json()
    assert [d["apiId"] for d in listed] == [dataset["id"]]


def test_guids_are_read_in_any_case_and_with_braces(api: Api, guids: LocalServer) -> None:
    dataset = api.post("/Datasets", json={"name": "g"}).json()["id"]
    written = "{" + dataset.upper() + "}"
    assert is_guid(api.post(f"/Datasets/{written}/StartUploading").json())


def test_integers_and_unknown_guids_are_refused(api: Api, guids: LocalServer) -> None:
    dataset = api.post("/Datasets", json={"name": "g"}).json()["id"]
    category = api.post("/Categories", json={"datasetId": 1, "name": "cat"})
    assert category.status_code == 400
    assert category.json()["errors"]["datasetId"] == [
        "The JSON value of datasetId could not be converted to System.Guid."]
    assert api.post("/Datasets/1/StartUploading").status_code == 400
    unknown = str(uuid.uuid4())
    start = api.post(f"/Datasets/{unknown}/StartUploading")
    assert start.status_code == 404 and start.json()["detail"] == f"Dataset {unknown} does not exist."
    category = api.post("/Categories", json={"datasetId": unknown, "name": "cat"})
    assert category.status_code == 400 and "does not exist" in category.text
    session = api.post(f"/Datasets/{dataset}/StartUploading").json()
    answer = chunk(api, dataset, session, "a.jpg", category=unknown)
    assert answer.status_code == 400
    assert answer.json()["errors"]["imagesMetadata[0].classifyCategoryId"] == [
        f"Category {unknown} does not exist."]
    # A session id is not a dataset id: kinds are kept apart.
    assert chunk(api, session, session, "a.jpg").status_code == 400
    finish = api.post(f"/Datasets/{dataset}/FinishUploading", params={"datasetUploadId": "7"})
    assert finish.status_code == 400 and "datasetUploadId" in finish.json()["errors"]
    assert api.inspect(1)["images"] == []


def test_guids_outlive_a_restart(tmp_path: Path) -> None:
    settings = EmulatorSettings(data_dir=tmp_path / "d", token=TOKEN,
                                variants=Variants(ids="guid"))
    with LocalServer(settings) as server:
        dataset = Api(server).post("/Datasets", json={"name": "kept"}).json()["id"]
    with LocalServer(settings) as server:
        api = Api(server)
        assert is_guid(api.post(f"/Datasets/{dataset}/StartUploading").json())
        assert api.http.get(f"{server.root_url}/_emulator/datasets").json()[0]["apiId"] == dataset


def test_integer_ids_stay_the_default(api: Api) -> None:
    assert api.post("/Datasets", json={"name": "n"}).json()["id"] == 1
    assert api.post("/Datasets/1/StartUploading").json() == 1
    assert "apiId" not in api.inspect(1)


def test_variants_refuse_unknown_values() -> None:
    with pytest.raises(ValueError, match=r"variants\.ids"):
        Variants(ids="uuid")


def test_serve_ids_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--ids", "guid") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        dataset = requests.post(f"{url}/Datasets", json={"name": "x"}, timeout=5,
                                headers={"Authorization": f"Bearer {bearer}"}).json()
        assert is_guid(dataset["id"])
    assert "'uuid' is not one of" in refused(tmp_path, "--ids", "uuid")
