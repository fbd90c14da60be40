"""Answers that trickle a byte at a time, and 200 HTML pages from "a proxy"."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from osai_import.emulator import LocalServer

from .support import TOKEN, Api, Img


def raw_request(server: LocalServer, head: str, body: bytes = b"") -> socket.socket:
    """Open a connection and send one request; return the socket to read the answer from.

    The request asks for ``Connection: close``, so the answer ends with the connection.
    """
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode() + f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)
    return sock


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the end of the headers; return (head, the body bytes read with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(1)
        assert more, data
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_rest(sock: socket.socket) -> bytes:
    """Read until the server closes the connection."""
    data = b""
    while more := sock.recv(4096):
        data += more
    return data


def content_length(head: bytes) -> int:
    """Return the Content-Length of a raw answer head."""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(head)


# --- trickle ---------------------------------------------------------------------------------

def test_a_trickled_answer_arrives_whole_at_the_pace_set(api: Api, server: LocalServer) -> None:
    server.settings.trickle_endpoints = frozenset({"Datasets"})
    server.settings.trickle_interval = 0.03
    started = time.perf_counter()
    answer = api.post("/Datasets", json={"name": "slowly"})
    elapsed = time.perf_counter() - started
    body = b'{"id":1,"name":"slowly"}'
    assert answer.status_code == 200 and answer.content == body
    assert answer.headers["Content-Length"] == str(len(body))
    assert answer.json() == {"id": 1, "name": "slowly"}
    # One pause between each two bytes.
    assert (len(body) - 1) * 0.03 <= elapsed < len(body) * 0.03 + 1.0
    assert api.stats()["faults"] == {"trickle": 1}


def test_status_and_headers_come_first(api: Api, server: LocalServer) -> None:
    server.settings.trickle_endpoints = frozenset({"Users"})
    server.settings.trickle_interval = 0.02
    started = time.perf_counter()
    with raw_request(server, f"GET /api/Users HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {api.bearer}\r\n") as sock:
        head, first = read_head(sock)
        headed = time.perf_counter() - started
        body = first + read_rest(sock)
    elapsed = time.perf_counter() - started
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == content_length(head) > 40
    assert json.loads(body)["email"] == "local-user@localhost"
    assert headed < 0.5 < (len(body) - 1) * 0.02 <= elapsed


def test_other_endpoints_and_errors(api: Api, server: LocalServer) -> None:
    server.settings.trickle_endpoints = frozenset({"Categories"})
    server.settings.trickle_interval = 0.002
    assert api.post("/Datasets", json={"name": "quick"}).status_code == 200
    # An error answer of a trickling endpoint trickles too, and arrives whole.
    refused = api.post("/Categories", json={"datasetId": 99, "name": "cat"})
    assert refused.status_code == 400
    assert "Dataset 99 does not exist." in refused.json()["errors"]["datasetId"]
    assert api.stats()["faultsByEndpoint"] == {"Categories": {"trickle": 1}}


def test_stop_cuts_a_trickle_short(server: LocalServer, api: Api) -> None:
    server.settings.trickle_endpoints = frozenset({"Users"})
    server.settings.trickle_interval = 0.5  # about 50 s for the whole answer
    with raw_request(server, f"GET /api/Users HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {api.bearer}\r\n") as sock:
        head, first = read_head(sock)
        started = time.perf_counter()
        server.stop()
        stopped = time.perf_counter() - started
        body = first + read_rest(sock)
    assert stopped < 2
    assert 0 < len(body) < content_length(head)


def test_a_trickle_outlives_nothing_after_stop(server: LocalServer, api: Api) -> None:
    # A client reading with requests sees the cut answer as an error, not as a success.
    server.settings.trickle_endpoints = frozenset({"Users"})
    server.settings.trickle_interval = 0.2
    errors: list[BaseException] = []

    def read() -> None:
        """Read the trickling answer to its end."""
        try:
            requests.get(f"{server.base_url}/Users", headers=api.headers, timeout=20).json()
        except (requests.RequestException, ValueError) as error:
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.5)
    started = time.perf_counter()
    server.stop()
    reader.join(5)
    assert time.perf_counter() - started < 2.5
    assert not reader.is_alive() and len(errors) == 1


# --- HTML from a proxy ------------------------------------------------------------------------

def proxy_page(answer: requests.Response) -> None:
    """Check that an answer is the proxy's 200 HTML page."""
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Proxy notice</title>" in answer.text
    assert answer.headers["Content-Length"] == str(len(answer.content))


