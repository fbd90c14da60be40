"""The journal: what the server acknowledged, so that a rerun sends only what is missing.

One SQLite file per journal folder (default ``.osai-import/`` beside the config). It keeps,
per server and dataset, the dataset id, the category ids, the open upload session (so an
interrupted run can unlock the dataset first), and every item the server acknowledged
with its fingerprint. Items are marked ``sent`` before their chunk leaves and ``acked``
after the server answered: an item found ``sent`` on the next run may already be stored,
and is reported as possibly duplicated if it is sent again.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from osai_import.errors import JournalError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    server TEXT NOT NULL, name TEXT NOT NULL, dataset_id TEXT NOT NULL,
    PRIMARY KEY (server, name));
CREATE TABLE IF NOT EXISTS categories (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, name TEXT NOT NULL, category_id TEXT NOT NULL,
    PRIMARY KEY (server, dataset_id, name));
CREATE TABLE IF NOT EXISTS sessions (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, upload_id TEXT NOT NULL,
    PRIMARY KEY (server, dataset_id, upload_id));
CREATE TABLE IF NOT EXISTS items (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, key TEXT NOT NULL,
    fingerprint TEXT NOT NULL, state TEXT NOT NULL, sha256 TEXT,
    PRIMARY KEY (server, dataset_id, key));
-- Older versions kept each run's plan here; the check's own spool holds it now.
DROP TABLE IF EXISTS plan;
DROP TABLE IF EXISTS plan_keys;
"""

# Ids are opaque to the client (ints on some servers, strings on others): stored as JSON-ish
# text with a type tag so they come back as they were given.


def _dump_id(value: int | str | None) -> str:
    # None: a category known to exist on the server whose id was never learnt.
    if value is None:
        return "n:"
    return f"i:{value}" if isinstance(value, int) else f"s:{value}"


def _load_id(text: str) -> Any:
    kind, _, value = text.partition(":")
    if kind == "n":
        return None
    return int(value) if kind == "i" else value


class Journal:
    """A thread-safe handle on the journal's SQLite file."""

    FILENAME = "journal.sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / self.FILENAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"{self.path}: cannot open the journal ({exc}); check that the folder is "
                f"writable, or set upload.journal to another folder"
            ) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] | tuple[Any, ...] = ()) -> None:
        with self._lock:
            if isinstance(rows, tuple):
                self._db.execute(sql, rows)
            else:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(sql, rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- everything else -------------------------------------------------------------
    def forget(self, server: str) -> None:
        """Drop what the journal knows about ``server`` (``--restart``)."""
        for table in ("datasets", "categories", "sessions", "items"):
            self._write(f"DELETE FROM {table} WHERE server = ?", (server,))

    def dataset_id(self, server: str, name: str) -> int | str | None:
        """Return the id of the dataset this journal created under ``name``."""
        rows = self._read(
            "SELECT dataset_id FROM datasets WHERE server=? AND name=?", (server, name)
        )
        return _load_id(rows[0][0]) if rows else None

    def set_dataset(self, server: str, name: str, dataset_id: int | str) -> None:
        """Remember the dataset created under ``name``."""
        self._write(
            "INSERT OR REPLACE INTO datasets VALUES (?, ?, ?)", (server, name, _dump_id(dataset_id))
        )

    def categories(self, server: str, dataset_id: int | str) -> dict[str, int | str | None]:
        """Return the category ids known for a dataset, by name (None: exists, id unknown)."""
        rows = self._read(
            "SELECT name, category_id FROM categories WHERE server=? AND dataset_id=?",
            (server, _dump_id(dataset_id)),
        )
        return {name: _load_id(cid) for name, cid in rows}

    def set_category(
        self, server: str, dataset_id: int | str, name: str, cid: int | str | None
    ) -> None:
        """Remember a category id (None: the category exists, its id is unknown)."""
        self._write(
            "INSERT OR REPLACE INTO categories VALUES (?, ?, ?, ?)",
            (server, _dump_id(dataset_id), name, _dump_id(cid)),
        )

    def open_sessions(self, server: str, dataset_id: int | str) -> list[int | str]:
        """Return upload sessions started and not known to be finished."""
        rows = self._read(
            "SELECT upload_id FROM sessions WHERE server=? AND dataset_id=?",
            (server, _dump_id(dataset_id)),
        )
        return [_load_id(r[0]) for r in rows]

    def session_started(self, server: str, dataset_id: int | str, upload_id: int | str) -> None:
        """Record an upload session before any image is sent in it."""
        self._write(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
            (server, _dump_id(dataset_id), _dump_id(upload_id)),
        )

    def session_finished(self, server: str, dataset_id: int | str, upload_id: int | str) -> None:
        """Forget a session the server confirmed finished."""
        self._write(
            "DELETE FROM sessions WHERE server=? AND dataset_id=? AND upload_id=?",
            (server, _dump_id(dataset_id), _dump_id(upload_id)),
        )

    def mark(
        self,
        server: str,
        dataset_id: int | str,
        state: str,
        items: Iterable[tuple[str, str, str | None]],
    ) -> None:
        """Set ``state`` (``sent`` or ``acked``) for ``(key, fingerprint, sha256)`` items."""
        ds = _dump_id(dataset_id)
        self._write(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
            [(server, ds, key, fp, state, sha) for key, fp, sha in items],
        )

    def states(
        self, server: str, dataset_id: int | str, keys: list[str]
    ) -> dict[str, tuple[str, str]]:
        """Return ``{key: (state, fingerprint)}`` for the ``keys`` the journal knows."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._read(
            f"SELECT key, state, fingerprint FROM items WHERE server=? AND dataset_id=? "
            f"AND key IN ({marks})",
            (server, _dump_id(dataset_id), *keys),
        )
        return {key: (state, fp) for key, state, fp in rows}


@contextlib.contextmanager
def locked_journal(folder: Path) -> Iterator[Journal]:
    """Open the journal, holding an exclusive lock so two runs never share it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / "run.lock"
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalError(
                f"{folder}: another osai-import run is using this journal; wait for it to end "
                f"or set upload.journal to another folder"
            ) from None
        journal = Journal(folder)
        try:
            yield journal
        finally:
            journal.close()
            fcntl.flock(lock, fcntl.LOCK_UN)
