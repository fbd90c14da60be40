"""What the server should hold for each image: the source read again, as a run sends it.

The source goes through the check as in ``run`` (final names, boxes clipped and mapped),
each record through the configured encoder; a Pascal VOC annotation is then read back,
so the boxes expected are the ones the server got, rounding included. An image is judged
against what was sent only while its annotation's fingerprint is still the one the
journal noted: otherwise the source changed since, and only the bytes the journal noted
can be compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from osai_import.check.checker import CheckedItem
from osai_import.check.stream import CheckRun
from osai_import.config.resolve import ResolvedConfig
from osai_import.errors import ItemError
from osai_import.plugin.base import Encoder
from osai_import.records import ImageRecord
from osai_import.run.feed import sent_bytes_match
from osai_import.run.runner import encoder_identity
from osai_import.source.reads import SourceReads
from osai_import.source.voc import parse_voc
from osai_import.upload.journal import ImageRow
from osai_import.upload.resume import annotation_fingerprint
from osai_import.verify.server import StoredBox

VOC_ANNOTATION_TYPE = 0  # OSAI's annotationType of Pascal VOC (DOC)


@dataclass(frozen=True)
class Expected:
    """One image of the source the journal says was sent, and what the server should hold.

    ``changed`` names what differs from what was sent ("bytes", "annotation"); with
    "annotation" in it, ``category`` and ``boxes`` are not known. ``boxes`` is None, with
    ``boxes_unread`` saying why, when the annotation cannot be read back.
    """

    item: str
    changed: tuple[str, ...] = ()
    category: str | None = None
    boxes: tuple[StoredBox, ...] | None = None
    boxes_unread: str | None = None


@dataclass
class SourceView:
    """The source as verify read it: the images sent, those never sent, and counts."""

    expected: dict[str, Expected] = field(default_factory=dict)
    # Items the check passed that the journal does not know: (remote name, item key).
    unsent: list[tuple[str, str]] = field(default_factory=list)
    read: int = 0
    refused: int = 0


def read_source(resolved: ResolvedConfig, rows: Mapping[str, ImageRow],
                renamed: Mapping[str, str]) -> SourceView:
    """Check every record of the source and work out what each image sent should be.

    ``rows`` are the journal's images by name; ``renamed`` maps a category name to the
    one the server stores it under, where they differ.
    """
    view = SourceView()
    reading = SourceReads(resolved.named_sources())
    identity = encoder_identity(resolved)
    encoder = resolved.encoder()
    with CheckRun(reading.records, resolved.config.check,
                  source_problems=reading.source_problems) as check:
        check.read()
        for item in check.items():
            view.read += 1
            if not item.ok:
                view.refused += 1
                continue
            record = item.record
            row = rows.get(record.name)
            if row is None:
                view.unsent.append((record.name, record.key))
                continue
            view.expected[record.name] = _expected(item, row, identity, encoder, renamed)
    return view


def _expected(item: CheckedItem, row: ImageRow, identity: str, encoder: Encoder,
              renamed: Mapping[str, str]) -> Expected:
    record = item.record
    changed = ("bytes",) if not _same_bytes(item, row) else ()
    if annotation_fingerprint(record, identity) != row.annotation:
        return Expected(record.key, (*changed, "annotation"))
    category = renamed.get(record.category, record.category) if record.category else None
    boxes, unread = _sent_boxes(_as_stored(record, renamed), encoder)
    return Expected(record.key, changed, category, boxes, unread)


def _same_bytes(item: CheckedItem, row: ImageRow) -> bool:
    """Tell whether the file holds the bytes the journal says were sent (as ``run`` tells)."""
    try:
        return sent_bytes_match(row, item)[0]
    except ItemError:
        return False


def _as_stored(record: ImageRecord, renamed: Mapping[str, str]) -> ImageRecord:
    """Return ``record`` with its box labels named as the server stores them, as sent."""
    if not any(box.label in renamed for box in record.boxes):
        return record
    return replace(record, boxes=tuple(replace(box, label=renamed.get(box.label, box.label))
                                       for box in record.boxes))


def _sent_boxes(record: ImageRecord, encoder: Encoder
                ) -> tuple[tuple[StoredBox, ...] | None, str | None]:
    """Return the boxes the encoded annotation carries, or None and why they are unknown."""
    try:
        annotation = encoder.encode(record)
    except Exception as exc:  # noqa: BLE001 - a plugin's encoder: reported against the image
        return None, f"the encoder {encoder.name!r} fails on it now ({type(exc).__name__}: {exc})"
    if annotation is None:
        return (), None
    if annotation.type != VOC_ANNOTATION_TYPE:
        return None, (f"the encoder {encoder.name!r} writes annotationType {annotation.type}, "
                      "which verify cannot read back (it reads Pascal VOC, type 0)")
    try:
        parsed = parse_voc(annotation.data, source=f"the annotation of {record.name}")
    except ItemError as exc:
        return None, str(exc)
    return tuple(StoredBox(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in parsed.boxes), None
