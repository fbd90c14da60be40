"""Send chunks of items: read and encode them, post them, isolate what the server refuses.

``Uploader.send`` is called by the upload workers (``workers.send_all``), one chunk at a
time. Each image is read once, from the very file the check saw (``read_checked``), and
its bytes are digested as they are read. Every image is written to the journal as
``sending`` before its chunk leaves and ``acked`` once the server answered as the API
does; what the server says it skipped is not acked; a chunk whose answer never came
leaves its images ``unconfirmed``. A 413 or a refusal that blames no image halves the
chunk until the culprit is alone, and a chunk whose session expired is sent again in a
new session. The ``Tally`` counts what happened, for the run's report.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from osai_import.errors import (
    AbortedError,
    CancelledError,
    ItemError,
    RejectedError,
    TooLargeError,
    TransientError,
)
from osai_import.plugin.base import Encoder
from osai_import.records import ImageRecord
from osai_import.source.files import FileFacts, read_checked, read_image
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent
from osai_import.upload.session import UploadSession

log = logging.getLogger("osai_import.upload.uploader")

# How many times one chunk may ask for a fresh upload session before the run gives up:
# more than that means the server expires sessions faster than we can use them.
_MAX_SESSION_RENEWALS = 3


@dataclass(frozen=True)
class Item:
    """One planned image on its way to the server.

    ``facts`` are what the check saw of the file (None: read it as it is, unchecked);
    ``annotation`` is the fingerprint of its category and annotation
    (``resume.annotation_fingerprint``); ``resent``: the journal holds it unsettled (an
    earlier answer never came), so the server may hold it already.
    """

    record: ImageRecord
    size: int
    facts: FileFacts | None
    annotation: str
    resent: bool = False


@dataclass
class Tally:
    """Thread-safe counts of what the upload did (names are remote names)."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    failed_codes: Counter[str] = field(default_factory=Counter)
    maybe_duplicated: set[str] = field(default_factory=set)
    unconfirmed: set[str] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, items: Sequence[Item], flagged: Sequence[Item]) -> None:
        """Count images the server acknowledged, of which ``flagged`` may be stored twice."""
        with self._lock:
            self.uploaded += len(items)
            self.uploaded_bytes += sum(i.size for i in items)
            self.maybe_duplicated.update(i.record.name for i in flagged)

    def fail(self, item: Item, code: str, reason: str) -> None:
        """Count an image the upload could not deliver."""
        self.fail_key(item.record.key, code, reason)

    def fail_key(self, key: str, code: str, reason: str) -> None:
        """Count an item the upload could not deliver, by its key."""
        with self._lock:
            self.failed[key] = f"{code}: {reason}"
            self.failed_codes[code] += 1

    def unconfirm(self, items: Sequence[Item]) -> None:
        """Count images sent whose answer never came."""
        with self._lock:
            self.unconfirmed.update(i.record.name for i in items)

    def retry(self, event: RetryEvent) -> None:
        """Count one retried request."""
        with self._lock:
            label = str(event.status) if event.status is not None else "connection"
            self.retries[label] += 1


