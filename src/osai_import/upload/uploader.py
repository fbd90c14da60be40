"""Send chunks of items: read and encode them, post them, isolate what the server refuses.

``Uploader.send`` is called by the upload workers (``workers.send_all``), one chunk at a
time. Every chunk is marked ``sent`` in the journal before it leaves and ``acked`` once
the server answered; a 413 or a refusal that blames no image halves the chunk until the
culprit is alone, and a chunk whose session expired is sent again in a new session. The
``Tally`` counts what happened, for the run's report.
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
    RejectedError,
    TooLargeError,
    TransientError,
)
from osai_import.plugin.base import Encoder
from osai_import.records import ImageRecord
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal
from osai_import.upload.multipart import ChunkItem
from osai_import.upload.retry import RetryEvent
from osai_import.upload.session import UploadSession

log = logging.getLogger("osai_import.upload.uploader")

# How many times one chunk may ask for a fresh upload session before the run gives up:
# more than that means the server expires sessions faster than we can use them.
_MAX_SESSION_RENEWALS = 3


@dataclass(frozen=True)
class Item:
    """One planned image on its way to the server."""

    record: ImageRecord
    size: int
    fingerprint: str
    resent: bool = False  # found `sent` but not `acked` in the journal: may be stored already


@dataclass
class Tally:
    """Thread-safe counts of what the upload did."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    failed_codes: Counter[str] = field(default_factory=Counter)
    maybe_duplicated: set[str] = field(default_factory=set)
    unconfirmed: set[str] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, items: Sequence[Item]) -> None:
        with self._lock:
            self.uploaded += len(items)
            self.uploaded_bytes += sum(i.size for i in items)
            for item in items:
                if item.resent:
                    self.maybe_duplicated.add(item.record.key)

    def fail(self, item: Item, code: str, reason: str) -> None:
        self.fail_key(item.record.key, code, reason)

    def fail_key(self, key: str, code: str, reason: str) -> None:
        with self._lock:
            self.failed[key] = f"{code}: {reason}"
            self.failed_codes[code] += 1

    def unconfirm(self, items: Sequence[Item]) -> None:
        with self._lock:
            self.unconfirmed.update(i.record.key for i in items)

    def maybe_dup(self, items: Sequence[Item]) -> None:
        with self._lock:
            self.maybe_duplicated.update(i.record.key for i in items)

    def retry(self, event: RetryEvent) -> None:
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
    ) -> None:
        self.client = client
        self.session = session
        self.encoder = encoder
        self.journal = journal
        self.category_ids = category_ids
        self.tally = tally
        self.skip_unsupported = skip_unsupported
        self.on_done = on_done

    def _payload(self, items: Sequence[Item]) -> tuple[list[Item], list[ChunkItem]]:
        ready: list[Item] = []
        payload: list[ChunkItem] = []
        for item in items:
            record = item.record
            try:
                data = record.path.read_bytes()
            except OSError as exc:
                self._failed([item], "image.unreadable", f"{record.path}: {exc.strerror or exc}")
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
            payload.append(ChunkItem(record.name, data, annotation, category_id))
            ready.append(item)
        return ready, payload

    def _failed(self, items: Sequence[Item], code: str, reason: str) -> None:
        for item in items:
            self.tally.fail(item, code, reason)
        self.on_done(len(items), 0, len(items))

    def send(self, items: list[Item]) -> None:
        """Send one chunk, splitting it as the server's answers require."""
        ready, payload = self._payload(items)
        if ready:
            self._send(ready, payload, renewals=0)

    def _send(self, items: list[Item], payload: list[ChunkItem], renewals: int) -> None:
        server, dataset_id = self.session.server, self.session.dataset_id
        upload_id, generation = self.session.current()
        marks = [(i.record.key, i.fingerprint, None) for i in items]
        self.journal.mark(server, dataset_id, "sent", marks)
        try:
            result = self.client.upload_chunk(
                dataset_id, upload_id, payload, skip_unsupported=self.skip_unsupported
            )
        except TooLargeError as exc:
            if len(items) == 1:
                self._failed(items, "server.too_large", f"{items[0].record.key}: {exc}")
                return
            self._halves(items, payload, renewals)
            return
        except RejectedError as exc:
            self._rejected(items, payload, exc, generation, renewals)
            return
        except BaseException as exc:
            # The run stops here. Unless no try can have reached the server, the chunk may
            # be stored: the report must say so, or its counts disagree with the server's.
            if not (isinstance(exc, TransientError) and not exc.maybe_committed):
                self.tally.unconfirm(items)
            raise
        if getattr(result, "maybe_committed", False):
            # An earlier try of this very chunk lost its answer: it may be stored twice.
            self.tally.maybe_dup(items)
        self.journal.mark(
            server, dataset_id, "acked", [(i.record.key, i.fingerprint, None) for i in items]
        )
        self.tally.ok(items)
        self.on_done(len(items), sum(i.size for i in items), 0)

    def _halves(self, items: list[Item], payload: list[ChunkItem], renewals: int) -> None:
        middle = len(items) // 2
        self._send(items[:middle], payload[:middle], renewals)
        self._send(items[middle:], payload[middle:], renewals)

    def _rejected(
        self,
        items: list[Item],
        payload: list[ChunkItem],
        exc: RejectedError,
        generation: int,
        renewals: int,
    ) -> None:
        if exc.limit_exceeded and len(items) > 1:
            # ASP.NET's form value limit answers 400, not 413: split like a 413.
            self._halves(items, payload, renewals)
            return
        if exc.session_expired:
            if renewals >= _MAX_SESSION_RENEWALS:
                raise AbortedError(
                    f"the server keeps expiring upload sessions of dataset "
                    f"{self.session.dataset_id} ({exc}); try again later"
                )
            self.session.renew(generation)
            self._send(items, payload, renewals + 1)
            return
        if len(items) == 1:
            self._failed(items, "server.rejected", f"{items[0].record.key}: {exc}")
            return
        blamed = sorted(i for i in exc.image_indexes() if 0 <= i < len(items))
        if blamed:
            # The server named culprits: send them alone (a single image that fails is
            # reported with the server's own words; a wrongly blamed one still goes through)
            # and the others together.
            for index in blamed:
                self._send([items[index]], [payload[index]], renewals)
            keep = [k for k in range(len(items)) if k not in set(blamed)]
            if keep:
                self._send([items[k] for k in keep], [payload[k] for k in keep], renewals)
            return
        # A 400 that blames no image: bisect until the culprit is alone.
        self._halves(items, payload, renewals)
