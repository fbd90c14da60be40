"""`serve` prints where it listens and the token, serves, and stops cleanly on a signal."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import osai_import.emulator
from osai_import.emulator.cli import serve
from osai_import.emulator.variants import names

# The source folder holding osai_import, so the child imports the same code (src layout).
SOURCE = Path(osai_import.emulator.__file__).resolve().parents[2]
COMMAND = "from osai_import.emulator.cli import serve; serve(prog_name='osai-import serve')"


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """Start `serve` in a child process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen(
        [sys.executable, "-c", COMMAND, "--port", "0", "--data", str(tmp_path / "data"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_banner(child: subprocess.Popen[str]) -> tuple[str, str, str]:
    """Read what the command prints up to "Ctrl-C"; return it with the base URL and token."""
    assert child.stdout is not None
    lines: list[str] = []
    while not lines or ("Ctrl-C" not in lines[-1] and lines[-1]):
        lines.append(child.stdout.readline())
    banner = "".join(lines)
    url = re.search(r"serving (http://127\.0\.0\.1:\d+/api)", banner)
    token = re.search(r"access token: (\S+)", banner)
    assert url and token, banner
    return banner, url.group(1), token.group(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_serves_and_stops(tmp_path: Path, stop_signal: int) -> None:
    child = start(tmp_path, "--quiet", "--seed", "3")
    try:
        banner, url, token = read_banner(child)
        assert f"OSAI_TOKEN={token}" in banner and f"server: {{url: {url}}}" in banner
        assert len(token) >= 20  # made up, since no --token was given
        assert requests.post(f"{url}/Users/SignIn", json=token, timeout=5).status_code == 200
        child.send_signal(stop_signal)
        out, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.rstrip().endswith("stopped")
    assert (tmp_path / "data" / "emulator.sqlite3").is_file()


def test_serve_uses_the_given_token_and_logs_requests(tmp_path: Path) -> None:
    child = start(tmp_path, "--token", "my-token", "--fail-rate", "0")
    try:
        _, url, token = read_banner(child)
        assert token == "my-token"
        assert requests.post(f"{url}/Users/SignIn", json="my-token", timeout=5).ok
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0
    assert "POST /api/Users/SignIn" in err


def test_serve_refuses_rates_over_one(tmp_path: Path) -> None:
    child = start(tmp_path, "--fail-rate", "0.6", "--lose-rate", "0.6")
    _, err = child.communicate(timeout=15)
    assert child.returncode == 2 and "at most 1" in err


def test_serve_takes_the_fault_flags(tmp_path: Path) -> None:
    child = start(tmp_path, "--quiet", "--lose-endpoints", "Datasets,categories",
                  "--lose-rate", "0", "--lose-next", "StartUploading", "--lose-next",
                  "FinishUploading=2", "--lose-mode", "500", "--html-endpoints", "UploadChunk",
                  "--html-rate", "0", "--html-next", "users=1", "--trickle-endpoints", "SignIn",
                  "--trickle-interval", "0.005")
    try:
        _, url, token = read_banner(child)
        started = time.perf_counter()
        signed_in = requests.post(f"{url}/Users/SignIn", json=token, timeout=5)
        assert time.perf_counter() - started >= (len(signed_in.content) - 1) * 0.005
        headers = {"Authorization": f"Bearer {signed_in.text}"}
        users = requests.get(f"{url}/Users", headers=headers, timeout=5)
        assert users.headers["Content-Type"].startswith("text/html")
        dataset = requests.post(f"{url}/Datasets", json={"name": "d"}, headers=headers, timeout=5)
        assert dataset.status_code == 200, "--lose-rate 0: nothing lost by rate"
        start_uploading = requests.post(f"{url}/Datasets/1/StartUploading", headers=headers,
                                        timeout=5)
        assert start_uploading.status_code == 500 and "lose_next" in start_uploading.text
        for _ in range(2):
            assert requests.post(f"{url}/Datasets/1/FinishUploading?datasetUploadId=1",
                                 headers=headers, timeout=5).status_code == 500
        assert requests.post(f"{url}/Datasets/1/FinishUploading?datasetUploadId=1",
                             headers=headers, timeout=5).status_code == 200
        stats = requests.get(url.replace("/api", "/_emulator/stats"), timeout=5).json()
        assert stats["faults"] == {"html": 1, "lose_500": 3, "trickle": 1}
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0, err


@pytest.mark.parametrize(("flag", "value"), [("--lose-endpoints", "Datasets,Dataset"),
                                             ("--html-next", "Upload=1"),
                                             ("--trickle-endpoints", "nothing")])
def test_serve_refuses_unknown_endpoints(tmp_path: Path, flag: str, value: str) -> None:
    child = start(tmp_path, flag, value)
    _, err = child.communicate(timeout=15)
    assert child.returncode == 2 and "unknown endpoint" in err and "UploadChunk" in err


def test_ctrl_c_does_not_wait_for_a_trickle(tmp_path: Path) -> None:
    child = start(tmp_path, "--quiet", "--trickle-endpoints", "SignIn", "--trickle-interval", "2")
    try:
        _, url, token = read_banner(child)
        port = int(url.split(":")[2].split("/")[0])
        body = json.dumps(token).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/Users/SignIn HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\n\r\n" + body)
            head = b""
            while b"\r\n\r\n" not in head:
                more = sock.recv(1)
                assert more, head
                head += more
            assert head.startswith(b"HTTP/1.1 200")
            started = time.perf_counter()
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=15)
            elapsed = time.perf_counter() - started
    finally:
        child.kill()
    assert child.returncode == 0
    assert out.rstrip().endswith("stopped")
    assert elapsed < 3


def test_every_variant_has_an_option_and_every_option_is_documented() -> None:
    options = {param.name: param for param in serve.params}
    assert set(names()) <= set(options), set(names()) - set(options)
    docs = (SOURCE.parent / "docs" / "emulator.md").read_text(encoding="utf-8")
    flags = [flag for param in serve.params for flag in getattr(param, "opts", [])]
    missing = [flag for flag in flags if f"`{flag}" not in docs and flag != "--help"]
    assert not missing, f"undocumented in docs/emulator.md: {missing}"
    assert all(f"`{name}`" in docs for name in names())
