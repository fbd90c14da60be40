"""Helpers for the reliability suites: a live server, the real CLI, and what must hold after.

Every suite talks to a ``LocalServer`` on loopback in the test process and runs
``osai-import`` as a child process, so faults, kills and stalls hit the real program. The
server's handlers can be held (``hold``) or slowed (``slow``) per endpoint from here: the
emulator has no per-endpoint knob, and the test owns the server object.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from werkzeug.wrappers import Response

from osai_import.emulator import EmulatorSettings, LocalServer
from tests.run.support import TOKEN, datasets, stored

__all__ = [
    "LEDGER", "SOAK", "TOKEN", "Cli", "Hold", "assert_complete", "closed_port", "datasets", "finish_cli",
    "hold", "images_stored", "journal_rows", "kill", "new_server", "read_report",
    "remote_config", "restart", "run_cli", "slow", "slow_reader", "start_cli", "stats", "stored", "wait_until",
]

# Rich wraps its summary at the terminal's width (80 in a pipe): a wide "terminal" keeps
# each message on one line, so a test can find it whole.
_ENV = {"COLUMNS": "400", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def new_server(data_dir: Path, port: int = 0, **knobs: Any) -> LocalServer:
    """Start a server with the test token, quick Retry-After, and the given knobs."""
    settings = EmulatorSettings(data_dir=data_dir, token=TOKEN, retry_after=0.05)
    for name, value in knobs.items():
        assert hasattr(settings, name), name
        setattr(settings, name, value)
    return LocalServer(settings, port=port).start()


def restart(server: LocalServer, pause: float) -> LocalServer:
    """Stop a server, wait ``pause`` seconds, start a new one on its port and data folder."""
    port, settings = server.port, server.settings
    server.stop()
    time.sleep(pause)
    return LocalServer(settings, port=port).start()


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stats(server: LocalServer) -> dict[str, Any]:
    """Return the server's request and fault counters."""
    answer = requests.get(f"{server.root_url}/_emulator/stats", timeout=30)
    answer.raise_for_status()
    return answer.json()


