"""Progress on stderr: a live bar on a terminal, nothing animated otherwise."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from osai_import.upload.retry import RetryEvent


class _RateColumn(ProgressColumn):
    """Images per second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:.1f} img/s" if speed else "- img/s")


class UploadProgress:
    """Show images and bytes done of total, rate, ETA and failures so far."""

    def __init__(
        self, console: Console, total_images: int, total_bytes: int | None, enabled: bool
    ) -> None:
        # A notebook's output shows rich's live bar as well as a terminal does.
        self.enabled = enabled and (console.is_terminal or console.is_jupyter)
        self._lock = threading.Lock()
        self.failures = 0
        self.done_bytes = 0
        # Unknown while the check still runs alongside the upload.
        self.total_mb = None if total_bytes is None else total_bytes / 1e6
        self._progress: Progress | None = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]upload"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("images, {task.fields[mb]}"),
                _RateColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[failures]} failed"),
                console=console,
            )
            self._task = self._progress.add_task(
                "upload", total=total_images, failures=0, mb=self._mb()
            )

    def _mb(self) -> str:
        if self.total_mb is None:
            return f"{self.done_bytes / 1e6:.1f} MB"
        return f"{self.done_bytes / 1e6:.1f}/{self.total_mb:.1f} MB"

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, images: int, sent_bytes: int, failed: int = 0) -> None:
        """Count ``images`` done (uploaded or failed), of which ``failed`` failed."""
        if self._progress is None:
            return
        with self._lock:
            self.failures += failed
            self.done_bytes += sent_bytes
            self._progress.update(
                self._task, advance=images, failures=self.failures, mb=self._mb()
            )


class RetryNotices:
    """Say on the console what a long wait waits for: the call retried, why, and for how long.

    Without it a server that answers 503 for a minute looks like a hang. Only pauses of
    ``min_delay`` seconds or more are shown, and at most one line per ``every`` seconds,
    so that a busy upload retrying a chunk now and then stays quiet.
    """

    def __init__(self, console: Console, enabled: bool, *, min_delay: float = 1.0,
                 every: float = 2.0) -> None:
        self.console, self.enabled = console, enabled
        self.min_delay, self.every = min_delay, every
        self._lock = threading.Lock()
        self._last = float("-inf")

    def show(self, event: RetryEvent) -> None:
        """Print one line for ``event`` when it is a long pause and none was shown lately."""
        if not self.enabled or event.delay < self.min_delay:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every:
                return
            self._last = now
        self.console.print(
            f"[yellow]waiting[/yellow] {event.delay:.1f} s to retry {escape(event.endpoint)} "
            f"(try {event.attempt} of {event.attempts} failed: {escape(event.reason)})",
            highlight=False)
