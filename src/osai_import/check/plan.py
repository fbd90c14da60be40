"""Plan a run: read the source, check every record, learn every category, count.

A ``Planner`` drives the run's ``CheckRun``: ``read`` (the source, once) tells which
categories the upload needs; ``checked`` is the check's second pass with the run's
accounting (problems to a file, counts, the categories of the items that passed), and
an upload can consume it while it runs, so checking and sending overlap; ``replay`` is
the second pass again, for an upload that had to wait for the whole check. The records
live in the check's spool on disk between the passes, so memory stays flat.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TextIO

from osai_import.check.checker import CheckedItem
from osai_import.check.stream import CheckRun
from osai_import.check.summary import CheckSummary
from osai_import.config.resolve import ResolvedConfig
from osai_import.errors import LocalFileError
from osai_import.records import Problem, Severity
from osai_import.source.files import Facts, what_changed
from osai_import.source.reads import SourceReads


@dataclass
class Plan:
    """What a run will do (or, while the check still runs, what it found so far)."""

    summary: CheckSummary
    categories: list[str] = field(default_factory=list)
    # The categories images are classified by: their ids go into every chunk, whereas box
    # labels reach the server by name inside the VOC annotation.
    image_categories: set[str] = field(default_factory=set)
    read: int = 0
    planned: int = 0
    planned_bytes: int = 0
    problems_file: Path | None = None


class Planner:
    """Read and check a run's source, keeping the run's account of it."""

    def __init__(self, resolved: ResolvedConfig, folder: Path) -> None:
        reading = SourceReads(resolved.named_sources())
        self._check = CheckRun(
            reading.records, resolved.config.check, source_problems=reading.source_problems
        )
        self.problems_path = folder / "problems.jsonl"
        self._problems = _ProblemsFile(self.problems_path)
        self._stream_problems: list[Problem] = []
        self._finished = False
        self.summary = CheckSummary()
        self.labels: set[str] = set()
        self.image_categories: set[str] = set()
        self.planned = 0
        self.planned_bytes = 0
        self._seen: _FactsSpool | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Write what is still unwritten and delete the check's spool."""
        self.finish()
        self._problems.close()
        self._check.close()
        if self._seen is not None:
            self._seen.close()

    @property
    def read_count(self) -> int:
        """Return how many records the source gave."""
        return self._check.records

    def read(self, on_read: Callable[[int], None] | None = None) -> None:
        """Read the source (the check's first pass)."""
        self._stream_problems = self._check.read(on_read)

    def read_categories(self) -> tuple[list[str], set[str]]:
        """Return the categories (and image categories) of every record the reader accepted.

        Known after ``read``, before any image is opened: what an upload that overlaps
        the check creates first. An item refused later (its image is missing, say) may
        leave a category no image uses.
        """
        return sorted(self._check.labels), set(self._check.image_categories)

    def checked(
        self, on_checked: Callable[[int], None] | None = None, *, remember: bool = False
    ) -> Iterator[CheckedItem]:
        """Yield every item checked, in stream order, counting it and writing its problems.

        With ``remember``, the file each item's check read is noted (on disk), so that
        ``replay`` refuses an item whose file is not that one any more.
        """
        if remember:
            self._seen = _FactsSpool()
        for item in self._check.items():
            if self._seen is not None:
                self._seen.add(item.facts)
            self.summary.add(item)
            for problem in item.problems:
                self._write_problem(problem)
            if item.ok:
                record = item.record
                self.labels.update(record.labels)
                if record.category:
                    self.image_categories.add(record.category)
                self.planned += 1
                self.planned_bytes += item.size
            if on_checked is not None and self.summary.images % 250 == 0:
                on_checked(self.summary.images)
            yield item

    def replay(self) -> Iterator[CheckedItem]:
        """Yield every item checked again, without counting (the plan is complete).

        An item whose file is not the one the first check read (replaced, rewritten, turned
        into a symbolic link or a FIFO meanwhile) comes back refused (``image.changed``).
        """
        seen = iter(self._seen) if self._seen is not None else None
        for item in self._check.items():
            first = next(seen, None) if seen is not None else None
            if first is not None and item.ok and item.facts != first:
                assert item.facts is not None  # an item that passed was read
                message = (
                    f"{item.record.path}: the file changed after it was checked "
                    f"({what_changed(first, item.facts)}); it was not sent: run again to "
                    "check and send it as it is now"
                )
                problem = Problem("image.changed", Severity.ERROR, message, item.record.key)
                item = replace(item, problems=(*item.problems, problem))
            yield item

    def finish(self) -> None:
        """Add the problems that belong to no item (once; at the end of the problems)."""
        if self._finished:
            return
        self._finished = True
        for problem in self._stream_problems:
            self.summary.add_problem(problem)
            self._write_problem(problem)
        self._problems.flush()

    def plan(self) -> Plan:
        """Return the plan as far as the check went: complete once ``checked`` ended."""
        self._problems.flush()
        return Plan(
            summary=self.summary,
            categories=sorted(self.labels),
            image_categories=set(self.image_categories),
            read=self.read_count,
            planned=self.planned,
            planned_bytes=self.planned_bytes,
            problems_file=self.problems_path,
        )

    def _write_problem(self, problem: Problem) -> None:
        # ASCII JSON: a message may quote a file name that is not UTF-8 (a lone surrogate),
        # which a UTF-8 text file cannot hold; the escape reads back to the same text.
        self._problems.write(json.dumps(problem.to_dict()) + "\n")


class _FactsSpool:
    """The file facts of each checked item, in stream order, on disk (memory stays flat)."""

    def __init__(self) -> None:
        try:
            self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise _spool_error(exc) from None
        self._dump = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def add(self, facts: Facts | None) -> None:
        try:
            self._dump.dump(facts)
        except OSError as exc:
            raise _spool_error(exc) from None
        self._dump.clear_memo()

    def __iter__(self) -> Iterator[Facts | None]:
        try:
            self._file.seek(0)
        except OSError as exc:
            raise _spool_error(exc) from None
        while True:
            try:
                yield pickle.load(self._file)
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()


def _spool_error(exc: OSError) -> LocalFileError:
    return LocalFileError.writing(
        "the check's notes of the files it read", tempfile.gettempdir(), exc,
        "free some space there, or point TMPDIR to a folder with room",
    )


class _ProblemsFile:
    """The run's problems, one JSON line each; a failed write is one clear error, once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._broken = False
        try:
            self._file: TextIO = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> LocalFileError:
        self._broken = True
        return LocalFileError.writing(
            "the run's list of problems", self.path, exc,
            "free some space or fix the journal folder's permissions, then run again",
        )

    def write(self, line: str) -> None:
        try:
            self._file.write(line)
        except OSError as exc:
            raise self._error(exc) from None

    def flush(self) -> None:
        if self._broken:
            return  # already said; the run is stopping
        try:
            self._file.flush()
        except OSError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            if not self._broken:
                raise self._error(exc) from None


def read_problems(path: Path | None, limit: int | None = None) -> list[dict[str, str]]:
    """Return the problems a plan wrote (the first ``limit`` ones)."""
    if path is None or not path.exists():
        return []
    out: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if limit is not None and len(out) >= limit:
                break
    return out

