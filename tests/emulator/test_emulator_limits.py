"""Request size and form limits: 413 before the body is read, ASP.NET's form-limit 400s."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from osai_import.emulator import LocalServer

from .support import Api, Img, make_image


def test_413_from_content_length(api: Api, server: LocalServer,
                                 upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_request_bytes = 100_000
    answer = api.chunk(dataset_id, session_id, [Img("a.jpg", data=make_image() + bytes(150_000))])
    assert answer.status_code == 413
    assert "limit of 100000 bytes" in answer.json()["detail"]
    assert api.inspect(dataset_id)["images"] == []


@pytest.mark.parametrize(("bearer", "status"), [(True, b"413"), (False, b"401")])
def test_413_is_answered_before_the_body_is_read(api: Api, server: LocalServer, bearer: bool,
                                                 status: bytes) -> None:
    # A body that is never sent: a server that read before checking would hang here.
    authorization = f"Authorization: Bearer {api.bearer}\r\n".encode() if bearer else b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/Images/UploadChunk HTTP/1.1\r\nHost: x\r\n" + authorization
                     + b"Content-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 999999999\r\n\r\n")
        started = time.perf_counter()
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 " + status)
    assert time.perf_counter() - started < 2


def test_413_for_a_chunked_body(api: Api, server: LocalServer,
                                upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_request_bytes = 200_000
    boundary = "XyZ"

    def body() -> Iterator[bytes]:
        """Stream a form whose file alone passes the limit, with no Content-Length."""
        for name, value in (("datasetId", dataset_id), ("datasetUploadId", session_id),
                            ("imagesMetadata[0][name]", "a.jpg")):
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n").encode()
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="imagesFiles"; '
               f'filename="a.jpg"\r\n\r\n').encode() + make_image()
        for _ in range(10):
            yield bytes(50_000)
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = api.post("/Images/UploadChunk", data=body(),
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status_code == 413
    assert "limit of 200000 bytes" in answer.json()["detail"]
    assert api.inspect(dataset_id)["images"] == []


def test_form_value_count_limit(api: Api, server: LocalServer,
                                upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_form_values = 6
    # datasetId + datasetUploadId + 4 names = 6 values: at the limit, accepted.
    images = [Img(f"{i}.jpg") for i in range(4)]
    assert api.chunk(dataset_id, session_id, images).status_code == 200
    answer = api.chunk(dataset_id, session_id, [Img(f"x{i}.jpg") for i in range(5)])
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        "Failed to read the request form. Form value count limit 6 exceeded.")
    assert len(api.inspect(dataset_id)["images"]) == 4


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_form_value_length_limit(api: Api, server: LocalServer, upload: tuple[int, int, int],
                                 encoding: str) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_value_bytes = 1000
    data = {"datasetId": str(dataset_id), "datasetUploadId": str(session_id),
            "imagesMetadata[0][name]": "a" * 1001}
    files = [("imagesFiles", ("a.jpg", make_image()))] if encoding == "multipart" else None
    answer = api.post("/Images/UploadChunk", data=data, files=files)
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        "Failed to read the request form. Form value length limit 1000 exceeded.")
    assert api.inspect(dataset_id)["images"] == []


def test_files_do_not_count_as_form_values(api: Api, server: LocalServer,
                                           upload: tuple[int, int, int]) -> None:
    dataset_id, _, session_id = upload
    server.settings.max_value_bytes = 1000
    # Pillow reads only the header, so trailing bytes make a big yet valid file.
    big = make_image("png") + bytes(5000)
    answer = api.chunk(dataset_id, session_id, [Img("big.png", data=big)])
    assert answer.status_code == 200, answer.text


def test_413_for_json_endpoints_too(api: Api, server: LocalServer) -> None:
    server.settings.max_request_bytes = 1000
    answer = api.post("/Datasets", json={"name": "x" * 2000})
    assert answer.status_code == 413
    assert requests.get(f"{server.root_url}/_emulator/datasets").json() == []
