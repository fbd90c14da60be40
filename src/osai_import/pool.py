"""The worker pool of an upload: a bounded queue of chunks and N threads sending them.

The main thread turns the checked items into chunks (the check may still be running: it
is the producer); workers read, encode and send them. The
queue holds at most two chunks per worker, so memory stays flat whatever the dataset's
size. The upload session starts before the first chunk, even when nothing is left to
send: StartUploading is the one call that proves the dataset still exists on the server
(OSAI has no documented way to look a dataset up), so a rerun never reports images as
"already uploaded" into a dataset that is gone.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from osai_import.check import CheckedItem
from osai_import.engine import Item, Uploader, chunked
from osai_import.errors import AbortedError, OsaiImportError
from osai_import.journal import Journal
from osai_import.plan import fingerprint
from osai_import.records import Severity


@dataclass
class PlanWalk:
    """What the walk over the checked items found besides the items to send."""

    already_uploaded: int = 0
    changed_since_upload: list[str] = field(default_factory=list)
    # Items the check refused when the walk met them (on a replay: changed since the plan).
    refused: list[tuple[str, str, str]] = field(default_factory=list)


# Journal lookups go a batch at a time; small enough that the first chunk leaves early.
_STATE_BATCH = 256


def pending_items(
    journal: Journal,
    server: str,
    dataset_id: object,
    checked: Iterable[CheckedItem],
    walk: PlanWalk,
    on_passed: Callable[[int], None] | None = None,
) -> Iterator[Item]:
    """Yield the checked items to send: ok, and not acknowledged by the server before.

    The others are counted in ``walk``; ``on_passed`` is called with how many items were
    passed over (refused, or already uploaded), for the progress bar.
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
        states = journal.states(server, dataset_id, [item.record.key for item in ready])  # type: ignore[arg-type]
        for item in ready:
            record = item.record
            fp = fingerprint(record, item.size, item.mtime_ns)
            state, acked_fp = states.get(record.key, (None, None))
            if state == "acked":
                passed += 1
                if acked_fp == fp:
                    walk.already_uploaded += 1
                else:
                    # OSAI's API cannot replace an image: say so rather than store a second one.
                    walk.changed_since_upload.append(record.key)
                continue
            # Marked `sent` by a run that died before the answer: it may be stored already.
            yield Item(record, item.size, fp, resent=state is not None)
        if passed and on_passed is not None:
            on_passed(passed)


def send_all(
    items: Iterator[Item],
    uploader: Uploader,
    *,
    workers: int,
    chunk_images: int,
    chunk_bytes: int,
    start_session: Callable[[], None],
    cancel: Callable[[], None],
) -> None:
    """Send every item with ``workers`` threads; raise the first error any of them met."""
    work: queue.Queue[list[Item] | None] = queue.Queue(maxsize=workers * 2)
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            try:
                chunk = work.get(timeout=0.2)
            except queue.Empty:
                continue
            if chunk is None:
                return
            try:
                uploader.send(chunk)
            except BaseException as exc:  # stop everything; the main thread reports it
                errors.append(exc)
                stop.set()
                return

    def put(chunk: list[Item] | None) -> bool:
        # Short timeouts keep the main thread responsive to Ctrl-C and to worker errors.
        while not stop.is_set():
            try:
                work.put(chunk, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    start_session()
    threads = [
        threading.Thread(target=worker, name=f"upload-{n}", daemon=True) for n in range(workers)
    ]
    try:
        for thread in threads:
            thread.start()
        for chunk in chunked(items, chunk_images, chunk_bytes):
            if not put(chunk):
                break
        for _ in threads:
            if not put(None):
                break
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
    except BaseException:
        # Ctrl-C or SIGTERM: stop waits and retries at once; in-flight requests end.
        cancel()
        raise
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if errors:
        first = errors[0]
        if isinstance(first, OsaiImportError):
            raise AbortedError(str(first)) from first
        raise first
