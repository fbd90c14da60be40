"""Pick up after an earlier run: what counts as the same image, and sessions left open."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Settled:
    """What a server's listing settled: images found once, twice or more, or not at all."""

    once: int = 0
    twice: int = 0
    absent: int = 0


def settle_by_listing(client: OsaiClient, journal: Journal, server: str, dataset_id: Id) -> Settled:
    """Settle the journal's unconfirmed and flagged images by the server's own listing.

    OSAI documents no listing, so this does something only where the server lists a
    dataset's images: an unconfirmed image found once (with the bytes sent, when the
    listing gives a digest) is acknowledged; found twice or more, it is acknowledged and
    flagged; not found, it is forgotten, so the next send is no resend. A flagged image
    found exactly once loses its flag.
    """
    unsettled = journal.unsettled(server, dataset_id)
    flagged = journal.flagged(server, dataset_id)
    if not unsettled and not flagged:
        return Settled()
    listed = client.list_images(dataset_id)
    if listed is None:
        return Settled()
    copies = Counter(image.name for image in listed)
    digests: dict[str, set[str]] = {}
    for image in listed:
        if image.sha256 is not None:
            digests.setdefault(image.name, set()).add(image.sha256)
    once, twice, absent = [], [], []
    for row in unsettled:
        count = copies[row.name]
        known = digests.get(row.name)
        if count == 0 or (row.digest and known is not None and row.digest not in known):
            absent.append(row.name)
        elif count == 1:
            once.append(row.name)
        else:
            twice.append(row.name)
    journal.drop(server, dataset_id, absent)
    journal.set_state(server, dataset_id, once, "acked")
    journal.set_state(server, dataset_id, twice, "acked", flag=True)
    single = [row.name for row in flagged if copies[row.name] == 1]
    if single:
        journal.resolve(server, dataset_id, single)
    return Settled(len(once) + len(single), len(twice), len(absent))
