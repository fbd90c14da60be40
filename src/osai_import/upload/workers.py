"""The worker pool of an upload: a bounded queue of chunks and N threads sending them.

The main thread turns the items to send into chunks (the check may still be running: it
is the producer); workers read, encode and send them. The queue holds at most two chunks
per worker, so memory stays flat whatever the dataset's size. The upload session starts
before the first chunk, even when nothing is left to send: StartUploading is the one call
that proves the dataset still exists on the server (OSAI has no documented way to look a
dataset up), so a rerun never reports images as "already uploaded" into a dataset that
is gone.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction

from osai_import.errors import AbortedError, OsaiImportError
from osai_import.upload.limits import ChunkLimits
from osai_import.upload.uploader import Item, Uploader


def send_all(
    items: Iterator[Item],
    uploader: Uploader,
    *,
    workers: int,
    limits: ChunkLimits,
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
            except BaseException as exc:  # noqa: BLE001 - stop everything; the main thread reports it
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

    # The workers' connections open while StartUploading is in flight, not after it.
    hand_over = uploader.client.warm(workers)
    try:
        start_session()
    finally:
        hand_over()
    threads = [
        threading.Thread(target=worker, name=f"upload-{n}", daemon=True) for n in range(workers)
    ]
    try:
        for thread in threads:
            thread.start()
        for chunk in chunked(items, limits, stagger=workers):
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
        if errors and not isinstance(errors[0], Exception):
            # An interrupt met in a worker (raised by a progress callback) stops the
            # upload as one in the main thread does: requests in flight end now.
            cancel()
        for thread in threads:
            thread.join()
    if errors:
        first = errors[0]
        if isinstance(first, OsaiImportError):
            raise AbortedError(str(first)) from first
        raise first


def chunked(items: Iterator[Item], limits: ChunkLimits, *, stagger: int = 1
            ) -> Iterator[list[Item]]:
    """Group items by count and by bytes, as ``limits`` allow when each chunk is begun.

    An item larger than the byte limit goes alone. Equal chunks of many bytes, sent at
    once by n workers (``stagger``), end together: every worker then waits for its answer
    at the same moment and the link idles. So the first n - 1 chunks get 1/n, 2/n ... of
    the byte limit, keeping the workers out of step, and the last bytes are cut into up
    to n chunks of at least 1/n of it, so that the server stores one while the others
    travel. Chunks held back by their image count (small images, where a request's
    round trip matters more than its bytes) are left whole.
    """
    chunk: list[Item] = []
    size = made = 0

    def current() -> tuple[int, int]:
        max_images, max_bytes = limits.current()
        if made + 1 < stagger:
            max_bytes = max(1, int(max_bytes * Fraction(made + 1, stagger)))
        return max_images, max_bytes

    max_images, max_bytes = current()
    for item in items:
        # The multipart envelope and base64 annotations add a little to each image.
        weight = item.size + 512
        if chunk and (len(chunk) >= max_images or size + weight > max_bytes):
            yield chunk
            made += 1
            chunk, size = [], 0
            max_images, max_bytes = current()
        chunk.append(item)
        size += weight
    share = limits.current()[1] / max(stagger, 1)
    pieces = max(1, min(stagger, len(chunk), int(size // share)))
    for k in range(pieces if chunk else 0):
        yield chunk[k * len(chunk) // pieces:(k + 1) * len(chunk) // pieces]
