"""The journal's SQLite file: its schema, its migration from 0.1, and every read and write.

``Journal`` (in ``journal``) builds on ``JournalFile``; keeping the file's machinery here
keeps what the journal records readable there.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from osai_import.errors import JournalError

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    server TEXT NOT NULL, name TEXT NOT NULL, dataset_id TEXT NOT NULL,
    PRIMARY KEY (server, name));
CREATE TABLE IF NOT EXISTS categories (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, name TEXT NOT NULL, category_id TEXT NOT NULL,
    server_name TEXT,
    PRIMARY KEY (server, dataset_id, name));
CREATE TABLE IF NOT EXISTS sessions (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, upload_id TEXT NOT NULL,
    PRIMARY KEY (server, dataset_id, upload_id));
CREATE TABLE IF NOT EXISTS intents (
    server TEXT NOT NULL, kind TEXT NOT NULL, dataset_id TEXT NOT NULL, target TEXT NOT NULL,
    started REAL NOT NULL,
    PRIMARY KEY (server, kind, dataset_id, target));
CREATE TABLE IF NOT EXISTS images (
    server TEXT NOT NULL, dataset_id TEXT NOT NULL, name TEXT NOT NULL,
    digest TEXT NOT NULL, annotation TEXT NOT NULL, state TEXT NOT NULL,
    flagged REAL, item TEXT NOT NULL, origin TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (server, dataset_id, name));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, origin TEXT NOT NULL);
-- Older versions kept each run's plan here; the check's own spool holds it now.
DROP TABLE IF EXISTS plan;
DROP TABLE IF EXISTS plan_keys;
"""

# Ids are opaque to the client (ints on some servers, strings on others): stored as text
# with a type tag so they come back as they were given.


def dump_id(value: int | str | None) -> str:
    """Return an id as the journal stores it, its type kept."""
    # None: a category known to exist on the server whose id was never learnt.
    if value is None:
        return "n:"
    return f"i:{value}" if isinstance(value, int) else f"s:{value}"


def load_id(text: str) -> Any:
    """Return an id the journal stored, as it was given."""
    kind, _, value = text.partition(":")
    if kind == "n":
        return None
    return int(value) if kind == "i" else value


def describe(exc: BaseException) -> str:
    """Return the gist of a local I/O failure, naming a full disk plainly."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "disk is full" in text:
        return "the disk is full"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full"
    return text or type(exc).__name__


class JournalFile:
    """A thread-safe handle on the journal's SQLite file.

    Every failure to read or write it is a JournalError naming the file: a full disk or a
    read-only folder stops the run with one clear line, and SQLite's transactions keep the
    file as it was before the write that failed.
    """

    FILENAME = "journal.sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / self.FILENAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Keep the write-ahead log small (1 MiB, not SQLite's 4 MiB): a journal beside a
            # config should not eat the space a nearly full disk has left.
            self._db.execute("PRAGMA wal_autocheckpoint=256")
            self._db.execute("PRAGMA journal_size_limit=1048576")
            self._migrate()
            self._db.executescript(_SCHEMA)
            self._add_columns()
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(
                f"{self.path}: cannot open the journal ({describe(exc)}); check that the "
                f"folder is writable and its disk has room, or set upload.journal to another "
                f"folder"
            ) from None
        self._lock = threading.Lock()
        self.legacy = bool(
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='legacy_items'"
            ).fetchone()
        )

    def _add_columns(self) -> None:
        """Add the columns later versions added to tables an older journal already has."""
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(categories)")]
        if "server_name" not in columns:
            # The name the server stores a category under, when it is not the one sent.
            self._db.execute("ALTER TABLE categories ADD COLUMN server_name TEXT")

    def _migrate(self) -> None:
        """Keep a version 1 journal's items (by reader key) as ``legacy_items``."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(items)")]
        if "key" in columns and "fingerprint" in columns:
            self._db.execute("ALTER TABLE items RENAME TO legacy_items")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _fail(self, exc: BaseException) -> JournalError:
        return JournalError(
            f"{self.path}: cannot write the journal ({describe(exc)}); free some space or "
            f"fix the folder's permissions, then run the same command again: the journal "
            f"is as it was before this write"
        )

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]] | tuple[Any, ...] = ()) -> None:
        with self._lock:
            try:
                if isinstance(rows, tuple):
                    self._db.execute(sql, rows)
                    return
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(sql, rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                raise self._fail(exc) from None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except (OSError, sqlite3.Error) as exc:
                raise JournalError(
                    f"{self.path}: cannot read the journal ({describe(exc)}); if it is "
                    f"damaged, move it away and run with --restart"
                ) from None
