"""Send chunks of items: read and encode them, post them, isolate what the server refuses.

``Uploader.send`` is called by the upload workers (``workers.send_all``), one chunk at a
time. Each local image is digested from the very file the check saw before its chunk
leaves (``checked.digest_file``), then streamed from it by each try, which sends it only
if it reads the same bytes (images in archives and buckets are read whole, as the check
read them). Every image is written to the journal as ``sending`` before its chunk leaves
and ``acked`` once the server answered as the API does; what the server says it skipped
is not acked; a chunk whose answer never came leaves its images ``unconfirmed``. A 413
or a refusal that blames no image halves the chunk until the culprit is alone, and a
chunk whose session expired is sent again in a new session. The ``Tally`` counts what
happened, for the run's report.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from osai_import.errors import (
    AbortedError,
    ApiError,
    CancelledError,
    ItemError,
    RejectedError,
    TooLargeError,
    TransientError,
    UnexpectedResponseError,
)
from osai_import.plugin.base import Encoder
from osai_import.records import ImageRecord
from osai_import.source.files import Facts
from osai_import.upload.checked import read_for_send
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import ImageRow, Journal
from osai_import.upload.limits import ChunkLimits
from osai_import.upload.multipart import ChunkItem, ItemStreamError
from osai_import.upload.retry import RetryEvent
from osai_import.upload.session import UploadSession

log = logging.getLogger("osai_import.upload.uploader")

# How many times one chunk may ask for a fresh upload session before the run gives up:
# more than that means the server expires sessions faster than we can use them.
_MAX_SESSION_RENEWALS = 3
# Tries of each part of a chunk the server failed with 500s, while looking for the image
# it fails on: enough to tell a passing part from a failing one.
_ISOLATING_ATTEMPTS = 2
# Images failed alone one after another, no chunk passing between, before the run stops.
_MAX_ISOLATED_IN_A_ROW = 3


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
    facts: Facts | None
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
    # Told of every failure as it is counted (key, code, reason), from the counting thread.
    on_fail: Callable[[str, str, str], None] | None = field(default=None, repr=False)
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
        if self.on_fail is not None:
            self.on_fail(key, code, reason)

    def unconfirm(self, items: Sequence[Item]) -> None:
        """Count images sent whose answer never came."""
        with self._lock:
            self.unconfirmed.update(i.record.name for i in items)

    def retry(self, event: RetryEvent) -> None:
        """Count one retried request."""
        with self._lock:
            label = str(event.status) if event.status is not None else "connection"
            self.retries[label] += 1


def _as_stored(record: ImageRecord, renamed: dict[str, str]) -> ImageRecord:
    """Return ``record`` with its box labels as the server stores those categories."""
    if not any(box.label in renamed for box in record.boxes):
        return record
    boxes = tuple(replace(box, label=renamed.get(box.label, box.label)) for box in record.boxes)
    return replace(record, boxes=boxes)


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

    @property
    def weight(self) -> int:
        """Return the chunk's size as ``chunked`` counts it (bytes plus an envelope each)."""
        return sum(i.size + 512 for i in self.items)


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
        limits: ChunkLimits | None = None,
        renamed: dict[str, str] | None = None,
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
        self.limits = limits or ChunkLimits(1 << 30, 1 << 62)
        # Labels the server stores under another name: annotations name them that way,
        # or the server could not link the boxes to their category.
        self.renamed = renamed or {}
        self._isolating_lock = threading.Lock()
        self._isolated_in_a_row = 0

    def _payload(self, items: Sequence[Item]) -> _Chunk:
        chunk = _Chunk([], [], [])
        read = read_for_send([(item.record.path, item.facts) for item in items])
        for item, outcome in zip(items, read, strict=True):
            record = item.record
            if isinstance(outcome, ItemError):
                self._failed([item], outcome.code, str(outcome))
                continue
            data, digest, facts = outcome
            if self.renamed:
                record = _as_stored(record, self.renamed)
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

    def _cut_short(
        self, chunk: _Chunk, exc: ItemStreamError, renewals: int, checked: bool,
        maybe_stored: bool, attempts: int | None,
    ) -> bool:
        """Fail the image whose file failed mid-send; send the rest of its chunk again.

        The body was cut short, so this try stored nothing. An earlier try whose answer
        was lost may have stored the whole chunk, this image with the bytes it had then.
        """
        items = chunk.items
        item = items[exc.index]
        maybe_stored = maybe_stored or exc.maybe_committed
        if maybe_stored:
            self.journal.set_state(self.session.server, self.session.dataset_id,
                                   [item.record.name], "unconfirmed")
            self.tally.unconfirm([item])
        else:
            self._not_stored([item])
        self._failed([item], exc.code, f"{item.record.key}: {exc}")
        keep = [k for k in range(len(items)) if k != exc.index]
        if keep:
            self._send(chunk.part(keep), renewals, checked=checked, maybe_stored=maybe_stored,
                       attempts=attempts)
        return False

    def _failed(self, items: Sequence[Item], code: str, reason: str) -> None:
        for item in items:
            self.tally.fail(item, code, reason)
        self.on_done(len(items), 0, len(items))

    def send(self, items: list[Item]) -> None:
        """Send one chunk, splitting it as the server's answers (and learned limits) require."""
        chunk = self._payload(items)
        if not chunk.items:
            return
        images, size = self.limits.current()
        start = 0
        while start < len(chunk.items):
            # Chunks queued before a size refusal was learned go in pieces that fit.
            end, weight = start, 0
            while end < len(chunk.items) and end - start < images and (
                end == start or weight + chunk.items[end].size + 512 <= size
            ):
                weight += chunk.items[end].size + 512
                end += 1
            self._send(chunk.part(range(start, end)), renewals=0)
            start = end

    def _not_stored(self, items: Sequence[Item], maybe_stored: bool = False) -> None:
        """Undo ``sending`` for images the server is known not to have stored just now.

        An image sent again after an earlier answer was lost (``resent``, or within this
        run ``maybe_stored``) stays unconfirmed: the earlier try may have stored it.
        """
        server, dataset_id = self.session.server, self.session.dataset_id
        unsure = [i for i in items if i.resent or maybe_stored]
        self.journal.drop(
            server, dataset_id, [i.record.name for i in items if not (i.resent or maybe_stored)]
        )
        self.journal.set_state(server, dataset_id, [i.record.name for i in unsure], "unconfirmed")

    def _send(
        self, chunk: _Chunk, renewals: int, *, checked: bool = False, maybe_stored: bool = False,
        attempts: int | None = None,
    ) -> bool:
        """Send a chunk; return True when the server acknowledged every image of it.

        ``checked``: the session was found alive since this chunk (or the one it was cut
        from) was refused, so a refusal is about the images. ``maybe_stored``: an earlier
        try of these images lost its answer, so the server may hold them already.
        """
        server, dataset_id = self.session.server, self.session.dataset_id
        items = chunk.items
        upload_id, generation = self.session.current()
        # Written before the chunk leaves: if this process dies now, the next run knows
        # these images may be on the server.
        self.journal.record(server, dataset_id, chunk.rows)
        try:
            result = self.client.upload_chunk(
                dataset_id, upload_id, chunk.payload, skip_unsupported=self.skip_unsupported,
                attempts=attempts,
            )
        except TooLargeError as exc:
            if len(items) == 1:
                self._not_stored(items, maybe_stored)
                self._failed(items, "server.too_large", f"{items[0].record.key}: {exc}")
                return False
            self.limits.refused(len(items), chunk.weight)
            return self._halves(chunk, renewals, maybe_stored or exc.after_lost_answer)
        except RejectedError as exc:
            return self._rejected(chunk, exc, generation, renewals, checked, maybe_stored)
        except ItemStreamError as exc:
            return self._cut_short(chunk, exc, renewals, checked, maybe_stored, attempts)
        except UnexpectedResponseError as exc:
            # A 404 or 410 for a chunk: the upload session may be gone (some servers say so
            # with these). A probe settles it; if the session lives, the run stops here.
            if exc.status in (404, 410) and not checked:
                renewed = self._renewed(chunk, exc, generation, renewals, maybe_stored)
                if renewed is not None:
                    return renewed
            self._unsettled(items, exc, maybe_stored)
            raise
        except TransientError as exc:
            # The server fails this chunk every time with a 500, or ends its connection
            # without an answer (as a server may refuse a request too large for it): the
            # cause may be an image in it, or its size. Its halves tell which.
            failing = exc.status == 500 or (exc.dropped and exc.status is None)
            if not failing or not self._may_isolate():
                self._unsettled(items, exc, maybe_stored)
                raise
            self.journal.set_state(server, dataset_id, [i.record.name for i in items],
                                   "unconfirmed")
            if len(items) == 1:
                self._poisoned(items[0], exc)
                return False
            if self._halves(chunk, renewals, True, attempts=_ISOLATING_ATTEMPTS):
                # Every part passed: its size, unless a chunk as large passed before.
                self.limits.refused(len(items), chunk.weight, certain=False)
                return True
            return False
        except BaseException as exc:
            self._unsettled(items, exc, maybe_stored)
            raise
        self._isolated_in_a_row = 0
        self.limits.accepted(len(items), chunk.weight)
        skipped = set(result.skipped)
        dropped = [i for i in items if i.record.name in skipped]
        if dropped:
            # The server says it left these out: believe it; they are not on the server.
            self._not_stored(dropped, maybe_stored)
            for item in dropped:
                self._failed([item], "server.skipped", f"{item.record.key}: the server skipped "
                             "it (upload.skip_unsupported): it does not accept the file as an "
                             "image")
        acked = [i for i in items if i.record.name not in skipped]
        self._acked(acked, maybe_stored or result.maybe_committed)
        return not dropped

    def _unsettled(self, items: list[Item], exc: BaseException, maybe_stored: bool) -> None:
        """Note images whose chunk ends the run: not stored, or unconfirmed.

        Unless no try can have reached the server, the chunk may be stored: the journal and
        the report must say so, or they disagree with the server's contents.
        """
        if isinstance(exc, (TransientError, CancelledError)) and not exc.maybe_committed:
            self._not_stored(items, maybe_stored)
            return
        if (isinstance(exc, ApiError) and not isinstance(exc, TransientError)
                and exc.status is not None and exc.status < 500 and not exc.after_lost_answer):
            # Refused with a 4xx (or redirected), and no earlier try lost its answer.
            self._not_stored(items, maybe_stored)
            return
        server, dataset_id = self.session.server, self.session.dataset_id
        self.journal.set_state(server, dataset_id, [i.record.name for i in items], "unconfirmed")
        self.tally.unconfirm(items)

    def _may_isolate(self) -> bool:
        """Tell whether a chunk failed with 500s may be searched for the image behind it.

        Images found failing one after another, with no chunk passing between, mean the
        server fails everything: the run then stops instead of failing images one by one.
        """
        with self._isolating_lock:
            return self._isolated_in_a_row < _MAX_ISOLATED_IN_A_ROW

    def _poisoned(self, item: Item, exc: TransientError) -> None:
        """Fail an image the server answers 500 for every time, alone (maybe stored)."""
        with self._isolating_lock:
            self._isolated_in_a_row += 1
        self.tally.unconfirm([item])
        self._failed([item], "server.error", f"{item.record.key}: the server fails on this "
                     f"image every time ({exc}); it may or may not hold it: check it in the "
                     "web app, or leave the image out")

    def _acked(self, acked: list[Item], maybe_twice: bool) -> None:
        """Note images the server acknowledged; ``maybe_twice``: an earlier try may have too."""
        server, dataset_id = self.session.server, self.session.dataset_id
        # An earlier try of this chunk, or an earlier run's send of an image, may have
        # been stored although its answer was lost: those images may be there twice.
        flagged = acked if maybe_twice else [i for i in acked if i.resent]
        marked = {id(i) for i in flagged}
        plain = [i for i in acked if id(i) not in marked]
        self.journal.set_state(server, dataset_id, [i.record.name for i in plain], "acked")
        if flagged:
            self.journal.set_state(
                server, dataset_id, [i.record.name for i in flagged], "acked", flag=True
            )
        self.tally.ok(acked, flagged)
        self.on_done(len(acked), sum(i.size for i in acked), 0)

    def _renewed(
        self, chunk: _Chunk, exc: ApiError, generation: int, renewals: int, maybe_stored: bool
    ) -> bool | None:
        """Resend a chunk refused whole in a new session if the old one is gone; else None.

        The session may be gone (expired after a quiet spell, finished by a restart),
        whatever the answer's words: a probe settles it.
        """
        if renewals >= _MAX_SESSION_RENEWALS:
            self._not_stored(chunk.items, maybe_stored)
            raise AbortedError(
                f"the server keeps refusing chunks of dataset {self.session.dataset_id} "
                f"whole, in fresh upload sessions too ({exc}); try again later"
            )
        if self.session.gone(generation):
            return self._send(chunk, renewals + 1, maybe_stored=maybe_stored)
        return None

    def _halves(
        self, chunk: _Chunk, renewals: int, maybe_stored: bool, attempts: int | None = None
    ) -> bool:
        first, second = chunk.halves()

        def tries(part: _Chunk) -> int | None:
            # An image alone gets the whole retry policy before it is failed as one the
            # server always fails on: a 500 whose answer was lost twice at random must not
            # cost it its upload.
            return None if len(part.items) == 1 else attempts

        # Both halves are sent, whatever the first one's fate.
        done_first = self._send(first, renewals, checked=True, maybe_stored=maybe_stored,
                                attempts=tries(first))
        done_second = self._send(second, renewals, checked=True, maybe_stored=maybe_stored,
                                 attempts=tries(second))
        return done_first and done_second

    def _rejected(
        self, chunk: _Chunk, exc: RejectedError, generation: int, renewals: int,
        checked: bool, maybe_stored: bool,
    ) -> bool:
        items = chunk.items
        blamed = sorted(i for i in exc.image_indexes() if 0 <= i < len(items))
        maybe_stored = maybe_stored or exc.after_lost_answer
        if exc.after_lost_answer and blamed:
            # The try before this one lost its answer: the images refused now are those it
            # stored (a server that refuses a name it holds). They are there, once.
            self._acked([items[i] for i in blamed], maybe_twice=False)
            keep = [k for k in range(len(items)) if k not in set(blamed)]
            return not keep or self._send(chunk.part(keep), renewals, checked=checked,
                                          maybe_stored=True)
        if not blamed and not checked:
            renewed = self._renewed(chunk, exc, generation, renewals, maybe_stored)
            if renewed is not None:
                return renewed
        if len(items) == 1:
            self._not_stored(items, maybe_stored)
            self._failed(items, "server.rejected", f"{items[0].record.key}: {exc}")
            return False
        if blamed:
            # The server named culprits: send them alone (a single image that fails is
            # reported with the server's own words; a wrongly blamed one still goes through)
            # and the others together.
            done = True
            for index in blamed:
                done = self._send(chunk.part([index]), renewals, checked=True,
                                  maybe_stored=maybe_stored) and done
            keep = [k for k in range(len(items)) if k not in set(blamed)]
            if keep:
                done = self._send(chunk.part(keep), renewals, checked=True,
                                  maybe_stored=maybe_stored) and done
            return done
        # A refusal that blames no image, in a live session: bisect until the culprit is
        # alone. When every part passes, it was the chunk's size the server refused.
        if self._halves(chunk, renewals, maybe_stored):
            self.limits.refused(len(items), chunk.weight)
            return True
        return False
