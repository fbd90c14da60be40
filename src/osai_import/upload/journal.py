"""The journal: what the server holds and what this tool does not know, written down first.

One SQLite file per journal folder (default ``.osai-import/`` beside the config). Per
server and dataset it keeps:

- the dataset id, the category ids and the open upload sessions;
- the *intent* of every creating call (a dataset, a category, a session) before the call
  goes out, cleared once the answer is in: an intent still there on the next run is a
  call whose answer was lost or cut short by a signal;
- every image by its identity on the server, its remote name, with the digest of the
  bytes sent and the fingerprint of its annotation, in one of three states: ``sending``
  (its chunk left; written before it left), ``acked`` (the server acknowledged it) or
  ``unconfirmed`` (the answer never came: the server may hold it or not). A ``flagged``
  image may be stored twice (it was sent again after an answer was lost); the flag stays
  until the user resolves it, so every later report shows it.

Journals written by osai-import 0.1 (items by reader key) are kept as ``legacy_items``
and consulted for images the new tables do not know yet (see ``legacy_states``).
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from osai_import.errors import (
    AuthError,
    JournalError,
    RejectedError,
    TransientError,
    UnexpectedResponseError,
)
from osai_import.upload.journal_file import (
    SCHEMA_VERSION,
    JournalFile,
    describe,
    dump_id,
    load_id,
)

__all__ = ["SCHEMA_VERSION", "ImageRow", "Journal", "creating", "locked_journal"]


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One image the journal knows in a dataset, by its remote name."""

    name: str
    digest: str  # SHA-256 of the bytes sent
    annotation: str  # fingerprint of the category and the annotation sent with them
    state: str  # "sending", "acked" or "unconfirmed"
    flagged: float | None  # when it was found possibly stored twice; None: not flagged
    item: str  # the reader's key of the item (where it came from), for messages
    origin: str  # which config sent it
    size: int
    mtime_ns: int
    dev: int
    ino: int


_IMAGE_COLUMNS = "name, digest, annotation, state, flagged, item, origin, size, mtime_ns, dev, ino"


