"""Run `osai-import serve` in a child process for the tests of its options."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import osai_import.emulator

# The source folder holding osai_import, so the child imports the same code (src layout).
SOURCE = Path(osai_import.emulator.__file__).resolve().parents[2]
COMMAND = "from osai_import.emulator.cli import serve; serve(prog_name='osai-import serve')"


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[str, str]]:
    """Run `serve --quiet ARGS` on a free port; yield (base URL, access token); stop it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen(
        [sys.executable, "-c", COMMAND, "--port", "0", "--data", str(tmp_path / "served"),
         "--quiet", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = child.stdout.readline()
            assert line, f"serve stopped: {banner}{child.communicate(timeout=15)[1]}"
            banner += line
        url = re.search(r"serving (http://127\.0\.0\.1:\d+/api)", banner)
        token = re.search(r"access token: (\S+)", banner)
        assert url and token, banner
        yield url.group(1), token.group(1)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=15)
        assert child.returncode == 0, err
    finally:
        child.kill()
        child.wait()


def refused(tmp_path: Path, *args: str) -> str:
    """Run `serve ARGS` expecting a usage error; return its stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.run(
        [sys.executable, "-c", COMMAND, "--port", "0", "--data", str(tmp_path / "served"),
         *args], capture_output=True, text=True, env=env, timeout=30, check=False)
    assert child.returncode == 2, child.stderr
    return child.stderr
