"""Show ids to clients as integers or GUID strings, and read them back at the API edge.

The store numbers everything with integers. With ``variants.ids = "guid"`` datasets,
categories and upload sessions get a random GUID the first time the API shows them,
kept in ``DATA/guids.sqlite3`` so it outlives a restart; images keep integer ids.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path

from osai_import.emulator.problems import Problem, invalid
from osai_import.emulator.settings import EmulatorSettings
from osai_import.emulator.validate import parse_int

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guids (
    kind TEXT NOT NULL, number INTEGER NOT NULL, guid TEXT NOT NULL UNIQUE,
    PRIMARY KEY (kind, number));
"""
# What an unknown id of each kind is called in messages.
_NOUNS = {"dataset": "Dataset", "category": "Category", "session": "Upload session"}


class GuidMap:
    """Keep the GUID of each (kind, integer id); thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(Path(data_dir) / "guids.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def guid(self, kind: str, number: int) -> str:
        """Return the GUID of an id, making one up the first time."""
        with self._lock:
            row = self._db.execute("SELECT guid FROM guids WHERE kind = ? AND number = ?",
                                   (kind, number)).fetchone()
            if row is not None:
                return str(row[0])
            made = str(uuid.uuid4())
            self._db.execute("INSERT INTO guids (kind, number, guid) VALUES (?, ?, ?)",
                             (kind, number, made))
            return made

    def number(self, kind: str, guid: str) -> int | None:
        """Return the integer id behind a GUID (in its canonical form), or None."""
        with self._lock:
            row = self._db.execute("SELECT number FROM guids WHERE kind = ? AND guid = ?",
                                   (kind, guid)).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class Ids:
    """Translate ids between the store (integers) and the API (as ``variants.ids`` says)."""

    def __init__(self, settings: EmulatorSettings, guids: GuidMap) -> None:
        self.settings = settings
        self.guids = guids

    @property
    def guid_mode(self) -> bool:
        """Tell whether the API shows GUIDs."""
        return self.settings.variants.ids == "guid"

    def show(self, kind: str, number: int) -> int | str:
        """Return the id the API shows for a stored id."""
        return self.guids.guid(kind, number) if self.guid_mode else number

    def read(self, kind: str, value: object, field: str, *, required: bool = True,
             status: int = 400) -> int | None:
        """Return the stored id a client's value names; raise the 400 (or 404) otherwise.

        ``value`` is what a JSON body, a form, a query or a route holds. With GUIDs, an
        unknown one is refused here, with ``status`` (404 for a dataset in the route).
        """
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise invalid(field, f"The {field} field is required.")
            return None
        if not self.guid_mode:
            return _read_int(value, field, required=required)
        if not isinstance(value, str):
            raise invalid(field, f"The JSON value of {field} could not be converted to "
                          "System.Guid.")
        try:
            canonical = str(uuid.UUID(value.strip()))
        except ValueError:
            raise invalid(field, f"The value {value!r} is not valid for {field}.") from None
        number = self.guids.number(kind, canonical)
        if number is None:
            message = f"{_NOUNS[kind]} {canonical} does not exist."
            raise Problem(404, message) if status == 404 else invalid(field, message)
        return number


def _read_int(value: object, field: str, *, required: bool) -> int | None:
    """Read an integer id from JSON or text; a numeric string is fine, as in ASP.NET."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(field, f"The JSON value of {field} could not be converted to System.Int32.")
    if isinstance(value, int):
        if not -(2**31) <= value < 2**31:
            raise invalid(field, f"The JSON value of {field} is out of range for System.Int32.")
        return value
    return parse_int(value, field, required=required)
