"""Check a whole record stream: read the source once, then check every record in order.

``CheckRun`` is the two passes (the source read and spooled, then each record checked
with its final name); ``run_check`` drives them for ``osai-import check`` and sums the
result up. The upload reuses ``CheckRun`` through ``check.plan.Planner``.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Self

from osai_import.check.checker import CheckedItem, Checker
from osai_import.check.names import NamePlan
from osai_import.check.rules import clean_label, label_problem
from osai_import.check.summary import CheckSummary
from osai_import.config.models import CheckConfig
from osai_import.errors import LocalFileError
from osai_import.location import SourcePath
from osai_import.records import ImageRecord, Problem, Severity


class CheckRun:
    """One check of a source: the source is read once, its records are checked in a second pass.

    ``read`` (the first pass) reads the source, learns every remote name and key (hashes
    only, no image opened) and spools the records to a temporary file; ``items`` (the
    second pass, which may be repeated) replays the spool and yields each record checked,
    with its final name and its collision problem, in stream order. Use it as a context
    manager: the spool is deleted on exit.
    """

    def __init__(
        self,
        records_factory: Callable[[], Iterable[ImageRecord]],
        policy: CheckConfig,
        *,
        workers: int = 4,
        source_problems: Callable[[], Iterable[Problem]] | None = None,
    ) -> None:
        self._records_factory = records_factory
        self._source_problems = source_problems
        self.policy = policy
        self.workers = workers
        self.checker = Checker(policy)
        self.names = NamePlan(policy)
        self.records = 0
        # Labels of the records the reader accepted, normalized as the check does: the
        # categories an upload must create before its first image (see ``read``).
        self.labels: set[str] = set()
        self.image_categories: set[str] = set()
        self._spool: IO[bytes] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the spool."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def read(self, on_read: Callable[[int], None] | None = None) -> list[Problem]:
        """Read the source (the first pass); return its problems that belong to no item.

        ``on_read`` is called now and then with the number of records read so far.
        """
        if self._spool is not None:
            raise RuntimeError("CheckRun.read called twice")
        # Reading a large source twice was most of a run's planning time: the first pass
        # spools each record to disk while it learns the names, the second replays it.
        try:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise _spool_error(exc) from None
        dump = pickle.Pickler(self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        for record in self._records_factory():
            self.names.add(record)
            try:
                dump.dump(record)
            except OSError as exc:
                raise _spool_error(exc) from None
            # Without this the pickler remembers every object it wrote, in memory.
            dump.clear_memo()
            self.records += 1
            if not any(p.severity is Severity.ERROR for p in record.problems):
                category, labels = _labels(record)
                self.labels.update(labels)
                if category is not None:
                    self.image_categories.add(category)
            if on_read is not None and self.records % 1000 == 0:
                on_read(self.records)
        self.names.freeze()
        # Problems that belong to no item (an annotation for an image the source lacks)
        # are known once the read is over.
        return list(self._source_problems()) if self._source_problems is not None else []

    def items(self) -> Iterator[CheckedItem]:
        """Yield every record checked, in stream order (the second pass; repeatable)."""
        if self._spool is None:
            raise RuntimeError("CheckRun.items called before read")
        spool = self._spool
        try:
            spool.seek(0)
        except OSError as exc:
            raise _spool_error(exc) from None
        names = self.names
        checker = self.checker

        def checked(record: ImageRecord) -> CheckedItem:
            return checker.check(record, names=names)

        yield from _in_order(_replay(spool), checked, self.workers)


def _spool_error(exc: OSError) -> LocalFileError:
    return LocalFileError.writing(
        "the check's spool of records", tempfile.gettempdir(), exc,
        "free some space there, or point TMPDIR to a folder with room",
    )


def _labels(record: ImageRecord) -> tuple[str | None, set[str]]:
    """Return the category and the labels the check would keep, before the image is read."""
    found: set[str] = set()
    category = clean_label(record.category) if record.category is not None else None
    if category and not label_problem(category):
        found.add(category)
    else:
        category = None
    for box in record.boxes:
        label = clean_label(box.label)
        if label and not label_problem(label) and box.width > 0 and box.height > 0:
            found.add(label)
    return category, found


def run_check(
    records_factory: Callable[[], Iterable[ImageRecord]],
    policy: CheckConfig,
    *,
    on_item: Callable[[CheckedItem], None] | None = None,
    problems_sink: Callable[[Problem], None] | None = None,
    workers: int = 4,
    source_problems: Callable[[], Iterable[Problem]] | None = None,
) -> CheckSummary:
    """Check every record of a source and return the summary; memory stays flat.

    The source is read once (see ``CheckRun``). ``on_item`` and ``problems_sink`` are
    called in stream order, from the calling thread, with final items (what an upload
    sends); the problems that belong to no item come last.
    """
    summary = CheckSummary()
    with CheckRun(records_factory, policy, workers=workers, source_problems=source_problems) as run:
        stream_problems = run.read()
        for item in run.items():
            summary.add(item)
            if problems_sink is not None:
                for problem in item.problems:
                    problems_sink(problem)
            if on_item is not None:
                on_item(item)
    for problem in stream_problems:
        summary.add_problem(problem)
        if problems_sink is not None:
            problems_sink(problem)
    return summary


def _replay(spool: IO[bytes]) -> Iterator[ImageRecord]:
    """Yield the records pickled one after another into ``spool``."""
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


# Reading image headers from a local disk (or the page cache) takes tens of microseconds:
# threads would only fight over the GIL and make it slower. Storage that answers slower
# than this per image on average (a network share) gets the thread pool.
_SLOW_READ_SECONDS = 0.001
_SAMPLE = 64
# Images in archives and buckets are checked this many at a time from the start: a
# bucket answers each read after a round trip, which threads overlap.
_STORED_WORKERS = 32


def _in_order(
    records: Iterable[ImageRecord], work: Callable[[ImageRecord], CheckedItem], workers: int
) -> Iterator[CheckedItem]:
    """Run ``work`` on records in input order; move to ``workers`` threads on slow storage.

    Records are checked in the calling thread while each sample of ``_SAMPLE`` takes less
    than ``_SLOW_READ_SECONDS`` per record on average; once one does not, the rest go to a
    thread pool with few in flight, and results still come in input order.
    """
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        return
    iterator = itertools.chain([first], iterator)
    if isinstance(getattr(first, "path", None), SourcePath):
        # Archives and buckets: every image is read whole, a bucket's over the network.
        workers = max(workers, _STORED_WORKERS)
    elif workers > 1:
        while True:
            # Only the work is timed: the consumer's time between items is not storage's.
            spent = 0.0
            done = 0
            for record in itertools.islice(iterator, _SAMPLE):
                started = time.perf_counter()
                item = work(record)
                spent += time.perf_counter() - started
                yield item
                done += 1
            if done < _SAMPLE:
                return
            if spent / done > _SLOW_READ_SECONDS:
                break
    else:
        yield from map(work, iterator)
        return
    window = workers * 4
    pending: deque[Future[CheckedItem]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="osai-check") as pool:
        try:
            for record in iterator:
                pending.append(pool.submit(work, record))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
