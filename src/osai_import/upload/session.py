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

from osai_import.errors import OsaiImportError
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal

log = logging.getLogger("osai_import.upload.session")


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

    def start(self) -> None:
        """Start a session and note it in the journal before any image goes out."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        upload_id = self.client.start_uploading(self.dataset_id)
        self.journal.session_started(self.server, self.dataset_id, upload_id)
        self.upload_id = upload_id
        self.generation += 1
        self.started += 1

    def current(self) -> tuple[Any, int]:
        """Return the upload id and its generation."""
        with self._lock:
            return self.upload_id, self.generation

    def renew(self, seen_generation: int) -> None:
        """Replace an expired session, once, however many workers noticed it."""
        with self._lock:
            if self.generation != seen_generation:
                return  # another worker already replaced it
            old = self.upload_id
            self._finish_quietly(old)
            self._start_locked()
            log.info("upload session %s expired; continuing in session %s", old, self.upload_id)

    def _finish_quietly(self, upload_id: Any) -> None:
        try:
            self.client.finish_uploading(self.dataset_id, upload_id)
        except OsaiImportError as exc:
            log.debug("finishing expired session %s: %s", upload_id, exc)
        self.journal.session_finished(self.server, self.dataset_id, upload_id)

    def finish(self) -> str | None:
        """Finish the current session; return a warning when the server did not confirm it."""
        with self._lock:
            if self.upload_id is None:
                return None
            upload_id = self.upload_id
            try:
                self.client.finish_uploading(self.dataset_id, upload_id)
            except OsaiImportError as exc:
                return (
                    f"FinishUploading for dataset {self.dataset_id} failed ({exc}); the server "
                    f"unlocks the dataset by itself after a while, and the next run of this "
                    f"config finishes session {upload_id} first"
                )
            self.journal.session_finished(self.server, self.dataset_id, upload_id)
            self.upload_id = None
            return None