def test_html_one_shot_stores_nothing(api: Api, server: LocalServer) -> None:
    server.settings.html_next.update(Datasets=1, Categories=1, StartUploading=1)
    proxy_page(api.post("/Datasets", json={"name": "never"}))
    assert requests.get(f"{server.root_url}/_emulator/datasets").json() == []
    dataset_id = api.dataset("real")
    proxy_page(api.post("/Categories", json={"datasetId": dataset_id, "name": "cat"}))
    proxy_page(api.post(f"/Datasets/{dataset_id}/StartUploading"))
    stored = api.inspect(dataset_id)
    assert stored["categories"] == [] and stored["sessions"] == [] and not stored["locked"]
    assert server.settings.html_next == {"Datasets": 0, "Categories": 0, "StartUploading": 0}
    # Used up: the same calls now reach the API.
    api.category(dataset_id, "cat")
    session_id = api.start(dataset_id)
    server.settings.html_next.update(UploadChunk=1, FinishUploading=1)
    proxy_page(api.chunk(dataset_id, session_id, [Img("a.jpg")]))
    proxy_page(api.finish(dataset_id, session_id))
    stored = api.inspect(dataset_id)
    assert stored["images"] == [] and stored["locked"]
    stats = api.stats()
    assert stats["faults"] == {"html": 5}
    assert stats["requests"]["StartUploading"] == {"200": 2}


def test_html_comes_before_auth(server: LocalServer) -> None:
    server.settings.html_next["SignIn"] = 1
    proxy_page(requests.post(f"{server.base_url}/Users/SignIn", json="wrong token"))
    assert requests.post(f"{server.base_url}/Users/SignIn", json="wrong token").status_code == 401
    server.settings.html_next["Users"] = 1
    proxy_page(requests.get(f"{server.base_url}/Users"))


@pytest.mark.parametrize("endpoints", [frozenset({"UploadChunk"}), frozenset({"Datasets"})])
def test_html_rate_applies_to_its_endpoints(api: Api, server: LocalServer,
                                            endpoints: frozenset[str]) -> None:
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    server.settings.html_endpoints, server.settings.html_rate = endpoints, 1
    chunk = api.chunk(dataset_id, session_id, [Img("a.jpg")])
    dataset = api.post("/Datasets", json={"name": "second"})
    proxied, answered = (chunk, dataset) if "UploadChunk" in endpoints else (dataset, chunk)
    proxy_page(proxied)
    assert answered.headers["Content-Type"].startswith("application/json")
    stored = len(api.inspect(dataset_id)["images"])
    datasets = len(requests.get(f"{server.root_url}/_emulator/datasets").json())
    assert (stored, datasets) == ((0, 2) if "UploadChunk" in endpoints else (1, 1))


def test_html_rate_by_default_hits_every_endpoint(server: LocalServer) -> None:
    server.settings.html_rate = 1
    proxy_page(requests.post(f"{server.base_url}/Users/SignIn", json=TOKEN))
    proxy_page(requests.post(f"{server.base_url}/Datasets", json={"name": "x"}))
    assert requests.get(f"{server.root_url}/_emulator/datasets").json() == []


def test_html_and_lose_one_shots_on_one_endpoint(api: Api, server: LocalServer) -> None:
    # The proxy answers first; the lost answer waits for a request that reaches the API.
    server.settings.html_next["Datasets"] = 1
    server.settings.lose_next["Datasets"] = 1
    proxy_page(api.post("/Datasets", json={"name": "a"}))
    assert api.post("/Datasets", json={"name": "b"}).status_code == 500
    assert api.post("/Datasets", json={"name": "c"}).status_code == 200
    names = [d["name"] for d in requests.get(f"{server.root_url}/_emulator/datasets").json()]
    assert names == ["b", "c"]
