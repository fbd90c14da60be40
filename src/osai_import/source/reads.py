"""Hand out a config's record stream: one source's, or several sources' one after another."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from osai_import.plugin.base import Reader
from osai_import.records import ImageRecord, Problem
from osai_import.source.remote import forget_listings

log = logging.getLogger("osai_import.source.reads")


@dataclass(frozen=True)
class NamedSource:
    """A source to read: its label and how to make its reader."""

    label: str
    make_reader: Callable[[], Reader]


class SourceReads:
    """Hand out record streams of a config's sources, and the stream-wide problems of the last.

    Each ``records()`` call makes new readers. With several sources their records come
    one source after another, each key prefixed with its source's label (``train:12``),
    so items keep their source's identity in messages and reports and keys stay unique;
    one source keeps its reader's keys as they are. The problems that belong to no image
    (see ``Reader.source_problems``) come from the readers of the last read.
    """

    def __init__(self, sources: Callable[[], Reader] | Sequence[NamedSource]) -> None:
        self._sources = ([NamedSource("", sources)] if callable(sources) else list(sources))
        self._last: list[tuple[str, Reader]] = []

    def records(self) -> Iterator[ImageRecord]:
        """Return a new stream of the sources' records."""
        # A new read sees buckets as they are now, not as an earlier read listed them.
        forget_listings()
        self._last = []
        if len(self._sources) == 1:
            reader = self._sources[0].make_reader()
            self._last.append(("", reader))
            return reader.records()
        return self._all()

    def _all(self) -> Iterator[ImageRecord]:
        for source in self._sources:
            reader = source.make_reader()
            self._last.append((source.label, reader))
            prefix = f"{source.label}:"
            for record in reader.records():
                yield _prefixed(record, prefix)

    def source_problems(self) -> list[Problem]:
        """Return the last read's problems that concern no single image."""
        found: list[Problem] = []
        for label, reader in self._last:
            try:
                problems = list(reader.source_problems())
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not lose the run's results
                log.warning("the reader's source_problems() failed: %s: %s",
                            type(exc).__name__, exc)
                continue
            for problem in problems:
                if not isinstance(problem, Problem):
                    continue
                if label and problem.item:
                    problem = replace(problem, item=f"{label}:{problem.item}")
                found.append(problem)
        return found


def _prefixed(record: ImageRecord, prefix: str) -> ImageRecord:
    """Return ``record`` with its key, and its problems' items, prefixed."""
    key = prefix + record.key
    problems = tuple(
        replace(p, item=prefix + p.item) if p.item else p for p in record.problems
    )
    return replace(record, key=key, problems=problems)
