"""Keep datasets, categories, upload sessions and images: SQLite metadata, files on disk."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osai_import.emulator.problems import Problem, invalid
from osai_import.emulator.voc import VocObject

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS categories (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    name TEXT NOT NULL, UNIQUE (dataset_id, name));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    state TEXT NOT NULL, started REAL NOT NULL, last_activity REAL NOT NULL, ended REAL,
    chunks INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sessions_by_dataset ON sessions (dataset_id, state);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    session_id INTEGER NOT NULL REFERENCES sessions(id), name TEXT NOT NULL,
    file TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, format TEXT NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, classify_category_id INTEGER,
    annotation_type INTEGER, annotation BLOB, duplicate INTEGER NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS images_by_name ON images (dataset_id, name);
-- In id order within a dataset (the rowid follows dataset_id): pages without a sort.
CREATE INDEX IF NOT EXISTS images_by_dataset ON images (dataset_id);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL REFERENCES images(id),
    name TEXT NOT NULL, xmin REAL NOT NULL, ymin REAL NOT NULL, xmax REAL NOT NULL,
    ymax REAL NOT NULL, difficult INTEGER NOT NULL, truncated INTEGER NOT NULL,
    category_id INTEGER);
CREATE INDEX IF NOT EXISTS objects_by_image ON objects (image_id);
"""


class DuplicateCategory(Problem):
    """Refuse a category name the dataset has; carry the category that has it."""

    def __init__(self, message: str, existing: dict[str, Any]) -> None:
        super().__init__(400, errors={"name": [message]})
        self.message = message
        self.existing = existing


class SessionGone(Problem):
    """Refuse a chunk for an upload session that is finished or expired."""

    def __init__(self, message: str) -> None:
        super().__init__(400, errors={"datasetUploadId": [message]})
        self.message = message


def gone_message(dataset_id: int, session_id: int, state: str, unlock_after: float) -> str:
    """Say why an upload session takes no more chunks, and what to do."""
    why = ("it was finished" if state == "finished" else
           f"it expired after {unlock_after:g} s without an accepted chunk")
    return (f"Upload session {session_id} of dataset {dataset_id} is not active: {why}. "
            "Call StartUploading to start a new upload session.")


@dataclass
class StagedImage:
    """An image of a validated chunk, its file already written, waiting for the commit."""

    index: int
    name: str
    data: bytes
    sha256: str
    format: str
    width: int
    height: int
    classify_category_id: int | None
    annotation_type: int | None
    annotation: bytes | None
    objects: list[VocObject] = field(default_factory=list)
    file: str = ""