class Journal(JournalFile):
    """What the journal records, per server and dataset (see the module docstring)."""

    run = 0  # this run's number (``start_run``); images written are marked seen by it

    # --- a whole server ----------------------------------------------------------------

    def forget(self, server: str) -> None:
        """Drop what the journal knows about ``server`` (``--restart``)."""
        for table in ("datasets", "categories", "sessions", "intents", "images"):
            self._write(f"DELETE FROM {table} WHERE server = ?", (server,))
        if self.legacy:
            self._write("DELETE FROM legacy_items WHERE server = ?", (server,))

    def start_run(self, origin: str) -> int:
        """Note a run of ``origin`` (a config) and return its number."""
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO runs (started, origin) VALUES (?, ?)", (time.time(), origin)
                )
            except (OSError, sqlite3.Error) as exc:
                raise self._fail(exc) from None
            self.run = int(cursor.lastrowid or 0)
            return self.run

    # --- datasets, categories, sessions, intents ---------------------------------------

    def dataset_id(self, server: str, name: str) -> int | str | None:
        """Return the id of the dataset this journal created under ``name``."""
        rows = self._read(
            "SELECT dataset_id FROM datasets WHERE server=? AND name=?", (server, name)
        )
        return load_id(rows[0][0]) if rows else None

    def datasets(self, server: str) -> list[int | str]:
        """Return the ids of every dataset the journal knows on ``server``."""
        rows = self._read(
            "SELECT dataset_id FROM datasets WHERE server=? UNION "
            "SELECT dataset_id FROM sessions WHERE server=?", (server, server)
        )
        return [load_id(r[0]) for r in rows]

    def set_dataset(self, server: str, name: str, dataset_id: int | str) -> None:
        """Remember the dataset created under ``name``."""
        self._write(
            "INSERT OR REPLACE INTO datasets VALUES (?, ?, ?)", (server, name, dump_id(dataset_id))
        )

    def categories(self, server: str, dataset_id: int | str) -> dict[str, int | str | None]:
        """Return the category ids known for a dataset, by name (None: exists, id unknown)."""
        rows = self._read(
            "SELECT name, category_id FROM categories WHERE server=? AND dataset_id=?",
            (server, dump_id(dataset_id)),
        )
        return {name: load_id(cid) for name, cid in rows}

    def set_category(
        self, server: str, dataset_id: int | str, name: str, cid: int | str | None,
        server_name: str | None = None,
    ) -> None:
        """Remember a category id (None: the category exists, its id is unknown).

        ``server_name`` is the name the server stores it under, when not ``name``.
        """
        self._write(
            "INSERT OR REPLACE INTO categories (server, dataset_id, name, category_id, "
            "server_name) VALUES (?, ?, ?, ?, ?)",
            (server, dump_id(dataset_id), name, dump_id(cid), server_name),
        )

    def category_names(self, server: str, dataset_id: int | str) -> dict[str, str]:
        """Return the names the server stores categories under, where they differ."""
        rows = self._read(
            "SELECT name, server_name FROM categories WHERE server=? AND dataset_id=? "
            "AND server_name IS NOT NULL AND server_name != name",
            (server, dump_id(dataset_id)),
        )
        return dict(rows)

    def open_sessions(self, server: str, dataset_id: int | str) -> list[int | str]:
        """Return upload sessions started and not known to be finished."""
        rows = self._read(
            "SELECT upload_id FROM sessions WHERE server=? AND dataset_id=?",
            (server, dump_id(dataset_id)),
        )
        return [load_id(r[0]) for r in rows]

    def session_started(self, server: str, dataset_id: int | str, upload_id: int | str) -> None:
        """Record an upload session before any image is sent in it."""
        self._write(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
            (server, dump_id(dataset_id), dump_id(upload_id)),
        )

    def session_finished(self, server: str, dataset_id: int | str, upload_id: int | str) -> None:
        """Forget a session the server confirmed finished."""
        self._write(
            "DELETE FROM sessions WHERE server=? AND dataset_id=? AND upload_id=?",
            (server, dump_id(dataset_id), dump_id(upload_id)),
        )

    def intend(self, server: str, kind: str, dataset_id: int | str | None, target: str) -> None:
        """Write down a creating call (``dataset``, ``category``, ``session``) before it leaves.

        An intent already there (an earlier call whose answer was lost) keeps its time.
        """
        self._write(
            "INSERT OR IGNORE INTO intents VALUES (?, ?, ?, ?, ?)",
            (server, kind, dump_id(dataset_id), target, time.time()),
        )

    def done(self, server: str, kind: str, dataset_id: int | str | None, target: str) -> None:
        """Clear an intent: its call was answered (or is known not to have been carried out)."""
        self._write(
            "DELETE FROM intents WHERE server=? AND kind=? AND dataset_id=? AND target=?",
            (server, kind, dump_id(dataset_id), target),
        )

    def pending(
        self, server: str, kind: str, dataset_id: int | str | None, target: str
    ) -> float | None:
        """Return when a creating call was sent whose answer never came, or None."""
        rows = self._read(
            "SELECT started FROM intents WHERE server=? AND kind=? AND dataset_id=? AND target=?",
            (server, kind, dump_id(dataset_id), target),
        )
        return float(rows[0][0]) if rows else None

    # --- images ------------------------------------------------------------------------

    def images(
        self, server: str, dataset_id: int | str, names: Sequence[str]
    ) -> dict[str, ImageRow]:
        """Return the rows of the ``names`` the journal knows in a dataset."""
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM images WHERE server=? AND dataset_id=? "
            f"AND name IN ({marks})",
            (server, dump_id(dataset_id), *names),
        )
        return {row[0]: ImageRow(*row) for row in rows}

    def record(self, server: str, dataset_id: int | str, rows: Iterable[ImageRow]) -> None:
        """Write image rows as they are (their state, their flag), replacing older ones."""
        ds = dump_id(dataset_id)
        self._write(
            f"INSERT INTO images ({_IMAGE_COLUMNS}, server, dataset_id, seen) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (server, dataset_id, name) DO UPDATE SET digest=excluded.digest, "
            f"annotation=excluded.annotation, state=excluded.state, "
            f"flagged=COALESCE(images.flagged, excluded.flagged), "
            f"item=excluded.item, origin=excluded.origin, size=excluded.size, "
            f"mtime_ns=excluded.mtime_ns, dev=excluded.dev, ino=excluded.ino, seen=excluded.seen",
            [
                (r.name, r.digest, r.annotation, r.state, r.flagged, r.item, r.origin, r.size,
                 r.mtime_ns, r.dev, r.ino, server, ds, self.run)
                for r in rows
            ],
        )

    def set_state(
        self, server: str, dataset_id: int | str, names: Iterable[str], state: str,
        *, flag: bool = False,
    ) -> None:
        """Set the state of images (and flag them as possibly stored twice when asked)."""
        ds = dump_id(dataset_id)
        if flag:
            now = time.time()
            self._write(
                "UPDATE images SET state=?, flagged=COALESCE(flagged, ?) "
                "WHERE server=? AND dataset_id=? AND name=?",
                [(state, now, server, ds, name) for name in names],
            )
        else:
            self._write(
                "UPDATE images SET state=? WHERE server=? AND dataset_id=? AND name=?",
                [(state, server, ds, name) for name in names],
            )

    def drop(self, server: str, dataset_id: int | str, names: Iterable[str]) -> None:
        """Forget images the server is known not to hold (refused, or dropped by it)."""
        ds = dump_id(dataset_id)
        self._write(
            "DELETE FROM images WHERE server=? AND dataset_id=? AND name=?",
            [(server, ds, name) for name in names],
        )

    def seen(self, server: str, dataset_id: int | str, names: Iterable[str], run: int) -> None:
        """Note that run ``run`` met these names in its source."""
        ds = dump_id(dataset_id)
        self._write(
            "UPDATE images SET seen=? WHERE server=? AND dataset_id=? AND name=?",
            [(run, server, ds, name) for name in names],
        )

    def flagged(self, server: str, dataset_id: int | str) -> list[ImageRow]:
        """Return the images that may be stored twice, oldest flag first."""
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM images WHERE server=? AND dataset_id=? "
            f"AND flagged IS NOT NULL ORDER BY flagged, name",
            (server, dump_id(dataset_id)),
        )
        return [ImageRow(*row) for row in rows]

    def unsettled(self, server: str, dataset_id: int | str) -> list[ImageRow]:
        """Return the images whose answer never came (the server may hold them or not)."""
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM images WHERE server=? AND dataset_id=? "
            f"AND state != 'acked' ORDER BY name",
            (server, dump_id(dataset_id)),
        )
        return [ImageRow(*row) for row in rows]

    def unseen(self, server: str, dataset_id: int | str, origin: str, run: int) -> list[ImageRow]:
        """Return the images ``origin`` sent earlier that run ``run`` did not meet."""
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM images WHERE server=? AND dataset_id=? AND origin=? "
            f"AND seen != ? AND state = 'acked' ORDER BY name",
            (server, dump_id(dataset_id), origin, run),
        )
        return [ImageRow(*row) for row in rows]

    def resolve(self, server: str, dataset_id: int | str, names: Iterable[str] | None) -> int:
        """Settle images the user checked on the server (all unsettled ones when None).

        The user says each is stored exactly once: its flag is cleared and an unconfirmed
        one counts as acknowledged. Returns how many images were settled.
        """
        ds = dump_id(dataset_id)
        unsettled = "(flagged IS NOT NULL OR state != 'acked')"
        before = self._read(
            f"SELECT COUNT(*) FROM images WHERE server=? AND dataset_id=? AND {unsettled}",
            (server, ds),
        )[0][0]
        update = "UPDATE images SET flagged=NULL, state='acked' WHERE server=? AND dataset_id=?"
        if names is None:
            self._write(update, (server, ds))
        else:
            self._write(f"{update} AND name=?", [(server, ds, name) for name in names])
        after = self._read(
            f"SELECT COUNT(*) FROM images WHERE server=? AND dataset_id=? AND {unsettled}",
            (server, ds),
        )[0][0]
        return int(before) - int(after)

    # --- journals of osai-import 0.1 ---------------------------------------------------

    def legacy_states(
        self, server: str, dataset_id: int | str, keys: list[str]
    ) -> dict[str, tuple[str, str]]:
        """Return ``{key: (state, fingerprint)}`` from a 0.1 journal for the ``keys`` it knows."""
        if not self.legacy or not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._read(
            f"SELECT key, state, fingerprint FROM legacy_items WHERE server=? AND dataset_id=? "
            f"AND key IN ({marks})",
            (server, dump_id(dataset_id), *keys),
        )
        return {key: (state, fp) for key, state, fp in rows}


