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
