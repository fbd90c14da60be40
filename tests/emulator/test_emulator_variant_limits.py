"""Chunk-cap variants: too many images or bytes per request, refused four ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api, Img, make_image

REFUSALS = ["413", "413-html", "close", "400"]


def check_refusal(answer: requests.Response | None, how: str, field: str, words: str) -> None:
    """Check one refused chunk (``answer`` None: the connection was closed)."""
    if how == "close":
        assert answer is None
        return
    assert answer is not None
    if how == "413-html":
        assert answer.status_code == 413
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "<title>413 Request Entity Too Large</title>" in answer.text and words in answer.text
    elif how == "413":
        assert answer.status_code == 413 and words in answer.json()["detail"]
    else:
        assert answer.status_code == 400
        [message] = answer.json()["errors"][field]
        assert words in message


def send(api: Api, dataset_id: int, session_id: int, images: list[Img]) -> requests.Response | None:
    """Send a chunk; None when the server closed the connection instead of answering."""
    try:
        return api.chunk(dataset_id, session_id, images)
    except requests.ConnectionError:
        return None


@pytest.mark.parametrize("how", REFUSALS)
def test_image_cap(api: Api, server: LocalServer, upload: tuple[int, int, int], how: str) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.chunk_max_images = 2
    server.settings.variants.chunk_refusal = how
    assert api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("b.jpg")]).status_code == 200
    answer = send(api, dataset_id, session_id, [Img(f"{n}.jpg") for n in range(3)])
    check_refusal(answer, how, "imagesFiles",
                  "The chunk holds 3 images; at most 2 are accepted per request.")
    assert [i["name"] for i in api.inspect(dataset_id)["images"]] == ["a.jpg", "b.jpg"]
    if how == "close":
        assert api.stats()["requests"]["UploadChunk"]["dropped"] == 1


@pytest.mark.parametrize("how", REFUSALS)
def test_byte_cap(api: Api, server: LocalServer, upload: tuple[int, int, int], how: str) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.chunk_max_bytes = 20_000
    server.settings.variants.chunk_refusal = how
    assert api.chunk(dataset_id, session_id, [Img("small.jpg")]).status_code == 200
    big = Img("big.png", data=make_image("png") + bytes(30_000))
    answer = send(api, dataset_id, session_id, [big])
    check_refusal(answer, how, "", "larger than the limit of 20000 bytes per chunk")
    assert [i["name"] for i in api.inspect(dataset_id)["images"]] == ["small.jpg"]


def test_byte_cap_on_a_chunked_body(api: Api, server: LocalServer,
                                    upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.chunk_max_bytes = 20_000
    boundary = "XyZ"

    def body() -> Iterator[bytes]:
        """Stream a form without Content-Length whose file passes the cap."""
        for name, value in (("datasetId", dataset_id), ("datasetUploadId", session_id),
                            ("imagesMetadata[0][name]", "a.png")):
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n").encode()
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="imagesFiles"; '
               f'filename="a.png"\r\n\r\n').encode() + make_image("png") + bytes(30_000)
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = api.post("/Images/UploadChunk", data=body(),
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status_code == 413
    assert answer.json()["detail"] == ("The request body is larger than the limit of 20000 bytes "
                                       "per chunk; send fewer or smaller images per chunk.")


@pytest.mark.parametrize(("how", "status"), [("413", 413), ("400", 400), ("413-html", 413)])
def test_own_wording_or_none(api: Api, server: LocalServer, upload: tuple[int, int, int],
                             how: str, status: int) -> None:
    dataset_id, _, session_id = upload
    server.settings.variants.chunk_max_images = 1
    server.settings.variants.chunk_refusal = how
    server.settings.variants.chunk_refusal_detail = "Too big, mate"
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("b.jpg")])
    assert answer.status_code == status and "Too big, mate" in answer.text
    server.settings.variants.chunk_refusal_detail = ""
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg"), Img("b.jpg")])
    assert (answer.status_code, answer.content) == (status, b"")


def test_caps_apply_to_chunks_only(api: Api, server: LocalServer) -> None:
    server.settings.variants.chunk_max_bytes = 50
    assert api.post("/Datasets", json={"name": "x" * 100}).status_code == 200


def test_the_request_limit_still_wins_when_lower(api: Api, server: LocalServer,
                                                 upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_request_bytes = 10_000
    server.settings.variants.chunk_max_bytes = 20_000
    server.settings.variants.chunk_refusal = "400"
    answer = api.chunk(dataset_id, session_id, [Img("a.png", make_image("png") + bytes(15_000))])
    assert answer.status_code == 413 and "limit of 10000 bytes;" in answer.json()["detail"]


def test_serve_chunk_cap_flags(tmp_path: Path) -> None:
    with serving(tmp_path, "--chunk-max-images", "1", "--chunk-max-bytes", "100000",
                 "--chunk-refusal", "413-html", "--chunk-refusal-detail", "cap") as (url, token):
        bearer = requests.post(f"{url}/Users/SignIn", json=token, timeout=5).text
        headers = {"Authorization": f"Bearer {bearer}"}
        requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        requests.post(f"{url}/Datasets/1/StartUploading", headers=headers, timeout=5)
        answer = requests.post(f"{url}/Images/UploadChunk", headers=headers, timeout=5, data={
            "datasetId": "1", "datasetUploadId": "1", "imagesMetadata[0][name]": "a.jpg",
            "imagesMetadata[1][name]": "b.jpg"}, files=[
                ("imagesFiles", ("a.jpg", make_image())), ("imagesFiles", ("b.jpg", make_image()))])
        assert answer.status_code == 413 and "<p>cap</p>" in answer.text
