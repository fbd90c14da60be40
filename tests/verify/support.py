"""Helpers for the verify tests: servers, configs, the real CLI, and the server's SQLite.

A real OSAI serves its API under ``/api`` and a web app everywhere else; ``ApiOnlyProxy``
stands in front of a local server the same way: it forwards ``/api`` and answers every
other path with the web app's HTML page, a 200, as single-page apps do. The local
server's inspection API is then out of reach, as it is on any real service.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from osai_import.emulator import EmulatorSettings, LocalServer, Variants
from tests.run.support import TOKEN
from tests.support import CONFIGS, LEFT_BY_RUNS

# Rich wraps at the terminal's width (80 in a pipe): a wide one keeps each line whole.
_ENV = {"COLUMNS": "300", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
WEB_APP = b"<!doctype html><html><head><title>OSAI</title></head><body>app</body></html>"


def new_server(data_dir: Path, *, token: str = TOKEN, **variants: Any) -> LocalServer:
    """Start a local server with the test token (and the given variants)."""
    settings = EmulatorSettings(data_dir=data_dir, token=token, retry_after=0.05,
                                variants=Variants(**variants))
    return LocalServer(settings).start()


class ApiOnlyProxy:
    """Forward ``/api/...`` to a server; answer anything else with a web app's page."""

    def __init__(self, upstream: str) -> None:
        target = upstream.rstrip("/")

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                if not self.path.lower().startswith("/api/"):
                    self._answer(200, WEB_APP, "text/html; charset=utf-8")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type", "accept")}
                answer = requests.request(self.command, target + self.path, data=body,
                                          headers=headers, timeout=30, allow_redirects=False)
                self._answer(answer.status_code, answer.content,
                             answer.headers.get("Content-Type"))

            def _answer(self, status: int, body: bytes, content_type: str | None) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Return the API's base URL through the proxy."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def remote_config(folder: Path, url: str, *, source: str = "data", **upload: Any) -> Path:
    """Write ``folder/run.yaml``: a folder source, VOC boxes, a server at ``url``."""
    data = {
        "dataset": {"name": "verify-test"},
        "source": {"type": "folder", "path": source},
        "annotations": {"type": "voc"},
        "server": {"url": url, "timeout": 10},
        "upload": {"workers": 1, "chunk_images": 4, "backoff": 0.01, "max_backoff": 0.05,
                   **upload},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def quickstart(tmp_path: Path) -> Path:
    """Copy the shipped configs to ``tmp_path`` and return the quickstart config there."""
    shutil.copytree(CONFIGS, tmp_path / "configs", ignore=LEFT_BY_RUNS)
    return tmp_path / "configs" / "quickstart.yaml"


@dataclass
class Cli:
    """What one ``osai-import verify`` process did."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """Return stdout parsed as JSON (``--json``)."""
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def verify_cli(config: Path, *args: str, token: str | None = TOKEN,
               cwd: Path | None = None) -> Cli:
    """Run ``osai-import verify CONFIG ARGS`` in a child process, with ``token`` in OSAI_TOKEN."""
    env = {**os.environ, **_ENV}
    env.pop("OSAI_TOKEN", None)
    if token is not None:
        env["OSAI_TOKEN"] = token
    proc = subprocess.run([sys.executable, "-m", "osai_import", "verify", str(config), *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    return Cli(proc.returncode, proc.stdout, proc.stderr)


@contextmanager
def server_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open the local server's SQLite, to change what it stores behind the tool's back."""
    with closing(sqlite3.connect(data_dir / "emulator.sqlite3", isolation_level=None)) as db:
        db.row_factory = sqlite3.Row
        yield db


def image_id(db: sqlite3.Connection, name: str) -> int:
    """Return the stored id of the one image called ``name``."""
    rows = db.execute("SELECT id FROM images WHERE name = ?", (name,)).fetchall()
    assert len(rows) == 1, (name, len(rows))
    return int(rows[0]["id"])


def dump(path: Path) -> list[str]:
    """Return every statement that rebuilds an SQLite file's content (read-only)."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return list(db.iterdump())


def findings(report: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Return, from a JSON report, each differing image's findings: {name: {kind: [detail]}}."""
    found: dict[str, dict[str, list[str]]] = {}
    for image in report["differing"]:
        kinds = found.setdefault(image["name"], {})
        for finding in image["findings"]:
            kinds.setdefault(finding["kind"], []).append(finding["detail"])
    return found