class Store:
    """Hold all state of the emulator under ``data_dir``; every method is thread-safe.

    One SQLite connection behind one lock: SQLite serialises writers anyway, and the
    slow part of a chunk (writing image files) happens outside the lock.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.images_dir = self.data_dir / "images"
        self.images_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.data_dir / "emulator.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process, which is all an emulator needs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database; later calls fail."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one write transaction under the lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- OSAI operations -------------------------------------------------------------

    def create_dataset(self, name: str, now: float) -> dict[str, Any]:
        """Create a dataset; names need not be unique."""
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO datasets (name, created) VALUES (?, ?)", (name, now))
        return {"id": cursor.lastrowid, "name": name}

    def create_category(self, dataset_id: int, name: str, now: float, unlock_after: float,
                        *, refuse_when_locked: bool = False) -> dict[str, Any]:
        """Create a category; 400 when the name exists (or, if asked, the dataset is locked)."""
        with self._transaction() as db:
            self._require_dataset(db, dataset_id, "datasetId", status=400)
            active = self._active_session(db, dataset_id, now, unlock_after)
            if refuse_when_locked and active is not None:
                raise invalid("datasetId", f"Dataset {dataset_id} is locked by upload session "
                              f"{active}; categories cannot be created while it is locked.")
            row = db.execute("SELECT id FROM categories WHERE dataset_id = ? AND name = ?",
                             (dataset_id, name)).fetchone()
            if row is not None:
                raise DuplicateCategory(
                    f"Category {name!r} already exists in dataset {dataset_id} (id {row['id']}).",
                    {"id": row["id"], "datasetId": dataset_id, "name": name})
            cursor = db.execute("INSERT INTO categories (dataset_id, name) VALUES (?, ?)",
                                (dataset_id, name))
        return {"id": cursor.lastrowid, "datasetId": dataset_id, "name": name}

    def start_session(self, dataset_id: int, now: float, unlock_after: float) -> int:
        """Open an upload session, locking the dataset; 400 when it is locked already."""
        with self._transaction() as db:
            self._require_dataset(db, dataset_id, "id", status=404)
            active = self._active_session(db, dataset_id, now, unlock_after)
            if active is not None:
                raise invalid("id", f"Dataset {dataset_id} is locked by upload session {active}; "
                              "finish that session or wait until it expires.")
            cursor = db.execute(
                "INSERT INTO sessions (dataset_id, state, started, last_activity)"
                " VALUES (?, 'active', ?, ?)", (dataset_id, now, now))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_session(
        self, dataset_id: int, session_id: int, now: float, unlock_after: float
    ) -> str:
        """Close a session and unlock; a finished or expired one is left as is.

        Returns the state the session had, so the caller can tell a repeated call.
        """
        with self._transaction() as db:
            self._require_dataset(db, dataset_id, "id", status=404)
            self._expire(db, dataset_id, now, unlock_after)
            row = self._session_row(db, dataset_id, session_id)
            if row["state"] == "active":
                db.execute("UPDATE sessions SET state = 'finished', ended = ? WHERE id = ?",
                           (now, session_id))
            return str(row["state"])

    def check_chunk(self, dataset_id: int, session_id: int,
                    category_ids: Sequence[tuple[int, int]], now: float,
                    unlock_after: float) -> None:
        """Raise the 400 a chunk deserves for its dataset, session or categories.

        ``category_ids`` pairs an image index with its ``classifyCategoryId``.
        """
        with self._lock:
            self._check_chunk(self._db, dataset_id, session_id, category_ids, now, unlock_after)

    def write_files(self, dataset_id: int, images: Sequence[StagedImage]) -> list[Path]:
        """Write the image files of a chunk (outside the lock) and return their paths."""
        folder = self.images_dir / str(dataset_id)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for image in images:
                # The client's name is never part of the path: it may hold "../".
                suffix = "jpg" if image.format == "jpeg" else "png"
                image.file = f"{dataset_id}/{uuid.uuid4().hex}.{suffix}"
                path = self.images_dir / image.file
                path.write_bytes(image.data)
                written.append(path)
        except BaseException:
            remove_files(written)
            raise
        return written

    def commit_chunk(self, dataset_id: int, session_id: int, images: Sequence[StagedImage],
                     now: float, unlock_after: float,
                     category_name: Callable[[str], str] = str,
                     refuse_duplicates: bool = False) -> list[int]:
        """Record a chunk whose files are written, in one transaction; return the image ids.

        A box belongs to the category whose name is ``category_name(object name)``: the
        server stores category names that way, so it reads annotations the same way.
        With ``refuse_duplicates`` an image name the dataset (or the chunk) has is a 400.
        """
        pairs = [(image.index, image.classify_category_id) for image in images
                 if image.classify_category_id is not None]
        with self._transaction() as db:
            self._check_chunk(db, dataset_id, session_id, pairs, now, unlock_after)
            if refuse_duplicates:
                _refuse_duplicates(db, dataset_id, images)
            categories = {row["name"]: row["id"] for row in db.execute(
                "SELECT id, name FROM categories WHERE dataset_id = ?", (dataset_id,))}
            ids: list[int] = []
            for image in images:
                seen = db.execute("SELECT 1 FROM images WHERE dataset_id = ? AND name = ? LIMIT 1",
                                  (dataset_id, image.name)).fetchone()
                cursor = db.execute(
                    "INSERT INTO images (dataset_id, session_id, name, file, size, sha256, format,"
                    " width, height, classify_category_id, annotation_type, annotation, duplicate,"
                    " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (dataset_id, session_id, image.name, image.file, len(image.data),
                     image.sha256, image.format, image.width, image.height,
                     image.classify_category_id, image.annotation_type, image.annotation,
                     int(seen is not None), now))
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
                db.executemany(
                    "INSERT INTO objects (image_id, name, xmin, ymin, xmax, ymax, difficult,"
                    " truncated, category_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(cursor.lastrowid, o.name, o.xmin, o.ymin, o.xmax, o.ymax, o.difficult,
                      o.truncated, categories.get(category_name(o.name)))
                     for o in image.objects])
            # Every accepted chunk keeps the dataset locked for another unlock_after seconds.
            db.execute("UPDATE sessions SET last_activity = ?, chunks = chunks + 1,"
                       " images = images + ? WHERE id = ?", (now, len(images), session_id))
        return ids

    @contextmanager
    def reading(self, dataset_id: int | None, now: float,
                unlock_after: float) -> Iterator[sqlite3.Connection]:
        """Yield the database under the lock, sessions idle too long marked expired first.

        For read-only queries (the inspection and listing views) that must see the lock
        state as of ``now``; ``dataset_id`` None expires stale sessions of every dataset.
        """
        with self._transaction() as db:
            self._expire(db, dataset_id, now, unlock_after)
            yield db

    # --- helpers (caller holds the lock) ---------------------------------------------

    def _check_chunk(self, db: sqlite3.Connection, dataset_id: int, session_id: int,
                     category_ids: Sequence[tuple[int, int]], now: float,
                     unlock_after: float) -> None:
        """Raise the 400 for a chunk whose dataset, session or categories are wrong."""
        self._require_dataset(db, dataset_id, "datasetId", status=400)
        row = self._session_row(db, dataset_id, session_id)
        if row["state"] == "active" and row["last_activity"] + unlock_after <= now:
            self._expire_rows(db, [row], unlock_after)
            row = self._session_row(db, dataset_id, session_id)
        if row["state"] != "active":
            raise SessionGone(gone_message(dataset_id, session_id, row["state"], unlock_after))
        known = {r["id"] for r in db.execute(
            "SELECT id FROM categories WHERE dataset_id = ?", (dataset_id,))}
        errors = {f"imagesMetadata[{index}].classifyCategoryId":
                  [f"Category {category} does not belong to dataset {dataset_id}."]
                  for index, category in category_ids if category not in known}
        if errors:
            raise Problem(400, errors=errors)

    @staticmethod
    def _require_dataset(db: sqlite3.Connection, dataset_id: int, field_name: str,
                         *, status: int) -> None:
        """Raise a 404 (route id) or 400 (form field) for an unknown dataset."""
        if db.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is None:
            message = f"Dataset {dataset_id} does not exist."
            raise Problem(status, message) if status == 404 else invalid(field_name, message)

    @staticmethod
    def _session_row(db: sqlite3.Connection, dataset_id: int, session_id: int) -> sqlite3.Row:
        """Return a session of the dataset or raise the 400 naming ``datasetUploadId``."""
        row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise invalid("datasetUploadId", f"Upload session {session_id} does not exist.")
        if row["dataset_id"] != dataset_id:
            raise invalid("datasetUploadId", f"Upload session {session_id} belongs to dataset "
                          f"{row['dataset_id']}, not to dataset {dataset_id}.")
        assert isinstance(row, sqlite3.Row)
        return row

    def _active_session(self, db: sqlite3.Connection, dataset_id: int, now: float,
                        unlock_after: float) -> int | None:
        """Return the id of the session locking the dataset, expiring stale ones first."""
        self._expire(db, dataset_id, now, unlock_after)
        row = db.execute("SELECT id FROM sessions WHERE dataset_id = ? AND state = 'active'"
                         " ORDER BY id DESC LIMIT 1", (dataset_id,)).fetchone()
        return None if row is None else int(row["id"])

    def _expire(self, db: sqlite3.Connection, dataset_id: int | None, now: float,
                unlock_after: float) -> None:
        """Mark sessions idle for unlock_after seconds as expired (lazily, no timer thread)."""
        query = "SELECT * FROM sessions WHERE state = 'active' AND last_activity + ? <= ?"
        params: tuple[Any, ...] = (unlock_after, now)
        if dataset_id is not None:
            query += " AND dataset_id = ?"
            params += (dataset_id,)
        self._expire_rows(db, db.execute(query, params).fetchall(), unlock_after)

    @staticmethod
    def _expire_rows(db: sqlite3.Connection, rows: Sequence[sqlite3.Row],
                     unlock_after: float) -> None:
        """Expire the given sessions as of their last activity plus unlock_after."""
        db.executemany("UPDATE sessions SET state = 'expired', ended = ? WHERE id = ?",
                       [(r["last_activity"] + unlock_after, r["id"]) for r in rows])


def _refuse_duplicates(db: sqlite3.Connection, dataset_id: int,
                       images: Sequence[StagedImage]) -> None:
    """Raise a 400 naming every image whose name the dataset or the chunk has already."""
    errors: dict[str, list[str]] = {}
    sent: set[str] = set()
    for image in images:
        key = f"imagesMetadata[{image.index}].name"
        if image.name in sent:
            message = (f"Image {image.index} ({image.name!r}) repeats a name of this chunk; "
                       "image names must be unique in a dataset.")
            errors[key] = [message]
        elif db.execute("SELECT 1 FROM images WHERE dataset_id = ? AND name = ? LIMIT 1",
                        (dataset_id, image.name)).fetchone() is not None:
            errors[key] = [f"An image named {image.name!r} already exists in dataset {dataset_id}."]
        sent.add(image.name)
    if errors:
        raise Problem(400, errors=errors)


def remove_files(paths: Sequence[Path]) -> None:
    """Delete files of a chunk that was not committed."""
    for path in paths:
        path.unlink(missing_ok=True)
