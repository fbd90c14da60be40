"""What the `check` and `run` commands do, apart from parsing their options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from osai_import.config.resolve import prepare
from osai_import.source.reads import SourceReads

if TYPE_CHECKING:
    from osai_import.run.context import RunOptions


def _stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def check_command(config_path: Path, report_path: Path | None) -> int:
    """Check every record of a config's source; return the exit code."""
    from osai_import.check.report import ProblemSpool, print_summary, write_report
    from osai_import.check.stream import run_check

    resolved, _plugins = prepare(config_path)
    reading = SourceReads(resolved.reader)
    with ProblemSpool() as spool:
        summary = run_check(
            reading.records,
            resolved.config.check,
            problems_sink=spool.add,
            source_problems=reading.source_problems,
        )
        print_summary(summary, Console(highlight=False))
        if report_path is not None:
            write_report(report_path, summary, spool, resolved.loaded.text_hash)
    return 0 if summary.errors == 0 else 1


def run_command(config_path: Path, options: RunOptions) -> int:
    """Upload what a config describes; print the summary; return the exit code."""
    # Imported here so that `check` does not load the HTTP client and the upload engine.
    from osai_import.run.report import print_run_summary
    from osai_import.run.runner import run

    resolved, _plugins = prepare(config_path)
    console = _stderr_console()
    report = run(resolved, options, console)
    if not options.quiet or report.exit_code != 0:
        print_run_summary(report, console)
    return report.exit_code