@contextlib.contextmanager
def creating(
    journal: Journal, server: str, kind: str, dataset_id: int | str | None, target: str
) -> Iterator[float | None]:
    """Write a creating call's intent around it; yield when an earlier one's answer was lost.

    The intent stays when the call fails in a way that may have created the thing (a lost
    answer, a signal mid-call). A refusal, or a failure before the request reached the
    server, removes it again, unless it was an earlier call's: that one is still unsettled.
    The caller clears the intent (``done``) once it has the answer it needs.
    """
    earlier = journal.pending(server, kind, dataset_id, target)
    journal.intend(server, kind, dataset_id, target)
    try:
        yield earlier
    except RejectedError as exc:
        # Refused after an earlier try's answer was lost: that try may have done it.
        if earlier is None and not exc.after_lost_answer:
            journal.done(server, kind, dataset_id, target)
        raise
    except (UnexpectedResponseError, AuthError):
        if earlier is None:
            journal.done(server, kind, dataset_id, target)
        raise
    except TransientError as exc:
        if earlier is None and not exc.maybe_committed:
            journal.done(server, kind, dataset_id, target)
        raise


@contextlib.contextmanager
def locked_journal(folder: Path) -> Iterator[Journal]:
    """Open the journal, holding an exclusive lock so two runs never share it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = (folder / "run.lock").open("a")
    except OSError as exc:
        raise JournalError(
            f"{folder}: cannot create the journal folder ({describe(exc)}); set "
            f"upload.journal to a writable folder"
        ) from None
    with lock:
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