def chunked(items: Iterator[Item], max_images: int, max_bytes: int) -> Iterator[list[Item]]:
    """Group items by count and by bytes; an item larger than max_bytes goes alone."""
    chunk: list[Item] = []
    size = 0
    for item in items:
        # The multipart envelope and base64 annotations add a little to each image.
        weight = item.size + 512
        if chunk and (len(chunk) >= max_images or size + weight > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += weight
    if chunk:
        yield chunk


@dataclass
class _Chunk:
    """Items ready to go, with their multipart parts and their journal rows, in step."""

    items: list[Item]
    payload: list[ChunkItem]
    rows: list[ImageRow]

    def part(self, indexes: Sequence[int]) -> _Chunk:
        return _Chunk([self.items[i] for i in indexes], [self.payload[i] for i in indexes],
                      [self.rows[i] for i in indexes])

    def halves(self) -> tuple[_Chunk, _Chunk]:
        middle = len(self.items) // 2
        return self.part(range(middle)), self.part(range(middle, len(self.items)))


class Uploader:
    """Send chunks of items; isolate the items a server refuses; record what happened."""

    def __init__(
        self,
        client: OsaiClient,
        session: UploadSession,
        encoder: Encoder,
        journal: Journal,
        category_ids: dict[str, Any],
        tally: Tally,
        *,
        skip_unsupported: bool,
        on_done: Callable[[int, int, int], None],
        origin: str = "",
    ) -> None:
        self.client = client
        self.session = session
        self.encoder = encoder
        self.journal = journal
        self.category_ids = category_ids
        self.tally = tally
        self.skip_unsupported = skip_unsupported
        self.on_done = on_done
        self.origin = origin

    def _payload(self, items: Sequence[Item]) -> _Chunk:
        chunk = _Chunk([], [], [])
        for item in items:
            record = item.record
            try:
                if item.facts is None:
                    data, digest, facts = read_image(record.path)
                else:
                    (data, digest), facts = read_checked(record.path, item.facts), item.facts
            except ItemError as exc:
                # Read once, from the very file the check saw: anything else is refused.
                self._failed([item], exc.code, str(exc))
                continue
            try:
                annotation = self.encoder.encode(record)
            except Exception as exc:  # noqa: BLE001 - a plugin's encoder: report it against the item
                self._failed(
                    [item],
                    "annotation.encode",
                    f"encoder {self.encoder.name!r} failed on {record.key}: "
                    f"{type(exc).__name__}: {exc}",
                )
                continue
            category_id = self.category_ids.get(record.category) if record.category else None
            chunk.items.append(item)
            chunk.payload.append(ChunkItem(record.name, data, annotation, category_id))
            chunk.rows.append(ImageRow(
                record.name, digest, item.annotation, "sending", None, record.key, self.origin,
                facts.size, facts.mtime_ns, facts.dev, facts.ino,
            ))
        return chunk

    def _failed(self, items: Sequence[Item], code: str, reason: str) -> None:
        for item in items:
            self.tally.fail(item, code, reason)
        self.on_done(len(items), 0, len(items))

    def send(self, items: list[Item]) -> None:
        """Send one chunk, splitting it as the server's answers require."""
        chunk = self._payload(items)
        if chunk.items:
            self._send(chunk, renewals=0)

    def _not_stored(self, items: Sequence[Item]) -> None:
        """Undo ``sending`` for images the server is known not to have stored just now.

        An image sent again after an earlier answer was lost stays unconfirmed: the earlier
        try may have stored it.
        """
        server, dataset_id = self.session.server, self.session.dataset_id
        self.journal.drop(server, dataset_id, [i.record.name for i in items if not i.resent])
        self.journal.set_state(
            server, dataset_id, [i.record.name for i in items if i.resent], "unconfirmed"
        )

    def _send(self, chunk: _Chunk, renewals: int) -> None:
        server, dataset_id = self.session.server, self.session.dataset_id
        items = chunk.items
        upload_id, generation = self.session.current()
        # Written before the chunk leaves: if this process dies now, the next run knows
        # these images may be on the server.
        self.journal.record(server, dataset_id, chunk.rows)
        try:
            result = self.client.upload_chunk(
                dataset_id, upload_id, chunk.payload, skip_unsupported=self.skip_unsupported
            )
        except TooLargeError as exc:
            if len(items) == 1:
                self._not_stored(items)
                self._failed(items, "server.too_large", f"{items[0].record.key}: {exc}")
                return
            for half in chunk.halves():
                self._send(half, renewals)
            return
        except RejectedError as exc:
            self._rejected(chunk, exc, generation, renewals)
            return
        except BaseException as exc:
            # The run stops here. Unless no try can have reached the server, the chunk may
            # be stored: the journal and the report must say so, or they disagree with the
            # server's contents.
            if isinstance(exc, (TransientError, CancelledError)) and not exc.maybe_committed:
                self._not_stored(items)
            else:
                self.journal.set_state(
                    server, dataset_id, [i.record.name for i in items], "unconfirmed"
                )
                self.tally.unconfirm(items)
            raise
        skipped = set(result.skipped)
        dropped = [i for i in items if i.record.name in skipped]
        if dropped:
            # The server says it left these out: believe it; they are not on the server.
            self._not_stored(dropped)
            for item in dropped:
                self._failed([item], "server.skipped", f"{item.record.key}: the server skipped "
                             "it (upload.skip_unsupported): it does not accept the file as an "
                             "image")
        acked = [i for i in items if i.record.name not in skipped]
        # An earlier try of this chunk, or an earlier run's send of an image, may have
        # been stored although its answer was lost: those images may be there twice.
        flagged = acked if result.maybe_committed else [i for i in acked if i.resent]
        marked = {id(i) for i in flagged}
        plain = [i for i in acked if id(i) not in marked]
        self.journal.set_state(server, dataset_id, [i.record.name for i in plain], "acked")
        if flagged:
            self.journal.set_state(
                server, dataset_id, [i.record.name for i in flagged], "acked", flag=True
            )
        self.tally.ok(acked, flagged)
        self.on_done(len(acked), sum(i.size for i in acked), 0)

    def _rejected(
        self, chunk: _Chunk, exc: RejectedError, generation: int, renewals: int
    ) -> None:
        items = chunk.items
        if exc.limit_exceeded and len(items) > 1:
            # ASP.NET's form value limit answers 400, not 413: split like a 413.
            for half in chunk.halves():
                self._send(half, renewals)
            return
        if exc.session_expired:
            if renewals >= _MAX_SESSION_RENEWALS:
                self._not_stored(items)
                raise AbortedError(
                    f"the server keeps expiring upload sessions of dataset "
                    f"{self.session.dataset_id} ({exc}); try again later"
                )
            self.session.renew(generation)
            self._send(chunk, renewals + 1)
            return
        if len(items) == 1:
            self._not_stored(items)
            self._failed(items, "server.rejected", f"{items[0].record.key}: {exc}")
            return
        blamed = sorted(i for i in exc.image_indexes() if 0 <= i < len(items))
        if blamed:
            # The server named culprits: send them alone (a single image that fails is
            # reported with the server's own words; a wrongly blamed one still goes through)
            # and the others together.
            for index in blamed:
                self._send(chunk.part([index]), renewals)
            keep = [k for k in range(len(items)) if k not in set(blamed)]
            if keep:
                self._send(chunk.part(keep), renewals)
            return
        # A 400 that blames no image: bisect until the culprit is alone.
        for half in chunk.halves():
            self._send(half, renewals)
