"""Pick up after an earlier run: what counts as the same image, and sessions left open."""

from __future__ import annotations

import hashlib
import logging

from osai_import.errors import OsaiImportError, TransientError
from osai_import.records import ImageRecord
from osai_import.upload.answers import Id
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal

log = logging.getLogger("osai_import.upload.resume")


def annotation_fingerprint(record: ImageRecord, encoder: str) -> str:
    """Return the fingerprint of what goes with an image's bytes: its category and annotation.

    It covers the encoder (its name and options: another encoder writes another
    annotation), the image-level category, the size the annotation states and every box.
    Two items with the same remote name, the same bytes and the same fingerprint are the
    same image on the server.
    """
    parts = [encoder, record.category or "", f"{record.width}x{record.height}x{record.depth}"]
    parts.extend(
        f"{b.label}|{b.xmin!r}|{b.ymin!r}|{b.xmax!r}|{b.ymax!r}|{b.difficult:d}{b.truncated:d}"
        f"{b.occluded:d}|{b.pose}"
        for b in record.boxes
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def legacy_fingerprint(record: ImageRecord, size: int, mtime_ns: int) -> str:
    """Return the fingerprint osai-import 0.1 wrote to its journal for ``record``.

    Used only to recognize, in a 0.1 journal, the items that version uploaded (it keyed
    items by the reader's key, with this fingerprint of the name, labels, size and time).
    """
    parts = [record.name, record.category or "", str(size), str(mtime_ns)]
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
