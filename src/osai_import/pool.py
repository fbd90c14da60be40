"""The worker pool of an upload: a bounded queue of chunks and N threads sending them.

The main thread turns the plan into chunks; workers read, encode and send them. The
queue holds at most two chunks per worker, so memory stays flat whatever the dataset's
size. The upload session starts before the first chunk, even when nothing is left to
send: StartUploading is the one call that proves the dataset still exists on the server
(OSAI has no documented way to look a dataset up), so a rerun never reports images as
"already uploaded" into a dataset that is gone.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from osai_import.engine import Item, Uploader, chunked
from osai_import.errors import AbortedError, OsaiImportError
from osai_import.journal import Journal


@dataclass
class PlanWalk:
    """What the walk over the plan found besides the items to send."""

    already_uploaded: int = 0
    changed_since_upload: list[str] | None = None


def pending_items(journal: Journal, server: str, dataset_id: object, walk: PlanWalk) -> Iterator[Item]:
    """Yield the planned items the server has not acknowledged, counting the others."""
    walk.changed_since_upload = walk.changed_since_upload or []
    for record, size, fp, state, acked_fp in journal.iter_plan(server, dataset_id):  # type: ignore[arg-type]
        if state == "acked":
            if acked_fp == fp:
                walk.already_uploaded += 1
            else:
                # OSAI's API cannot replace an image: say so rather than store a second one.
                walk.changed_since_upload.append(record.key)
            continue
        # Marked `sent` by a run that died before the answer: it may be stored already.
        yield Item(record, size, fp, resent=state is not None)


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
