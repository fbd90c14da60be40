"""Plan a run: check every record, learn every category, count images and bytes.

The checked records go to the journal's plan table on disk, not to memory, so that the
upload phase streams them back and memory stays flat whatever the dataset's size.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from osai_import.check import CheckedItem, CheckSummary, run_check
from osai_import.config import ResolvedConfig, SourceReads
from osai_import.journal import Journal
from osai_import.records import ImageRecord, Problem, Severity

_PLAN_BATCH = 500
log = logging.getLogger("osai_import.plan")


def fingerprint(record: ImageRecord, size: int) -> str:
    """Return a cheap fingerprint of what would be sent for ``record``.

    It covers the remote name, the labels, the boxes and the file's size and mtime: enough
    to notice that an item changed since it was uploaded without hashing every image.
    """
    try:
        mtime = record.path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    parts = [record.name, record.category or "", str(size), str(mtime)]
    parts.extend(
        f"{b.label}|{b.xmin!r}|{b.ymin!r}|{b.xmax!r}|{b.ymax!r}|{b.difficult:d}{b.truncated:d}"
        f"{b.occluded:d}|{b.pose}"
        for b in record.boxes
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass
class Plan:
    """What a run will do, before it talks to any server."""

    summary: CheckSummary
    categories: list[str] = field(default_factory=list)
    # The categories images are classified by: their ids go into every chunk, whereas box
    # labels reach the server by name inside the VOC annotation.
    image_categories: set[str] = field(default_factory=set)
    planned: int = 0
    planned_bytes: int = 0
    problems_file: Path | None = None

    @property
    def has_errors(self) -> bool:
        """Return True when some item has an error-severity problem."""
        return self.summary.errors > 0

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data for reports."""
        return {
            "images_to_upload": self.planned,
            "bytes_to_upload": self.planned_bytes,
            "categories": self.categories,
            "check": self.summary.to_dict(),
        }


class _PlanWriter:
    """Collect checked items into the journal's plan table, a batch at a time."""

    def __init__(
        self, journal: Journal, problems: TextIO, on_checked: Callable[[int], None] | None = None
    ) -> None:
        self.journal = journal
        self.on_checked = on_checked
        self.checked = 0
        self.problems = problems
        self.rows: list[tuple[int, ImageRecord, int, str]] = []
        self.seq = 0
        self.labels: set[str] = set()
        self.image_categories: set[str] = set()
        self.planned = 0
        self.planned_bytes = 0
        self.keys: list[str] = []

    def on_item(self, item: CheckedItem) -> None:
        self.checked += 1
        if self.on_checked is not None and self.checked % 250 == 0:
            self.on_checked(self.checked)
        self.keys.append(item.record.key)
        if not item.ok:
            if len(self.keys) >= _PLAN_BATCH:
                self.flush()
            return
        record = item.record
        self.labels.update(record.labels)
        if record.category:
            self.image_categories.add(record.category)
        self.rows.append((self.seq, record, item.size, fingerprint(record, item.size)))
        self.seq += 1
        self.planned += 1
        self.planned_bytes += item.size
        if len(self.rows) >= _PLAN_BATCH:
            self.flush()

    def on_problem(self, problem: Problem) -> None:
        # ASCII JSON: a message may quote a file name that is not UTF-8 (a lone surrogate),
        # which a UTF-8 text file cannot hold; the escape reads back to the same text.
        self.problems.write(json.dumps(problem.to_dict()) + "\n")

    def flush(self) -> None:
        if self.rows:
            self.journal.add_plan(self.rows)
            self.rows = []
        if self.keys:
            self.journal.add_plan_keys(self.keys)
            self.keys = []

    def drop_repeated_keys(self, summary: CheckSummary) -> None:
        """Take out of the plan every item whose key the source gave more than once.

        The journal tracks items by key: two items under one key would share one state,
        and a rerun could take one for the other, already uploaded, and never send it. The
        check step refuses repeated keys it sees; this guards the journal against any
        reader whatever the check did (a repeated key with another name, for instance).
        """
        for key, count, size in self.journal.repeated_planned_keys():
            self.journal.drop_from_plan(key)
            self.planned -= count
            self.planned_bytes -= size
            summary.ok -= count
            summary.bytes -= size
            problem = Problem(
                "record.duplicate", Severity.ERROR,
                f"the source lists the item {key!r} more than once (same key, maybe under "
                "other names), so no one can tell which entry its labels belong to; give "
                "every entry its own id or path",
                key,
            )
            summary.add_problem(problem)
            self.on_problem(problem)


def make_plan(
    resolved: ResolvedConfig,
    journal: Journal,
    on_checked: Callable[[int], None] | None = None,
) -> Plan:
    """Check every record of the source and store the uploadable ones in the journal.

    ``on_checked`` is called now and then with the number of items checked so far.
    """
    journal.clear_plan()
    problems_path = journal.folder / "problems.jsonl"
    reading = SourceReads(resolved)
    with problems_path.open("w", encoding="utf-8") as problems:
        writer = _PlanWriter(journal, problems, on_checked)
        summary = run_check(
            reading.records,
            resolved.config.check,
            on_item=writer.on_item,
            problems_sink=writer.on_problem,
            source_problems=reading.source_problems,
        )
        writer.flush()
        writer.drop_repeated_keys(summary)
    return Plan(
        summary=summary,
        categories=sorted(writer.labels),
        image_categories=writer.image_categories,
        planned=writer.planned,
        planned_bytes=writer.planned_bytes,
        problems_file=problems_path,
    )


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


def is_error(problem: dict[str, str]) -> bool:
    """Return True for an error-severity problem read back from the problems file."""
    return problem.get("severity") == Severity.ERROR.value
