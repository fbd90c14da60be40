"""Hand out a source's record streams, keeping the problems of the last read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from osai_import.plugin.base import Reader
from osai_import.records import ImageRecord, Problem

log = logging.getLogger("osai_import.source.reads")


class SourceReads:
    """Hand out record streams of a source, and the stream-wide problems of the last one.

    Each ``records()`` call makes a new reader with ``make_reader``; the problems that
    belong to no image (see ``Reader.source_problems``) come from the reader that did the
    last read.
    """

    def __init__(self, make_reader: Callable[[], Reader]) -> None:
        self._make_reader = make_reader
        self._last: Reader | None = None

    def records(self) -> Iterator[ImageRecord]:
        """Return a new stream of the source's records."""
        self._last = self._make_reader()
        return self._last.records()

    def source_problems(self) -> list[Problem]:
        """Return the last read's problems that concern no single image."""
        if self._last is None:
            return []
        try:
            found = list(self._last.source_problems())
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not lose the run's results
            log.warning("the reader's source_problems() failed: %s: %s", type(exc).__name__, exc)
            return []
        return [p for p in found if isinstance(p, Problem)]
