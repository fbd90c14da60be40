"""The journal, read without changing it: what each run says it sent.

``verify`` must leave the journal as it found it, so it never opens it through
``locked_journal`` (which creates the folder, migrates an old journal and takes the run's
exclusive lock). SQLite opens the file read-only here; a shared lock on ``run.lock``
keeps a run from starting meanwhile, and a run already going makes verify stop with one
line, since its journal is changing under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from osai_import.errors import JournalError
from osai_import.upload.answers import Id
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.journal_file import SCHEMA_VERSION, describe, dump_id

# Names looked up per query: well under SQLite's limit of bound parameters.
_BATCH = 500


class JournalView(Journal):
    """A journal opened read-only: every read of ``Journal`` works, every write fails."""

    def __init__(self, folder: Path) -> None:  # the parent's would create and migrate
        self.folder = folder
        self.path = folder / self.FILENAME
        try:
            self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise JournalError(
                f"{self.path}: cannot read the journal ({describe(exc)}); if it is damaged, "
                "move it away: verify then has nothing to compare with"
            ) from None
        if version != SCHEMA_VERSION:
            self._db.close()
            raise JournalError(
                f"{self.path}: the journal was written by another version of osai-import "
                f"(schema {version}, this one reads {SCHEMA_VERSION}); run `osai-import run "
                "CONFIG --dry-run` once to bring it up to date, then verify again"
            )
        self._lock = threading.Lock()
        self.legacy = False

    def all_images(self, server: str, dataset_id: Id) -> dict[str, ImageRow]:
        """Return every image the journal holds for a dataset, by remote name."""
        names = [row[0] for row in self._read(
            "SELECT name FROM images WHERE server=? AND dataset_id=? ORDER BY name",
            (server, dump_id(dataset_id)))]
        found: dict[str, ImageRow] = {}
        for start in range(0, len(names), _BATCH):
            found.update(self.images(server, dataset_id, names[start:start + _BATCH]))
        return found


@contextlib.contextmanager
def reading_journal(folder: Path) -> Iterator[JournalView | None]:
    """Yield the journal in ``folder`` read-only, or None when no run ever wrote one."""
    if not (folder / JournalView.FILENAME).is_file():
        yield None
        return
    lock_path = folder / "run.lock"
    with contextlib.ExitStack() as stack:
        if lock_path.exists():
            try:
                lock = stack.enter_context(lock_path.open("r"))
            except OSError as exc:
                raise JournalError(f"{lock_path}: cannot open it ({describe(exc)}); check "
                                   "the folder's permissions") from None
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                raise JournalError(
                    f"{folder}: an osai-import run is using this journal; verify once it has "
                    "ended, as what it sends is not settled yet"
                ) from None
        view = JournalView(folder)
        try:
            yield view
        finally:
            view.close()
