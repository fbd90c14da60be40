"""What every step of one run shares, in one object instead of long argument lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from osai_import.config.models import RunConfig
from osai_import.config.resolve import ResolvedConfig
from osai_import.run.events import UploadEvent
from osai_import.run.report import RunReport
from osai_import.upload.journal import Journal


@dataclass
class RunOptions:
    """Command-line choices that override or complete the config."""

    dry_run: bool = False
    report: Path | None = None
    workers: int | None = None
    restart: bool = False
    quiet: bool = False
    show: int | None = None  # messages printed per problem code (None: the default)


@dataclass
class RunContext:
    """One run's config, command-line options, console, journal, report and access token."""

    resolved: ResolvedConfig
    options: RunOptions
    console: Console
    journal: Journal
    report: RunReport
    # None for the embedded local server, which makes its own; never in a repr or a log.
    token: str | None = field(repr=False)
    on_event: Callable[[UploadEvent], None] | None = None

    def emit(self, event: UploadEvent) -> None:
        """Hand ``event`` to the watcher, if any (from whichever thread it happens in)."""
        if self.on_event is not None:
            self.on_event(event)

    @property
    def config(self) -> RunConfig:
        """Return the run's config."""
        return self.resolved.config

    @property
    def workers(self) -> int:
        """Return how many requests go in parallel (the option, else the config)."""
        return self.options.workers or self.config.upload.workers
