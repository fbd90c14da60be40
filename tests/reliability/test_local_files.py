"""Local files: the bytes sent are those of the file the check saw; a full disk is one clear line.

Files are swapped between the check and the send (a FIFO, a symbolic link to a file
outside the dataset, a rewrite): each is refused by name, never sent, never a hang. A disk
that fills up under the journal or the report stops the run with one line naming the path
and exit code 3, the dataset unlocked, the journal consistent, no temporary file left.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import yaml

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    TOKEN,
    assert_complete,
    datasets,
    finish_cli,
    hold,
    read_report,
    remote_config,
    run_cli,
    start_cli,
    stored,
    wait_until,
)
from tests.run.support import make_folder_dataset
from tests.support import make_image


def test_files_swapped_after_the_check_are_refused_by_name(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 12, boxes=False)
    secret = make_image(tmp_path / "outside" / "secret.jpg", 25, 17, (9, 9, 9))
    config = remote_config(tmp_path, server.base_url, on_problem="stop", workers=2)
    data = tmp_path / "data"
    fifo, link, rewritten = (data / "class_0" / "img_00000.jpg", data / "class_1" / "img_00001.jpg",
                             data / "class_2" / "img_00002.jpg")
    # The whole check runs first (on_problem: stop); the files change while StartUploading
    # waits, between the check and the send.
    with hold(server, "start_uploading") as gate:
        proc = start_cli(config, "--report", str(tmp_path / "r.json"))
        wait_until("StartUploading is called", gate.entered.is_set, proc)
        fifo.unlink()
        os.mkfifo(fifo)
        link.unlink()
        link.symlink_to(secret)
        make_image(rewritten, 60, 40, (200, 9, 9))
    result = finish_cli(proc, tmp_path / "r.json", timeout=60)
    result.assert_clean()
    assert result.returncode == 1
    assert result.report is not None
    failed = {row["item"]: row["reason"] for row in result.report["failed"]}
    assert set(failed) == {"class_0/img_00000.jpg", "class_1/img_00001.jpg",
                           "class_2/img_00002.jpg"}
    assert failed["class_1/img_00001.jpg"].startswith("image.changed: ")
    assert "its path is now a symbolic link" in failed["class_1/img_00001.jpg"]
    assert failed["class_2/img_00002.jpg"].startswith("image.changed: ")
    assert "is not what the check saw" in failed["class_2/img_00002.jpg"]
    # The FIFO is found when the files are checked again before the upload.
    assert failed["class_0/img_00000.jpg"].startswith("image.unreadable: ")
    assert "not a regular file" in failed["class_0/img_00000.jpg"]
    held = stored(server, result.report["dataset"]["id"])
    assert sorted(i["name"] for i in held["images"]) == sorted(set(names) - {
        "img_00000.jpg", "img_00001.jpg", "img_00002.jpg"})
    secret_digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert all(i["sha256"] != secret_digest for i in held["images"])
    assert held["locked"] is False


def test_the_digest_sent_is_the_file_checked(tmp_path: Path, server: LocalServer) -> None:
    names = make_folder_dataset(tmp_path / "data", 10)
    config = remote_config(tmp_path, server.base_url)
    result = run_cli(config)
    assert result.returncode == 0 and result.report is not None
    assert_complete(server, result.report, names)
    held = stored(server, result.report["dataset"]["id"])
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in (tmp_path / "data").rglob("*.jpg")}
    assert {i["name"]: i["sha256"] for i in held["images"]} == on_disk


# --- a disk that fills up ---------------------------------------------------------------


@cache
def _mount_prefix() -> tuple[str, ...] | None:
    """Return how this machine lets a test mount a small tmpfs: as root, or in a user namespace."""
    probe = Path(f"/tmp/osai-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        for prefix in (("unshare", "-m"), ("unshare", "-rm")):
            if shutil.which(prefix[0]) is None:
                return None
            done = subprocess.run(
                [*prefix, "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                capture_output=True, timeout=30, check=False,
            )
            if done.returncode == 0:
                return prefix
        return None
    finally:
        probe.rmdir()


def on_small_disk(mountpoint: Path, size_kib: int, argv: list[str], keep: Path,
                  fill: bool = False) -> list[str]:
    """Return a command running ``argv`` with a disk of ``size_kib`` KiB at ``mountpoint``.

    The disk is a tmpfs in a private mount namespace (as root, or in a user namespace), so
    nothing outside the test sees it; ``fill`` fills it before ``argv`` runs. What the
    program left on it is copied to ``keep`` when it ends, with a listing in
    ``keep/.listing``.
    """
    prefix = _mount_prefix()
    assert prefix is not None, (
        "this machine can mount no tmpfs, neither as root nor in a user namespace: the test "
        "needs one to fill a disk"
    )
    mountpoint.mkdir(parents=True, exist_ok=True)
    keep.mkdir(parents=True, exist_ok=True)
    at, kept = shlex.quote(str(mountpoint)), shlex.quote(str(keep))
    filler = f"dd if=/dev/zero of={at}/.filler bs=1k count={size_kib} 2>/dev/null; " if fill else ""
    script = (
        f"mount -t tmpfs -o size={size_kib}k tmpfs {at} || exit 97; {filler}"
        f"\"$@\"; rc=$?; rm -f {at}/.filler; ls -A {at} > {kept}/.listing; "
        f"cp -a {at}/. {kept}/; exit $rc"
    )
    return [*prefix, "sh", "-c", script, "sh", *argv]


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "osai_import", "run", str(config), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OSAI_TOKEN": TOKEN, "COLUMNS": "400",
            "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def test_a_full_disk_under_the_journal_stops_cleanly_and_the_next_run_finishes(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 400, boxes=False)
    config = remote_config(tmp_path, server.base_url, chunk_images=8, workers=2,
                           journal=str(tmp_path / "small"))
    command = on_small_disk(tmp_path / "small", 600, _cli(config, "--report",
                            str(tmp_path / "r.json")), tmp_path / "kept")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120,
                          check=False)
    assert time.monotonic() - started < 60
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3, done.stderr
    journal_lines = [line for line in done.stderr.splitlines() if "journal" in line and
                     ("could not be written" in line or "cannot write the journal" in line)]
    assert journal_lines, done.stderr
    assert str(tmp_path / "small") in journal_lines[0]
    report = read_report(tmp_path / "r.json")
    assert report["exit_code"] == 3 and report["aborted"]
    assert 0 < report["counts"]["uploaded"] < 400, "the disk filled up in the middle of the upload"
    [dataset] = datasets(server)
    assert stored(server, dataset["id"])["locked"] is False, "FinishUploading ran"
    # The journal as the full disk left it, on a disk with room: the run finishes the job.
    kept = tmp_path / "kept"
    assert (kept / "journal.sqlite").exists()
    data = yaml.safe_load(config.read_text())
    data["upload"]["journal"] = str(kept)
    config.write_text(yaml.safe_dump(data))
    again = run_cli(config)
    again.assert_clean()
    assert again.returncode == 0, again.stderr
    assert again.report is not None
    assert_complete(server, again.report, names)


def test_a_report_on_a_full_disk_is_one_clear_line_and_no_temporary_file(
    tmp_path: Path, server: LocalServer
) -> None:
    make_folder_dataset(tmp_path / "data", 6)
    config = remote_config(tmp_path, server.base_url)
    report = tmp_path / "full" / "run.json"
    command = on_small_disk(tmp_path / "full", 64, _cli(config, "--report", str(report)),
                            tmp_path / "kept", fill=True)
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120,
                          check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3, done.stderr
    assert f"{report}: the report could not be written" in done.stderr
    assert (tmp_path / "kept" / ".listing").read_text().split() == [], "no temporary file left"
    [dataset] = datasets(server)
    assert len(stored(server, dataset["id"])["images"]) == 6, "the upload itself went through"


def test_check_with_a_report_on_a_full_disk_is_one_clear_line(tmp_path: Path) -> None:
    make_folder_dataset(tmp_path / "data", 4)
    config = tmp_path / "check.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"name": "x"},
                                      "source": {"type": "folder", "path": "data"}}))
    report = tmp_path / "full" / "check.json"
    argv = [sys.executable, "-m", "osai_import", "check", str(config), "--report", str(report)]
    command = on_small_disk(tmp_path / "full", 64, argv, tmp_path / "kept", fill=True)
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120,
                          check=False)
    assert (tmp_path / "kept" / ".listing").read_text().split() == [], "no temporary file left"
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3
    assert f"error: {report}: the report could not be written" in done.stderr
