"""What `check` and `run` print about problems, and `check` in a pipe that closes early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import make_image


def _dataset(root: Path, empty: int, ok: int = 2) -> Path:
    """Write a folder-per-class dataset with ``empty`` empty .jpg files (image.empty)."""
    for i in range(ok):
        make_image(root / "data" / "cat" / f"ok{i}.jpg")
    for i in range(empty):
        (root / "data" / "cat" / f"empty{i:04d}.jpg").write_bytes(b"")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"url": "local", "data": "server"},
        "dataset": {"name": "console"},
        "source": {"type": "folder", "path": "data"},
        "upload": {"journal": "journal"},
    }), encoding="utf-8")
    return config


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "osai_import", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def _lines(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(word)]


def test_check_prints_the_first_messages_of_each_code(tmp_path: Path) -> None:
    config = _dataset(tmp_path, empty=5)
    done = _cli("check", str(config))
    assert done.returncode == 1
    shown = _lines(done.stdout, "error ")
    assert len(shown) == 3, done.stdout
    assert shown[0].startswith("error cat/empty0000.jpg: [image.empty] ")
    assert "the file is empty (0 bytes)" in shown[0]
    assert "... and 2 more image.empty (see --report, or --show)" in done.stdout


def test_show_sets_how_many_and_run_prints_the_same_messages(tmp_path: Path) -> None:
    config = _dataset(tmp_path, empty=5)
    none = _cli("check", str(config), "--show", "0")
    assert _lines(none.stdout, "error ") == [] and "more image.empty" not in none.stdout
    checked = _cli("check", str(config), "--show", "4")
    assert len(_lines(checked.stdout, "error ")) == 4
    assert "... and 1 more image.empty" in checked.stdout
    ran = _cli("run", str(config), "--show", "4")
    assert ran.returncode == 1, ran.stderr
    skipped = _lines(ran.stderr, "skipped ")
    # The same items and messages, named as what happens to them in each command.
    assert [s.removeprefix("skipped ") for s in skipped] == [
        c.removeprefix("error ") for c in _lines(checked.stdout, "error ")]
    assert "... and 1 more image.empty" in ran.stderr


def test_check_piped_into_head_writes_its_report_and_exits_quietly(tmp_path: Path) -> None:
    # Enough problems that the output overflows the pipe's buffer after the reader left.
    config = _dataset(tmp_path, empty=1500)
    report = tmp_path / "r.json"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "osai_import", "check", str(config), "--report", str(report),
         "--show", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert first.startswith(b"1,502 image(s) checked")
    assert code == 1, err  # the check's verdict (errors found), not a pipe failure
    assert err == ""
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["summary"]["problems_by_code"]["image.empty"]["count"] == 1500