def remote_config(
    folder: Path, url: str, *, timeout: float = 10, source: dict[str, Any] | None = None,
    name: str = "reliability", **upload: Any,
) -> Path:
    """Write ``folder/run.yaml`` for a folder source in ``folder/data`` and a remote server."""
    settings = {"workers": 3, "chunk_images": 4, "backoff": 0.02, "max_backoff": 0.2,
                "retries": 15, **upload}
    data = {
        "dataset": {"name": name},
        "source": source or {"type": "folder", "path": "data"},
        "annotations": {"type": "voc"},
        "server": {"url": url, "timeout": timeout},
        "upload": settings,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Cli:
    """What one finished ``osai-import`` process did."""

    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def assert_clean(self) -> None:
        """Fail when the process printed a traceback."""
        assert "Traceback" not in self.stderr + self.stdout, self.stderr


def _command(config: Path, args: tuple[str, ...], debug: bool) -> list[str]:
    return [sys.executable, "-m", "osai_import", *(["--debug"] if debug else []), "run",
            str(config), *args]


def _env(token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **_ENV, **(extra or {})}
    env.pop("OSAI_TOKEN", None)
    if token is not None:
        env["OSAI_TOKEN"] = token
    return env


def start_cli(config: Path, *args: str, token: str | None = TOKEN, debug: bool = False,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``osai-import run CONFIG ARGS`` in the background."""
    return subprocess.Popen(_command(config, args, debug), env=_env(token, env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_cli(proc: subprocess.Popen[str], report: Path | None = None,
               timeout: float = 120) -> Cli:
    """Wait for a started run and collect what it did."""
    out, err = proc.communicate(timeout=timeout)
    data = read_report(report) if report is not None and report.exists() else None
    return Cli(proc.returncode, out, err, data)


def run_cli(config: Path, *args: str, token: str | None = TOKEN, debug: bool = False,
            env: dict[str, str] | None = None, timeout: float = 120) -> Cli:
    """Run ``osai-import run CONFIG --report <beside it> ARGS`` to its end."""
    report = config.parent / f"report-{time.monotonic_ns()}.json"
    proc = start_cli(config, "--report", str(report), *args, token=token, debug=debug, env=env)
    return finish_cli(proc, report, timeout)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a run: no handler, no FinishUploading, no report."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def read_report(path: Path) -> dict[str, Any]:
    """Return a JSON report."""
    return json.loads(path.read_text(encoding="utf-8"))


def wait_until(what: str, predicate: Callable[[], bool], proc: subprocess.Popen[str] | None = None,
               timeout: float = 60) -> None:
    """Poll ``predicate`` until it holds; fail if ``proc`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}:\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def images_stored(server: LocalServer) -> int:
    """Return how many images the server holds over all datasets."""
    return sum(d["images"] for d in datasets(server))


# --- holding and slowing one endpoint -------------------------------------------------


@dataclass
class Hold:
    """A held endpoint: ``entered`` is set when a request reaches it; ``release()`` ends it."""

    entered: threading.Event
    _release: threading.Event

    def release(self) -> None:
        """Let the held requests go: they answer 503 without doing anything."""
        self._release.set()


@contextmanager
def hold(server: LocalServer, handler: str, *, after_commit: bool = False,
         nth: int = 1) -> Iterator[Hold]:
    """Hold the ``nth`` and later requests to one ``OsaiApi`` handler until released.

    With ``after_commit`` the work is done first and only the answer is held, as when a
    server commits and then stalls; otherwise nothing is done. Released requests answer
    503; a request is held 30 s at most.
    """
    api = server.app.api
    real = getattr(api, handler)
    entered, release = threading.Event(), threading.Event()
    calls = iter(range(1, 1_000_000))

    def held(*args: Any, **kwargs: Any) -> Response:
        if next(calls) < nth:
            return real(*args, **kwargs)
        if after_commit:
            real(*args, **kwargs)
        entered.set()
        release.wait(30)
        return Response(b'{"title": "held by the test"}', status=503,
                        content_type="application/problem+json")

    setattr(api, handler, held)
    gate = Hold(entered, release)
    try:
        yield gate
    finally:
        gate.release()
        setattr(api, handler, real)


@contextmanager
def slow(server: LocalServer, handler: str, seconds: float, *, after_commit: bool) -> Iterator[None]:
    """Delay one handler's answers by ``seconds``, before or after it does its work."""
    api = server.app.api
    real = getattr(api, handler)

    def slowed(*args: Any, **kwargs: Any) -> Response:
        if not after_commit:
            time.sleep(seconds)
        answer = real(*args, **kwargs)
        if after_commit:
            time.sleep(seconds)
        return answer

    setattr(api, handler, slowed)
    try:
        yield
    finally:
        setattr(api, handler, real)


# --- the journal and the final check --------------------------------------------------


@dataclass
class Ledger:
    """Count, over a test session, the images planned and the images lost (never stored)."""

    runs: int = 0
    planned: int = 0
    lost: int = 0
    extra_copies: int = 0

    def add(self, names: list[str], held: Counter[str]) -> None:
        """Count one finished run."""
        self.runs += 1
        self.planned += len(names)
        self.lost += len(set(names) - set(held))
        self.extra_copies += sum(held.values()) - len(held)


LEDGER = Ledger()
# The repeated-SIGKILL soak's tally (test_soak.py), printed in the test summary.
SOAK: dict[str, int] = {}


def journal_rows(config: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table of the journal beside a config."""
    path = config.parent / ".osai-import" / "journal.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    finally:
        db.close()


def assert_complete(server: LocalServer, report: dict[str, Any], names: list[str],
                    categories: set[str] | None = None, warned_empty: int = 0) -> dict[str, Any]:
    """Assert the promise of a finished run; return what the server holds.

    Every planned name is stored, nothing else; a name stored twice is among the report's
    possibly duplicated items; the dataset is unlocked, no session is left open; the
    report's counts equal the server's; categories are each created once. Besides the
    report's dataset the server holds no other, except up to ``warned_empty`` empty ones:
    a POST /Datasets whose answer a run never saw (lost, or the run killed before writing
    it down) may have made one, which no documented call can find again, and the next run
    warns about each.
    """
    assert report["aborted"] is None, report["aborted"]
    assert report["counts"]["failed"] == 0, report["failed"]
    found = datasets(server)
    others = [d for d in found if d["id"] != report["dataset"]["id"]]
    assert len(found) - len(others) == 1, f"the report's dataset is on the server: {found}"
    assert len(others) <= warned_empty, f"one dataset, not {found} ({warned_empty} warned of)"
    assert all(d["images"] == 0 and not d["locked"] for d in others), f"left behind: {others}"
    data = stored(server, report["dataset"]["id"])
    assert data["locked"] is False, "the dataset was left locked"
    assert all(s["state"] != "active" for s in data["sessions"]), data["sessions"]
    held = Counter(image["name"] for image in data["images"])
    LEDGER.add(names, held)
    assert sorted(held) == sorted(names), "the server holds exactly the planned images"
    duplicated = {name for name, n in held.items() if n > 1}
    flagged = {row["name"] for row in report["possibly_duplicated"]}
    assert duplicated <= flagged, f"unflagged duplicates: {sorted(duplicated - flagged)}"
    counts = report["counts"]
    assert counts["uploaded"] + counts["already_uploaded"] == len(held) == counts["planned"]
    assert len(data["images"]) - data["duplicates"] == len(held)
    assert len(duplicated) <= counts["possibly_duplicated"]
    cats = Counter(c["name"] for c in data["categories"])
    assert all(n == 1 for n in cats.values()), f"duplicated categories: {cats}"
    if categories is not None:
        assert set(cats) == categories
    return data


def slow_reader(seconds: float) -> str:
    """Return an in-house plugin file: the folder reader, slowed while SLOW_READER_MARK is set.

    It touches the marker file named by SLOW_READER_MARK as it reads, and sleeps
    ``seconds`` per image, so a test can stop a run while it reads its source.
    """
    return f'''
import os
import time
from pathlib import Path

from osai_import import hookimpl
from osai_import.default_plugins.folder_reader import FolderReader


class SlowFolder(FolderReader):
    """Read a folder, slowly while SLOW_READER_MARK names a marker file (touched as it goes)."""

    name = "slowfolder"

    def records(self):
        mark = os.environ.get("SLOW_READER_MARK")
        for record in super().records():
            if mark:
                Path(mark).touch()
                time.sleep({seconds})
            yield record


@hookimpl
def register_readers(register):
    register(SlowFolder)
'''
