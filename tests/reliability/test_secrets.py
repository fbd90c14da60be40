"""The access token and every bearer token stay secret: no log line, error, report, journal.

Each test runs the real CLI with ``--debug`` (every log line, tracebacks) and greps all it
wrote: stdout, stderr, the JSON report and every file of the journal folder, as bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from osai_import.emulator import LocalServer
from tests.reliability.support import TOKEN, Cli, remote_config, run_cli
from tests.run.support import make_folder_dataset


@contextmanager
def bearer_tokens(server: LocalServer) -> Iterator[list[str]]:
    """Collect every bearer token the server hands out while in the block."""
    api = server.app.api
    real = api.sign_in
    issued: list[str] = []

    def sign_in(request: Request, body: Any) -> Response:
        answer = real(request, body)
        issued.append(answer.get_data(as_text=True).strip())
        return answer

    api.sign_in = sign_in  # type: ignore[method-assign]
    try:
        yield issued
    finally:
        api.sign_in = real  # type: ignore[method-assign]


def _everything_written(result: Cli, config: Path) -> dict[str, bytes]:
    places = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode(),
              "report": json.dumps(result.report).encode()}
    for path in config.parent.rglob("*"):
        if path.is_file() and "server" not in path.relative_to(config.parent).parts:
            places[str(path)] = path.read_bytes()
    return places


def _forms(secret: str) -> list[bytes]:
    """Return the ways a secret could be written: as is, in JSON, base64, and its parts."""
    forms = [secret, json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()]
    forms += [part for part in secret.split(".") if len(part) >= 16]  # a JWT's signature
    return [f.encode() for f in forms]


def _assert_secret(secrets: list[str], places: dict[str, bytes]) -> None:
    assert secrets and places
    for secret in secrets:
        for form in _forms(secret):
            leaks = [where for where, data in places.items() if form in data]
            assert not leaks, f"a secret is written in {leaks}"


def test_no_token_in_any_output_of_a_faulty_run(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 40)
    server.settings.jwt_ttl = 0.3  # several sign-ins, several bearer tokens
    server.settings.latency_ms = 20
    server.settings.fail_rate = 0.1
    server.settings.lose_rate = 0.1
    config = remote_config(tmp_path, server.base_url, workers=2, chunk_images=3)
    with bearer_tokens(server) as issued:
        result = run_cli(config, debug=True)
    assert result.returncode == 0, result.stderr
    assert len(issued) >= 2
    assert "DEBUG osai_import.upload.client" in result.stderr, "--debug logs every request"
    places = _everything_written(result, config)
    assert any(p.endswith("journal.sqlite") for p in places)
    _assert_secret([TOKEN, *issued], places)


def test_a_refused_token_is_not_shown(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 4)
    wrong = "wrong-access-token-5f2c9a"
    config = remote_config(tmp_path, server.base_url)
    result = run_cli(config, token=wrong, debug=True)
    assert result.returncode == 3
    assert "refused the access token" in result.stderr and "OSAI_TOKEN" in result.stderr
    _assert_secret([wrong], _everything_written(result, config))


def test_a_server_that_echoes_tokens_is_redacted(tmp_path: Path, server: LocalServer) -> None:
    make_folder_dataset(tmp_path / "data", 4)
    config = remote_config(tmp_path, server.base_url)
    api = server.app.api

    def echo(request: Request, body: Any) -> Response:
        # A careless server quoting what it was sent: both tokens end up in its answer.
        detail = f"bad request from {request.headers.get('Authorization')} ({TOKEN})"
        return Response(json.dumps({"title": "Bad", "detail": detail,
                                    "errors": {"name": [detail]}}),
                        status=400, content_type="application/problem+json")

    with bearer_tokens(server) as issued:
        api.create_dataset = echo  # type: ignore[method-assign]
        try:
            result = run_cli(config, debug=True)
        finally:
            del api.create_dataset
    assert result.returncode == 3
    assert "POST /Datasets was refused (HTTP 400)" in result.stderr
    assert "[redacted]" in result.stderr
    _assert_secret([TOKEN, *issued], _everything_written(result, config))
