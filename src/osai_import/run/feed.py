"""Feed the upload from the check: the checked items the server does not hold yet.

An image's identity on the server is its remote name with the digest of its bytes and
the fingerprint of its annotation; a reader's key only says where it came from. So an
item is passed over when the journal holds its name acknowledged with the same bytes and
annotation (whatever key, source or config sent it), and reported as changed when the
name is there with other bytes or another annotation: OSAI's API cannot replace an image.
Items the check refused are noted, not sent. A journal of osai-import 0.1 (items by key)
is read for the names the journal does not know yet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from osai_import.check.checker import CheckedItem
from osai_import.errors import ItemError
from osai_import.records import ImageRecord, Severity
from osai_import.source.files import BlobFacts, Facts, digest_checked
from osai_import.upload.answers import Id
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.resume import annotation_fingerprint, legacy_fingerprint
from osai_import.upload.uploader import Item


@dataclass(frozen=True)
class Changed:
    """An item whose name the dataset holds with other bytes or another annotation."""

    item: str
    name: str
    what: str  # "bytes", "annotation" or "bytes and annotation"


@dataclass
class PlanWalk:
    """What the walk over the checked items found besides the items to send."""

    already_uploaded: int = 0
    changed_since_upload: list[Changed] = field(default_factory=list)
    # Items the check refused when the walk met them (on a replay: changed since the plan).
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    # Items whose file could not be read to compare it with what the server holds.
    failed: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FeedPlace:
    """Where the feed files what it finds: the journal, the server, the dataset, the run."""

    journal: Journal
    server: str
    dataset_id: Id
    encoder: str  # the encoder's name and options, part of each annotation's fingerprint
    origin: str  # the config that sends
    run: int  # this run's number in the journal
    # A dry run walks the same way but writes nothing: no "seen" marks, no refreshed notes.
    read_only: bool = False


# Journal lookups go a batch at a time; small enough that the first chunk leaves early.
_STATE_BATCH = 256


def pending_items(
    place: FeedPlace,
    checked: Iterable[CheckedItem],
    walk: PlanWalk,
    on_passed: Callable[[int], None] | None = None,
) -> Iterator[Item]:
    """Yield the checked items to send: ok, and not on the server as they are now.

    The others are counted in ``walk``; ``on_passed`` is called with how many items were
    passed over (refused, already uploaded, changed), for the progress bar.
    """
    iterator = iter(checked)
    while True:
        batch = list(itertools.islice(iterator, _STATE_BATCH))
        if not batch:
            return
        passed = 0
        ready: list[CheckedItem] = []
        for item in batch:
            if item.ok:
                ready.append(item)
                continue
            passed += 1
            error = next(p for p in item.problems if p.severity is Severity.ERROR)
            walk.refused.append((item.record.key, error.code, error.message))
        names = [item.record.name for item in ready]
        rows = place.journal.images(place.server, place.dataset_id, names)
        if not place.read_only:
            place.journal.seen(place.server, place.dataset_id, list(rows), place.run)
        legacy = place.journal.legacy_states(
            place.server, place.dataset_id,
            [_legacy_key(item.record) for item in ready if item.record.name not in rows],
        )
        for item in ready:
            record = item.record
            fingerprint = annotation_fingerprint(record, place.encoder)
            row = rows.get(record.name)
            if row is None and _legacy_key(record) in legacy:
                row = _from_legacy(place, item, fingerprint, *legacy[_legacy_key(record)])
            if row is None:
                yield Item(record, item.size, item.facts, fingerprint)
                continue
            if row.state != "acked":
                # Sent by a run whose answer never came: it may be stored already.
                yield Item(record, item.size, item.facts, fingerprint, resent=True)
                continue
            passed += 1
            try:
                same_bytes = _same_bytes(place, row, item)
            except ItemError as exc:
                walk.failed.append((record.key, exc.code, str(exc)))
                continue
            if same_bytes and row.annotation == fingerprint:
                walk.already_uploaded += 1
                continue
            what = ("bytes and annotation" if not same_bytes and row.annotation != fingerprint
                    else "bytes" if not same_bytes else "annotation")
            walk.changed_since_upload.append(Changed(record.key, record.name, what))
        if passed and on_passed is not None:
            on_passed(passed)


def _legacy_key(record: ImageRecord) -> str:
    """Return the key osai-import 0.1 gave the item (a reader that renamed its keys keeps
    the old one in ``extras["legacy_key"]``: COCO items were keyed by id then)."""
    old = record.extras.get("legacy_key")
    return old if isinstance(old, str) and old else record.key


def _same_bytes(place: FeedPlace, row: ImageRow, item: CheckedItem) -> bool:
    """Tell whether the file holds the bytes the server acknowledged under its name.

    A file read again whose bytes match gets its note refreshed (``sent_bytes_match``).
    """
    same, reread = sent_bytes_match(row, item)
    if same and reread and not place.read_only:
        assert item.facts is not None
        place.journal.record(place.server, place.dataset_id, [_row(row, item.facts, row.state)])
    return same


def sent_bytes_match(row: ImageRow, item: CheckedItem) -> tuple[bool, bool]:
    """Tell whether the item's file holds the bytes ``row`` says were sent, and if it was read.

    The file is read again only when its size, time or identity differ from those noted
    when it was sent (as git's index and rsync do). Returns ``(same, read_again)``; a file
    that cannot be read raises its ItemError.
    """
    facts = item.facts
    if facts is None:
        return False, False
    if isinstance(facts, BlobFacts):
        # In an archive or a bucket the check read the bytes: their digest decides.
        return facts.sha256 == row.digest, False
    if (row.size, row.mtime_ns, row.dev, row.ino) == (
        facts.size, facts.mtime_ns, facts.dev, facts.ino
    ):
        return True, False
    return digest_checked(item.record.path, facts) == row.digest, True


def _row(row: ImageRow, facts: Facts, state: str) -> ImageRow:
    return ImageRow(row.name, row.digest, row.annotation, state, row.flagged, row.item,
                    row.origin, facts.size, facts.mtime_ns, facts.dev, facts.ino)


def _from_legacy(
    place: FeedPlace, item: CheckedItem, fingerprint: str, state: str, old_fingerprint: str
) -> ImageRow | None:
    """Turn what an osai-import 0.1 journal knew of an item into a row, and keep it.

    0.1 keyed items by the reader's key with a fingerprint of name, labels, size and time:
    an item it acknowledged whose fingerprint still matches is the same image, so it is
    recorded under its name with the digest of its file; an item it sent without an answer
    is unsettled. Anything else is unknown, and None lets the item go as a new one.
    """
    facts = item.facts
    if facts is None:
        return None
    if state == "acked":
        if legacy_fingerprint(item.record, item.size, facts.mtime_ns) != old_fingerprint:
            return None
        try:
            digest = digest_checked(item.record.path, facts)
        except ItemError:
            return None
        new_state = "acked"
    else:
        digest, new_state = "", "unconfirmed"
    row = ImageRow(item.record.name, digest, fingerprint, new_state, None, item.record.key,
                   place.origin, facts.size, facts.mtime_ns, facts.dev, facts.ino)
    if not place.read_only:
        place.journal.record(place.server, place.dataset_id, [row])
    return row
