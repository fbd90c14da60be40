"""Validate a record stream before upload: ``Checker`` per record, ``run_check`` for a source.

The rules and their stable problem codes are in ``check_rules`` (documented in
``docs/check.md``); stream-wide name collisions are planned by ``check_names.NamePlan``;
the report and the printed summary are in ``check_report``. The upload engine uses
``Checker`` and ``NamePlan`` directly; ``osai-import check`` calls ``run_check``.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any, Self

from osai_import.check_names import NamePlan
from osai_import.check_report import ProblemSpool, print_summary, write_report
from osai_import.check_rules import (
    CODES,
    check_boxes,
    clean_label,
    fixed_extension,
    invalid_name_reason,
    label_problem,
    normalize,
    to_stored_frame,
)
from osai_import.config import CheckConfig
from osai_import.errors import ItemError
from osai_import.imageinfo import ImageInfo, inspect_image
from osai_import.records import Box, ImageRecord, Problem, Severity

__all__ = [
    "CODES",
    "CheckSummary",
    "CheckedItem",
    "Checker",
    "NamePlan",
    "ProblemSpool",
    "print_summary",
    "run_check",
    "write_report",
]

_ORIENTATION_WORDS = {
    2: "mirrored left-right",
    3: "rotated 180°",
    4: "mirrored top-bottom",
    5: "mirrored and rotated 90° counter-clockwise",
    6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise",
    8: "rotated 90° counter-clockwise",
}


@dataclass(frozen=True)
class CheckedItem:
    """A record after checking: sizes from the header, boxes per policy, name NFC.

    ``record`` is ready for the encoder and the upload (its ``problems`` are still the
    reader's own); ``problems`` holds every problem of the item, the reader's included;
    ``size`` is the file's size in bytes (0 when it is missing).
    """

    record: ImageRecord
    problems: tuple[Problem, ...]
    size: int
    mtime_ns: int | None = None  # the file's, when its header was read

    @property
    def ok(self) -> bool:
        """Return True when no problem is an error (the item can be uploaded)."""
        return all(p.severity is not Severity.ERROR for p in self.problems)


class _PathRefused(Exception):
    """The reader already refused this item's path: do not open it."""


class Checker:
    """Check one record at a time; stateless, so one instance serves many threads."""

    def __init__(self, policy: CheckConfig) -> None:
        self.policy = policy

    def check(self, record: ImageRecord, *, names: NamePlan | None = None) -> CheckedItem:
        """Check a record; with ``names`` (a filled NamePlan) also settle its remote name."""
        item = record.key
        problems = [p if p.item else replace(p, item=item) for p in record.problems]
        name = normalize(record.name)
        if names is not None:
            name, collision = names.resolve(record)
            if collision is not None:
                problems.append(collision)
            repeats = names.repeats(record)
            refused = any(p.severity is Severity.ERROR for p in problems)
            if repeats > 1 and not refused:
                # The journal tracks items by key: two items under one key would share one
                # state, and a rerun could take one for the other and never send it.
                problems.append(
                    Problem(
                        "record.duplicate",
                        Severity.ERROR,
                        f"the source lists this item {repeats} times (same key, under other "
                        "names), so no one can tell which entry its labels belong to; give "
                        "every entry its own id or path",
                        item,
                    )
                )
        reason = invalid_name_reason(name)
        if reason:
            problems.append(
                Problem(
                    "name.invalid",
                    Severity.ERROR,
                    f"the remote name {name!r} {reason}; rename the file (or fix the name in the "
                    "source)",
                    item,
                )
            )
        category = self._category(record, problems)
        # A reader that refused the item's path (outside the dataset, a symlink, a device)
        # points `path` somewhere harmless; opening it would only add a confusing error.
        path_refused = any(
            p.severity is Severity.ERROR and p.code.startswith("path.") for p in problems
        )
        try:
            if path_refused:
                raise _PathRefused
            info = inspect_image(record.path, self.policy.max_pixels)
        except (ItemError, _PathRefused) as exc:
            if isinstance(exc, ItemError):
                problems.append(Problem(exc.code, Severity.ERROR, str(exc), item))
            boxes, box_problems = check_boxes(
                record.boxes, None, None, self.policy.boxes_outside, item
            )
            checked = replace(record, name=name, category=category, boxes=boxes)
            return CheckedItem(checked, tuple(problems + box_problems), _size_or_zero(record))
        boxes = self._frame(record, info, problems)
        self._orientation(record, info, bool(boxes), problems)
        new_name = fixed_extension(name, info.format)
        if new_name is not None:
            problems.append(
                Problem(
                    "image.extension_mismatch",
                    Severity.WARNING,
                    f"{record.path} holds {info.format.upper()} data but its name {name!r} says "
                    f"otherwise; it is uploaded as {new_name!r}. Rename the file to match",
                    item,
                )
            )
            name = new_name
        boxes, box_problems = check_boxes(
            boxes, info.width, info.height, self.policy.boxes_outside, item
        )
        checked = replace(
            record,
            name=name,
            category=category,
            boxes=boxes,
            width=info.width,
            height=info.height,
            depth=info.depth,
        )
        return CheckedItem(checked, tuple(problems + box_problems), info.size, info.mtime_ns)

    @staticmethod
    def _category(record: ImageRecord, problems: list[Problem]) -> str | None:
        if record.category is None:
            return None
        category = clean_label(record.category) or None
        if category is not None and label_problem(category):
            problems.append(
                Problem(
                    "label.invalid",
                    Severity.ERROR,
                    f"the category {category!r} {label_problem(category)}; fix it in the source",
                    record.key,
                )
            )
        return category

    @staticmethod
    def _frame(record: ImageRecord, info: ImageInfo, problems: list[Problem]) -> tuple[Box, ...]:
        """Compare the size the source states with the header; return boxes in the stored frame."""
        stated_w, stated_h = record.width, record.height
        if (stated_w is None or stated_w == info.width) and (
            stated_h is None or stated_h == info.height
        ):
            return record.boxes
        if info.transposed and (stated_w, stated_h) == (info.height, info.width):
            # The source measured the upright image, so its boxes are in that frame too.
            if record.boxes:
                message = (
                    f"the source gives {stated_w}x{stated_h}, the size of the image as shown "
                    f"after its EXIF orientation {info.orientation}, while {record.path} "
                    f"stores {info.width}x{info.height} pixels: its boxes were converted to the "
                    "stored pixel frame that OSAI receives. Check a few of them on the platform"
                )
                problems.append(Problem("box.exif_frame", Severity.WARNING, message, record.key))
            return tuple(
                to_stored_frame(box, info.orientation, info.width, info.height)
                for box in record.boxes
            )
        severity = Severity.ERROR if record.boxes else Severity.WARNING
        consequence = (
            "its boxes may be scaled for another image; fix the size or the boxes in the "
            "source, or replace the image with the one that was annotated"
            if record.boxes
            else "the header's size is used; fix the size in the source"
        )
        problems.append(
            Problem(
                "image.size_mismatch",
                severity,
                f"the source says {_dim(stated_w)}x{_dim(stated_h)} but {record.path} is "
                f"{info.width}x{info.height} pixels: {consequence}",
                record.key,
            )
        )
        return record.boxes

    def _orientation(
        self, record: ImageRecord, info: ImageInfo, has_boxes: bool, problems: list[Problem]
    ) -> None:
        if info.orientation == 1:
            return
        shown = _ORIENTATION_WORDS.get(info.orientation, f"orientation {info.orientation}")
        if not has_boxes:
            problems.append(
                Problem(
                    "image.exif_orientation",
                    Severity.WARNING,
                    f"{record.path} has EXIF orientation {info.orientation} (viewers show it "
                    f"{shown}); it is uploaded unchanged, which is harmless without boxes",
                    record.key,
                )
            )
            return
        error = self.policy.exif_orientation == "error"
        problems.append(
            Problem(
                "image.exif_orientation",
                Severity.ERROR if error else Severity.WARNING,
                f"{record.path} has EXIF orientation {info.orientation} (viewers show it {shown}); "
                f"its boxes are taken in the stored {info.width}x{info.height} pixel frame, as "
                "most annotation tools write them. If they were drawn on the upright image, "
                "re-save the image upright without the EXIF tag (e.g. with `exiftran -ai`)"
                + ("" if error else "; set check.exif_orientation: error to refuse such images"),
                record.key,
            )
        )


def _dim(value: int | None) -> str:
    return "?" if value is None else str(value)


def _size_or_zero(record: ImageRecord) -> int:
    try:
        return record.path.stat().st_size if record.path.is_file() else 0
    except OSError:
        return 0


@dataclass
class CheckSummary:
    """Counts of a check: ``categories``, ``boxes_by_label`` and ``bytes`` cover ok items only."""

    images: int = 0
    ok: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    boxes_by_label: Counter[str] = field(default_factory=Counter)
    problems_by_code: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    warnings: int = 0
    bytes: int = 0
    severity_by_code: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Return how many items have an error (and would not be uploaded)."""
        return self.images - self.ok

    def add(self, item: CheckedItem) -> None:
        """Count one checked item and its problems."""
        self.images += 1
        for problem in item.problems:
            self.add_problem(problem)
        if item.ok:
            self._count_ok(item)

    def add_problem(self, problem: Problem) -> None:
        """Count one problem found outside ``add`` (a stream-wide one)."""
        self.problems_by_code[problem.code] += 1
        if problem.severity is Severity.ERROR:
            self.errors += 1
            self.severity_by_code[problem.code] = Severity.ERROR.value
        else:
            self.warnings += 1
            self.severity_by_code.setdefault(problem.code, problem.severity.value)

    def _count_ok(self, item: CheckedItem) -> None:
        self.ok += 1
        self.bytes += item.size
        if item.record.category:
            self.categories[item.record.category] += 1
        self.boxes_by_label.update(box.label for box in item.record.boxes)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data (counters sorted by count, then name)."""
        return {
            "images": self.images,
            "ok": self.ok,
            "failed": self.failed,
            "errors": self.errors,
            "warnings": self.warnings,
            "bytes": self.bytes,
            "categories": _sorted_counts(self.categories),
            "boxes": sum(self.boxes_by_label.values()),
            "boxes_by_label": _sorted_counts(self.boxes_by_label),
            "problems_by_code": {
                code: {"severity": self.severity_by_code.get(code, "warning"), "count": count}
                for code, count in _sorted_counts(self.problems_by_code).items()
            },
        }


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


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
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        dump = pickle.Pickler(self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        for record in self._records_factory():
            self.names.add(record)
            dump.dump(record)
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
        spool.seek(0)
        names = self.names
        checker = self.checker

        def checked(record: ImageRecord) -> CheckedItem:
            return checker.check(record, names=names)

        yield from _in_order(_replay(spool), checked, self.workers)


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


def _in_order(
    records: Iterable[ImageRecord], work: Callable[[ImageRecord], CheckedItem], workers: int
) -> Iterator[CheckedItem]:
    """Run ``work`` on records in input order; move to ``workers`` threads on slow storage.

    Records are checked in the calling thread while each sample of ``_SAMPLE`` takes less
    than ``_SLOW_READ_SECONDS`` per record on average; once one does not, the rest go to a
    thread pool with few in flight, and results still come in input order.
    """
    iterator = iter(records)
    if workers > 1:
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
