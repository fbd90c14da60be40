"""The upload session: started before the first chunk, renewed when it expires, always finished.

StartUploading locks the dataset and FinishUploading unlocks it, so ``finish`` is called
whatever happens (success, error, Ctrl-C, SIGTERM); every session is written to the
journal before any image is sent in it, so a run that dies leaves the next run enough to
finish it first.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from osai_import.errors import JournalError, OsaiImportError, RejectedError
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal, creating

log = logging.getLogger("osai_import.upload.session")

# StartUploading takes no body, so a refusal with one of these says the dataset is not
# free to upload into (locked by a session), whatever its words.
LOCKED_STATUSES = frozenset({400, 409, 423})


class UploadSession:
    """The current upload session; renewed when the server expired it."""

    def __init__(self, client: OsaiClient, journal: Journal, server: str, dataset_id: Any) -> None:
        self.client = client
        self.journal = journal
        self.server = server
        self.dataset_id = dataset_id
        self._lock = threading.Lock()
        self.upload_id: Any = None
        self.generation = 0
        self.started = 0
        self.finish_warning: str | None = None

    def start(self) -> None:
        """Start a session and note it in the journal before any image goes out."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        # The intent is written first: if the answer is lost, or a signal cuts the call
        # short, the dataset may be locked by a session whose id nobody knows, and the next
        # step (or run) must know to wait for OSAI to unlock it rather than give up.
        with creating(self.journal, self.server, "session", self.dataset_id, ""):
            upload_id = self.client.start_uploading(self.dataset_id)
        # Known here first, so that finish() unlocks the dataset even if the journal cannot
        # note the session (a full disk).
        self.upload_id = upload_id
        self.journal.session_started(self.server, self.dataset_id, upload_id)
        # A session started: the dataset was free, so any session lost before is over.
        self.journal.done(self.server, "session", self.dataset_id, "")
        self.generation += 1
        self.started += 1

    def current(self) -> tuple[Any, int]:
        """Return the upload id and its generation."""
        with self._lock:
            return self.upload_id, self.generation

    def gone(self, seen_generation: int) -> bool:
        """Tell whether the session is over, starting a new one if so (once for all workers).

        The probe is a StartUploading: OSAI unlocks a dataset whose session expired or was
        finished, so a new session starts exactly when the old one is gone; a refusal
        (400, 409 or 423: the dataset is locked) says it lives. No wording is read.
        """
        with self._lock:
            if self.generation != seen_generation:
                return True  # another worker found it gone and started the next one
            old = self.upload_id
            try:
                self._start_locked()
            except RejectedError as exc:
                if exc.status in LOCKED_STATUSES:
                    return False
                raise
            # The old session is over: no run needs to finish it.
            self.journal.session_finished(self.server, self.dataset_id, old)
            log.info("upload session %s is over; continuing in session %s", old, self.upload_id)
            return True

    def finish(self) -> str | None:
        """Finish the current session; return a warning when the server did not confirm it.

        The warning is also kept in ``finish_warning``. A stop signal that arrives while
        FinishUploading is under way does not abandon it: the call is made once more, within
        the client's grace period after a cancel, and the KeyboardInterrupt goes on after.
        """
        with self._lock:
            if self.upload_id is None:
                return None
            upload_id = self.upload_id
            interrupted = False
            try:
                try:
                    self.client.finish_uploading(self.dataset_id, upload_id)
                except KeyboardInterrupt:
                    interrupted = True
                    self.client.cancel()
                    self.client.finish_uploading(self.dataset_id, upload_id)
            except OsaiImportError as exc:
                self.finish_warning = (
                    f"FinishUploading for dataset {self.dataset_id} failed ({exc}); the server "
                    f"unlocks the dataset by itself after a while, and the next run of this "
                    f"config finishes session {upload_id} first"
                )
            else:
                self._forget(upload_id)
            if interrupted:
                raise KeyboardInterrupt
            return self.finish_warning

    def _forget(self, upload_id: Any) -> None:
        self.upload_id = None
        try:
            self.journal.session_finished(self.server, self.dataset_id, upload_id)
        except JournalError as exc:
            # The dataset is unlocked; only the note of it is missing: the next run tries to
            # finish the session again, which OSAI answers harmlessly.
            self.finish_warning = f"session {upload_id} was finished, but {exc}"
