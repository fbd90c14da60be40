"""Count what a check found: images, categories, boxes, bytes, problems by code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from osai_import.check.checker import CheckedItem
from osai_import.records import Problem, Severity


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
