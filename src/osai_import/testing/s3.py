"""A local S3-compatible server for tests: moto's server mode, in its own process.

``local_s3`` starts it on a free loopback port and points the AWS environment
(``AWS_ENDPOINT_URL``, test credentials) at it while it runs, the way a user points
osai-import at MinIO or any S3-compatible store. The fixture ``osai_s3`` (pytest11
plugin) shares one server across a test session. moto is in osai-import's ``test``
extra (``pip install "osai-import[test]"``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

_ENV = {
    "AWS_ACCESS_KEY_ID": "osai-test-key",
    "AWS_SECRET_ACCESS_KEY": "osai-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class LocalS3:
    """A running local S3 server: its endpoint, and helpers to fill buckets."""

    endpoint: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        """Return a boto3 S3 client for the server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_client_env())

    def bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh name by default) and return its name."""
        name = name or f"osai-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put_tree(self, folder: Path, url: str) -> list[str]:
        """Upload every file below ``folder`` to ``s3://bucket/prefix``; return the keys."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        client = self.client()
        keys = []
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = "/".join(p for p in (prefix.strip("/"), path.relative_to(folder).as_posix())
                               if p)
                client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                keys.append(key)
        return keys

    def put(self, url: str, data: bytes) -> None:
        """Write one object."""
        bucket, _, key = url.removeprefix("s3://").partition("/")
        self.client().put_object(Bucket=bucket, Key=key, Body=data)


def _client_env() -> dict[str, str]:
    return {"aws_access_key_id": _ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": _ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": _ENV["AWS_DEFAULT_REGION"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def local_s3(log: Path | None = None) -> Iterator[LocalS3]:
    """Run moto's S3 server in a child process on loopback; set the AWS environment to it."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out, stderr=out,
    )
    saved = {k: os.environ.get(k) for k in (*_ENV, "AWS_ENDPOINT_URL")}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the local S3 server did not start on {endpoint}"
                                       f" (exit status {process.poll()})") from None
                time.sleep(0.1)
        os.environ.update(_ENV)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield LocalS3(endpoint, process)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not None and not isinstance(out, int):
            out.close()


@pytest.fixture(scope="session")
def osai_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """Yield a local S3 server shared by the session (moto's server mode, its own process)."""
    with local_s3(tmp_path_factory.mktemp("osai-s3") / "moto.log") as server:
        yield server
