"""Count what a preview's summary shows: the whole source from its records, the checked images.

``SourceCounts`` covers every record the reader yields, without opening an image:
images per category, boxes per label, boxes per image, the sizes the source states and
the reader's own problems. ``CheckCounts`` covers the images the preview checked (the
sample, or every image with ``--only-problems``): the check's problems and the sizes
read from the image headers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from osai_import.check.checker import CheckedItem
from osai_import.check.rules import clean_label
from osai_import.records import ImageRecord, Problem, Severity

# Boxes per image are shown in these buckets: (lowest count, highest count or None).
BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 0), (1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, 64), (65, 128), (129, None),
)


def bucket_name(low: int, high: int | None) -> str:
    """Return how a bucket of boxes per image is written: ``0``, ``3-4``, ``129+``."""
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}\u2013{high}"


def histogram(per_image: Counter[int]) -> list[tuple[str, int]]:
    """Return (bucket, images) in bucket order, up to the last bucket with images."""
    rows = []
    for low, high in BUCKETS:
        count = sum(n for boxes, n in per_image.items()
                    if boxes >= low and (high is None or boxes <= high))
        rows.append((bucket_name(low, high), count))
    while rows and rows[-1][1] == 0:
        rows.pop()
    return rows


@dataclass
class ProblemCounts:
    """Problems counted by code, with each code's worst severity."""

    by_code: Counter[str] = field(default_factory=Counter)
    severity: dict[str, str] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        """Count one problem."""
        self.by_code[problem.code] += 1
        if problem.severity is Severity.ERROR:
            self.severity[problem.code] = Severity.ERROR.value
        else:
            self.severity.setdefault(problem.code, problem.severity.value)

    @property
    def total(self) -> int:
        """Return how many problems were counted."""
        return sum(self.by_code.values())


@dataclass
class SourceCounts:
    """Counts over every record of the source, as the reader gives them (no image opened).

    ``categories`` counts images per image-level category, ``boxes_by_label`` boxes per
    label, ``boxes_per_image`` images per number of boxes; ``sizes`` the sizes the
    source states (``sized`` images state one); ``problems`` the reader's own problems,
    the ones that belong to no image included.
    """

    images: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    boxes_by_label: Counter[str] = field(default_factory=Counter)
    boxes_per_image: Counter[int] = field(default_factory=Counter)
    sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    sized: int = 0
    problems: ProblemCounts = field(default_factory=ProblemCounts)
    _clean: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def boxes(self) -> int:
        """Return how many boxes the records hold."""
        return sum(self.boxes_by_label.values())

    def add(self, record: ImageRecord) -> tuple[str | None, list[str]]:
        """Count one record; return its category and box labels as the check names them."""
        self.images += 1
        clean = self._clean
        category = record.category
        if category is not None:
            category = clean.get(category) or self._cleaned(category)
            if category:
                self.categories[category] += 1
        labels = [clean.get(box.label) or self._cleaned(box.label) for box in record.boxes]
        self.boxes_by_label.update(labels)
        self.boxes_per_image[len(labels)] += 1
        if record.width is not None and record.height is not None:
            self.sized += 1
            self.sizes[(record.width, record.height)] += 1
        for problem in record.problems:
            self.problems.add(problem)
        return category or None, labels

    def _cleaned(self, label: str) -> str:
        # A source holds few distinct labels and many boxes: each is cleaned once.
        cleaned = self._clean[label] = clean_label(label)
        return cleaned


@dataclass
class CheckCounts:
    """Counts over the images the preview checked: the check's problems, the header sizes.

    ``problems`` leaves out the reader's problems (``SourceCounts`` has them for every
    record), and adds what the encoder could not write for the images shown.
    """

    checked: int = 0
    ok: int = 0
    sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    problems: ProblemCounts = field(default_factory=ProblemCounts)

    def add(self, item: CheckedItem) -> None:
        """Count one checked item."""
        self.checked += 1
        if item.ok:
            self.ok += 1
        record = item.record
        if record.width is not None and record.height is not None:
            self.sizes[(record.width, record.height)] += 1
        for problem in check_problems(item):
            self.problems.add(problem)


def check_problems(item: CheckedItem) -> tuple[Problem, ...]:
    """Return the problems the check found, without the reader's own (which come first)."""
    return item.problems[len(item.record.problems):]
