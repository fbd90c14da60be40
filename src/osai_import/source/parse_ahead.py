"""Parse Pascal VOC files in a helper process, ahead of a reader that walks a dataset.

Parsing the XML is most of the time a reader spends on a folder of images with VOC
sidecars, and while it reads, before the upload starts, the machine's other cores are
idle. ``VocAhead`` hands batches of files to one forked helper process and gives each
batch's results back in order; the reader builds its records from them unchanged.

It is a speed-up only: where a helper process is unsafe or pointless (one core, no
``fork``, other threads running in this process, a small batch) or the helper fails,
``submit`` returns None and the reader parses the files itself, with the same results.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from osai_import.errors import ItemError
from osai_import.location import SourcePath
from osai_import.source.files import read_all
from osai_import.source.voc import VocAnnotation, parse_voc

log = logging.getLogger("osai_import.source.parse_ahead")

# (annotation, None, None) for a file parsed, (None, code, message) for an ItemError.
VocResult = tuple[VocAnnotation | None, str | None, str | None]
# Below this many files a batch is parsed in place: a process round trip costs more.
MIN_BATCH = 64


def parse_voc_batch(jobs: Sequence[tuple[str | SourcePath, str]]) -> list[VocResult]:
    """Parse ``(path, source)`` VOC files; an ItemError becomes its code and message.

    Files in archives and buckets (``SourcePath``) are fetched together first, by a pool
    of threads (``read_all``), then parsed here.
    """
    stored = [path for path, _source in jobs if isinstance(path, SourcePath)]
    fetched = dict(zip(stored, read_all(stored), strict=True)) if stored else {}
    out: list[VocResult] = []
    for path, source in jobs:
        data: bytes | str | SourcePath = path
        if isinstance(path, SourcePath):
            got = fetched[path]
            if not isinstance(got, bytes):
                reason = got.strerror if isinstance(got, OSError) and got.strerror else got
                message = f"{source}: cannot read the XML file: {reason}"
                out.append((None, "xml.unreadable", message))
                continue
            data = got
        try:
            assert not isinstance(data, SourcePath)
            out.append((parse_voc(data, source=source), None, None))
        except ItemError as exc:
            out.append((None, exc.code, str(exc)))
    return out


class VocAhead:
    """One helper process parsing batches of VOC files; ``close`` it when done."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._off = not _usable()

    def submit(self, jobs: list[tuple[str, str]]) -> Future[list[VocResult]] | None:
        """Start parsing ``jobs`` in the helper; None when the caller should parse them."""
        if self._off or len(jobs) < MIN_BATCH:
            return None
        try:
            if self._pool is None:
                # Forked, so the helper starts in milliseconds with everything imported.
                context = multiprocessing.get_context("fork")
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_ignore_interrupts
                )
            return self._pool.submit(parse_voc_batch, jobs)
        except (OSError, RuntimeError, BrokenProcessPool) as exc:
            self._give_up(exc)
            return None

    def results(
        self, future: Future[list[VocResult]] | None, jobs: list[tuple[str, str]]
    ) -> dict[str, VocResult] | None:
        """Return the results of ``future`` by path; None when the caller should parse."""
        if future is None:
            return None
        try:
            found = future.result()
        except Exception as exc:  # noqa: BLE001 - the helper died: parse in place instead
            self._give_up(exc)
            return None
        return {path: result for (path, _), result in zip(jobs, found, strict=True)}

    def close(self) -> None:
        """Stop the helper process."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _give_up(self, exc: BaseException) -> None:
        log.info("parsing VOC files in this process from now on (helper process: %s)", exc)
        self._off = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the run stops the helper itself, and a
    # helper dying of it would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _usable() -> bool:
    # Forking a process that runs other threads can copy a lock some thread holds.
    return (
        (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and os.environ.get("OSAI_IMPORT_NO_HELPER_PROCESS", "") in ("", "0")
    )
