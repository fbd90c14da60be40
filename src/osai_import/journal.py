"""The journal: what the server acknowledged, so that a rerun sends only what is missing.

One SQLite file per journal folder (default ``.osai-import/`` beside the config). It keeps,
per server and dataset, the dataset id, the category ids, the open upload session (so an
interrupted run can unlock the dataset first), and every item the server acknowledged
with its fingerprint. Items are marked ``sent`` before their chunk leaves and ``acked``
after the server answered: an item found ``sent`` on the next run may already be stored,
and is reported as possibly duplicated if it is sent again.
It also holds the current run's plan (the checked records), so the upload phase streams
them from disk and memory stays flat whatever the dataset's size.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from osai_import.errors import OsaiImportError
from osai_import.records import ImageRecord

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
CREATE TABLE IF NOT EXISTS plan (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS plan_keys (key TEXT NOT NULL);
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


class JournalError(OsaiImportError):
    """The journal file cannot be opened or written."""


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
        rows = self._read("SELECT dataset_id FROM datasets WHERE server=? AND name=?", (server, name))
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

    # -- the current run's plan ---------------------------------------------------------
    def clear_plan(self) -> None:
        """Empty the plan tables before a new run plans."""
        self._write("DELETE FROM plan")
        self._write("DELETE FROM plan_keys")

    def add_plan_keys(self, keys: Iterable[str]) -> None:
        """Note the keys of checked items, planned or not (to find repeated keys on disk)."""
        self._write("INSERT INTO plan_keys VALUES (?)", [(key,) for key in keys])

    def repeated_planned_keys(self) -> list[tuple[str, int, int]]:
        """Return ``(key, planned rows, planned bytes)`` for planned keys seen more than once."""
        return [
            (key, count, size)
            for key, count, size in self._read(
                "SELECT p.key, COUNT(*), SUM(p.size) FROM plan p WHERE p.key IN "
                "(SELECT key FROM plan_keys GROUP BY key HAVING COUNT(*) > 1) GROUP BY p.key"
            )
        ]

    def drop_from_plan(self, key: str) -> None:
        """Remove every planned row of ``key``."""
        self._write("DELETE FROM plan WHERE key = ?", (key,))

    def add_plan(self, rows: Iterable[tuple[int, ImageRecord, int, str]]) -> None:
        """Store planned ``(seq, record, size, fingerprint)`` rows."""
        self._write(
            "INSERT INTO plan VALUES (?, ?, ?, ?, ?, ?)",
            [
                (seq, rec.key, rec.name, size, fp, pickle.dumps(rec, protocol=5))
                for seq, rec, size, fp in rows
            ],
        )

    def iter_plan(
        self, server: str, dataset_id: int | str, batch: int = 500
    ) -> Iterator[tuple[ImageRecord, int, str, str | None, str | None]]:
        """Yield ``(record, size, fingerprint, state, acked fingerprint)`` in plan order.

        ``state`` is what the journal knows of the item on that server and dataset
        (``sent``, ``acked`` or None), joined in SQL so no per-item state sits in memory.
        """
        last = -1
        ds = _dump_id(dataset_id)
        while True:
            rows = self._read(
                "SELECT p.seq, p.record, p.size, p.fingerprint, i.state, i.fingerprint "
                "FROM plan p LEFT JOIN items i "
                "ON i.server = ? AND i.dataset_id = ? AND i.key = p.key "
                "WHERE p.seq > ? ORDER BY p.seq LIMIT ?",
                (server, ds, last, batch),
            )
            if not rows:
                return
            for seq, blob, size, fp, state, acked_fp in rows:
                last = seq
                yield pickle.loads(blob), size, fp, state, acked_fp

    def pending_totals(self, server: str, dataset_id: int | str) -> tuple[int, int]:
        """Return how many planned items, and bytes, the server has not acknowledged."""
        [(count, size)] = self._read(
            "SELECT COUNT(*), COALESCE(SUM(p.size), 0) FROM plan p LEFT JOIN items i "
            "ON i.server = ? AND i.dataset_id = ? AND i.key = p.key "
            "WHERE i.state IS NULL OR i.state != 'acked'",
            (server, _dump_id(dataset_id)),
        )
        return int(count), int(size)
