"""Error-body variants: every error answer in the format a service or its proxy might use."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from osai_import.emulator import LocalServer

from .child import serving
from .support import Api


def missing_name(api: Api) -> requests.Response:
    """Make a 400: a category without a name."""
    return api.post("/Categories", json={"datasetId": api.dataset()})


def test_aspnet_problem_details_by_default(api: Api) -> None:
    answer = missing_name(api)
    assert answer.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    assert answer.json() == {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.", "status": 400,
        "detail": "name: The name field is required.",
        "errors": {"name": ["The name field is required."]}}


def test_rfc7807(api: Api, server: LocalServer) -> None:
    server.settings.variants.error_format = "rfc7807"
    answer = missing_name(api)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json() == {
        "type": "about:blank", "title": "Bad Request", "status": 400,
        "detail": "name: The name field is required.", "instance": "/api/Categories",
        "invalid-params": [{"name": "name", "reason": "The name field is required."}]}
    unknown = api.post("/Nothing")
    assert unknown.status_code == 404 and unknown.json()["title"] == "Not Found"
    assert "invalid-params" not in unknown.json()


def test_plain_text(api: Api, server: LocalServer) -> None:
    server.settings.variants.error_format = "text"
    answer = missing_name(api)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.text == "name: The name field is required."
    start = api.post("/Datasets/99/StartUploading")
    assert (start.status_code, start.text) == (404, "Dataset 99 does not exist.")


def test_empty(api: Api, server: LocalServer) -> None:
    server.settings.variants.error_format = "empty"
    answer = missing_name(api)
    assert answer.status_code == 400 and answer.content == b""
    assert answer.headers["Content-Length"] == "0"
    assert "Content-Type" not in answer.headers


def test_html_error_page(api: Api, server: LocalServer) -> None:
    server.settings.variants.error_format = "html"
    answer = api.post("/Categories", json={"datasetId": 42, "name": "<b>"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>400 Bad Request</title>" in answer.text
    assert "datasetId: Dataset 42 does not exist." in answer.text


@pytest.mark.parametrize("error_format", ["aspnet", "rfc7807", "text", "empty", "html"])
def test_headers_are_kept(api: Api, server: LocalServer, error_format: str) -> None:
    server.settings.variants.error_format = error_format
    refused = requests.get(f"{server.base_url}/Users", timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    server.settings.throttle_rate = 1
    throttled = api.post("/Datasets", json={"name": "x"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    server.settings.throttle_rate = 0
    # Success answers are never touched.
    created = api.post("/Datasets", json={"name": "x"})
    assert created.json() == {"id": 1, "name": "x"}


def test_serve_error_format_flag(tmp_path: Path) -> None:
    with serving(tmp_path, "--error-format", "text") as (url, _):
        answer = requests.post(f"{url}/Users/SignIn", json="wrong", timeout=5)
        assert (answer.status_code, answer.text) == (401, "The access token is not valid.")
