"""Connection variants: `Connection: close` on every answer, HTTP/1.1 keep-alive, HTTP/1.0."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import TOKEN, Api, Img


class Wire:
    """One client connection spoken to byte by byte."""

    def __init__(self, server: LocalServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.buffer = b""

    def send(self, method: str, path: str, body: bytes = b"", version: str = "HTTP/1.1",
             headers: str = "") -> None:
        """Send one request."""
        self.sock.sendall(f"{method} {path} {version}\r\nHost: x\r\n{headers}"
                          "Content-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def _more(self) -> bytes:
        data = self.sock.recv(65536)
        self.buffer += data
        return data

    def answer(self) -> tuple[str, dict[str, str], bytes]:
        """Read one answer (status line, headers, body by its Content-Length)."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._more(), f"closed before an answer: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in
                   (line.partition(":") for line in lines)}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            assert self._more(), "closed inside the body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed(self) -> bool:
        """Tell whether the server closed the connection (waiting up to 5 s)."""
        try:
            return self._more() == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        """Close our end."""
        self.sock.close()


def signed_in(server: LocalServer) -> str:
    """Return an Authorization header line."""
    bearer = requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN, timeout=5).text
    return f"Authorization: Bearer {bearer}\r\n"


def test_close_on_request(server: LocalServer) -> None:
    server.settings.variants.connection = "close"
    wire = Wire(server)
    wire.send("POST", "/api/Users/SignIn", json.dumps(TOKEN).encode())
    status, headers, _ = wire.answer()
    assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
    assert wire.closed()


def test_keep_alive_by_default_serves_many_requests_on_one_connection(server: LocalServer) -> None:
    assert server.settings.variants.connection == "keep-alive"
    auth = signed_in(server)
    wire = Wire(server)
    for n in range(3):
        wire.send("POST", "/api/Datasets", json.dumps({"name": f"d{n}"}).encode(), headers=auth)
        status, headers, body = wire.answer()
        assert status == "HTTP/1.1 200 OK" and "connection" not in headers
        assert json.loads(body) == {"id": n + 1, "name": f"d{n}"}
    # Errors too leave the connection open.
    wire.send("POST", "/api/Datasets/99/StartUploading", headers=auth)
    assert wire.answer()[0] == "HTTP/1.1 404 NOT FOUND"
    wire.send("GET", "/api/Users", headers=auth)
    assert wire.answer()[0] == "HTTP/1.1 200 OK"
    wire.close()


def test_keep_alive_reads_past_a_body_left_unread(server: LocalServer) -> None:
    server.settings.variants.connection = "keep-alive"
    auth = signed_in(server)
    wire = Wire(server)
    server.settings.fail_rate = 1  # a 503 before the body is read
    wire.send("POST", "/api/Datasets", json.dumps({"name": "x" * 5000}).encode(), headers=auth)
    assert wire.answer()[0] == "HTTP/1.1 503 SERVICE UNAVAILABLE"
    server.settings.fail_rate = 0
    wire.send("POST", "/api/Datasets", b'{"name": "next"}', headers=auth)
    status, _, body = wire.answer()
    assert status == "HTTP/1.1 200 OK" and json.loads(body)["name"] == "next"


def test_keep_alive_closes_after_a_413_before_a_big_body(server: LocalServer) -> None:
    server.settings.variants.connection = "keep-alive"
    auth = signed_in(server)
    wire = Wire(server)
    wire.sock.sendall(b"POST /api/Images/UploadChunk HTTP/1.1\r\nHost: x\r\n" + auth.encode()
                      + b"Content-Type: multipart/form-data; boundary=b\r\n"
                      b"Content-Length: 999999999\r\n\r\n")
    status, headers, _ = wire.answer()
    assert status == "HTTP/1.1 413 REQUEST ENTITY TOO LARGE" and headers["connection"] == "close"
    assert wire.closed()


def test_keep_alive_honours_the_client(server: LocalServer) -> None:
    server.settings.variants.connection = "keep-alive"
    wire = Wire(server)
    wire.send("POST", "/api/Users/SignIn", json.dumps(TOKEN).encode(),
              headers="Connection: close\r\n")
    assert wire.answer()[1]["connection"] == "close" and wire.closed()
    # An HTTP/1.0 client that asks for keep-alive gets it, and is told so.
    wire = Wire(server)
    for _ in range(2):
        wire.send("POST", "/api/Users/SignIn", json.dumps(TOKEN).encode(), version="HTTP/1.0",
                  headers="Connection: keep-alive\r\n")
        status, headers, _ = wire.answer()
        assert status == "HTTP/1.1 200 OK" and headers["connection"] == "keep-alive"


def test_keep_alive_with_a_pooling_client(server: LocalServer) -> None:
    server.settings.variants.connection = "keep-alive"
    api = Api(server)
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    for n in range(5):
        assert api.chunk(dataset_id, session_id, [Img(f"{n}.jpg")]).status_code == 200
    assert api.finish(dataset_id, session_id).status_code == 200
    assert api.stats()["connections"] == 1, "every request used the first connection"
    assert len(api.inspect(dataset_id)["images"]) == 5


def test_with_close_a_pooling_client_reconnects_every_time(api: Api, server: LocalServer) -> None:
    server.settings.variants.connection = "close"
    before = api.stats()["connections"]
    api.dataset()
    api.dataset()
    # Two datasets and this look at the stats, each on a connection of its own.
    assert api.stats()["connections"] - before == 3


def test_stop_closes_idle_kept_alive_connections(server: LocalServer) -> None:
    server.settings.variants.connection = "keep-alive"
    wire = Wire(server)
    wire.send("POST", "/api/Users/SignIn", json.dumps(TOKEN).encode())
    assert wire.answer()[0] == "HTTP/1.1 200 OK"
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 2
    assert wire.closed()


def test_http_1_0(server: LocalServer) -> None:
    server.settings.variants.connection = "http/1.0"
    wire = Wire(server)
    wire.send("POST", "/api/Users/SignIn", json.dumps(TOKEN).encode(),
              headers="Connection: keep-alive\r\n")
    status, headers, body = wire.answer()
    assert status == "HTTP/1.0 200 OK" and "connection" not in headers and body
    assert wire.closed()
    # A plain client copes with it.
    assert Api(server).dataset() == 1


@pytest.mark.parametrize("mode", ["close", "keep-alive", "http/1.0"])
def test_every_answer_has_a_length(server: LocalServer, mode: str) -> None:
    server.settings.variants.connection = mode
    server.settings.variants.chunk_status = 204
    api = Api(server)
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    answers = [api.chunk(dataset_id, session_id, [Img("a.jpg")]),
               api.finish(dataset_id, session_id), api.post("/Nothing"),
               api.http.get(f"{server.base_url}/Users", headers=api.headers)]
    assert [a.status_code for a in answers] == [204, 200, 404, 200]
    assert all("Content-Length" in a.headers for a in answers[1:])


def test_serve_connection_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--connection", "keep-alive") as (url, token):
        http = requests.Session()
        for _ in range(3):
            assert http.post(f"{url}/Users/SignIn", json=token, timeout=5).status_code == 200
        stats = http.get(url.replace("/api", "/_emulator/stats"), timeout=5).json()
        assert stats["connections"] == 1
        http.close()
