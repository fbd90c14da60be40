"""`serve` prints where it listens and the token, serves, and stops cleanly on a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import osai_import.emulator

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
