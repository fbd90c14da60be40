"""Pick up after an earlier run: what counts as the same item, and its sessions left open."""

from __future__ import annotations

import hashlib
import logging

from osai_import.errors import OsaiImportError, TransientError
from osai_import.records import ImageRecord
from osai_import.upload.answers import Id
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal

log = logging.getLogger("osai_import.upload.resume")


def fingerprint(record: ImageRecord, size: int, mtime_ns: int | None = None) -> str:
    """Return a cheap fingerprint of what would be sent for ``record``.

    It covers the remote name, the labels, the boxes and the file's size and mtime (read
    from the file unless given): enough to notice that an item changed since it was
    uploaded without hashing every image.
    """
    mtime = mtime_ns
    if mtime is None:
        try:
            mtime = record.path.stat().st_mtime_ns
        except OSError:
            mtime = 0
    parts = [record.name, record.category or "", str(size), str(mtime)]
    parts.extend(
        f"{b.label}|{b.xmin!r}|{b.ymin!r}|{b.xmax!r}|{b.ymax!r}|{b.difficult:d}{b.truncated:d}"
        f"{b.occluded:d}|{b.pose}"
        for b in record.boxes
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def finish_stale_sessions(
    client: OsaiClient, journal: Journal, server: str, dataset_id: Id
) -> None:
    """Finish the upload sessions a run that died left open, so the dataset unlocks."""
    for stale in journal.open_sessions(server, dataset_id):
        try:
            client.finish_uploading(dataset_id, stale)
        except TransientError as exc:
            # Not refused, just not done: keep it, so the next run tries again.
            log.info("finishing upload session %s left open: %s", stale, exc)
            continue
        except OsaiImportError as exc:
            log.info("upload session %s left open is refused: %s", stale, exc)
        journal.session_finished(server, dataset_id, stale)
