"""Image variants: duplicate names refused, and a poison image that always fails."""

from __future__ import annotations

from pathlib import Path

import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api, Img


def test_duplicates_are_stored_by_default(api: Api, upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    for _ in range(2):
        assert api.chunk(dataset_id, session_id, [Img("a.jpg")]).status_code == 200
    assert api.inspect(dataset_id)["duplicates"] == 1


def test_duplicates_refused(api: Api, server: LocalServer, upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.duplicate_images = "refuse"
    assert api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("b.jpg")]).status_code == 200
    answer = api.chunk(dataset_id, session_id, [Img("c.jpg"), Img("b.jpg"), Img("d.jpg"),
                                                Img("d.jpg")])
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "imagesMetadata[1].name": ["An image named 'b.jpg' already exists in dataset 1."],
        "imagesMetadata[3].name": ["Image 3 ('d.jpg') repeats a name of this chunk; image "
                                   "names must be unique in a dataset."]}
    stored = api.inspect(dataset_id)
    assert [i["name"] for i in stored["images"]] == ["a.jpg", "b.jpg"]
    # Nothing of the refused chunk is left on disk either.
    folder = Path(server.settings.data_dir) / "images" / str(dataset_id)
    assert len(list(folder.iterdir())) == 2
    # A name in another dataset is no duplicate.
    other = api.dataset("other")
    assert api.chunk(other, api.start(other), [Img("a.jpg")]).status_code == 200


def test_serve_duplicate_images_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--duplicate-images", "refuse") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        session = requests.post(f"{url}/Datasets/1/StartUploading", headers=headers,
                                timeout=5).json()
        statuses = [requests.post(f"{url}/Images/UploadChunk", headers=headers, timeout=5, data={
            "datasetId": "1", "datasetUploadId": str(session),
            "imagesMetadata[0][name]": "a.jpg"}, files=[
                ("imagesFiles", ("a.jpg", Img("a.jpg").data))]).status_code for _ in range(2)]
        assert statuses == [200, 400]


def test_a_poison_image_is_answered_500_every_time(api: Api, server: LocalServer,
                                                   upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.poison_images = frozenset({"bad.jpg"})
    for _ in range(3):
        answer = api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("bad.jpg")])
        assert answer.status_code == 500
        assert answer.json()["detail"] == "An error occurred while processing image 'bad.jpg'."
    assert api.inspect(dataset_id)["images"] == []
    # The other images go through on their own; the poison never does.
    assert api.chunk(dataset_id, session_id, [Img("a.jpg")]).status_code == 200
    assert api.chunk(dataset_id, session_id, [Img("bad.jpg")]).status_code == 500
    assert [i["name"] for i in api.inspect(dataset_id)["images"]] == ["a.jpg"]
    assert api.stats()["requests"]["UploadChunk"] == {"200": 1, "500": 4}


def test_serve_poison_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--poison-image", "x.jpg", "--poison-image", "y.jpg") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        requests.post(f"{url}/Datasets/1/StartUploading", headers=headers, timeout=5)
        statuses = [requests.post(f"{url}/Images/UploadChunk", headers=headers, timeout=5, data={
            "datasetId": "1", "datasetUploadId": "1", "imagesMetadata[0][name]": name}, files=[
                ("imagesFiles", (name, Img(name).data))]).status_code
            for name in ("x.jpg", "y.jpg", "z.jpg")]
        assert statuses == [500, 500, 200]
