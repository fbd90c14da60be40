"""What the commands do, apart from parsing their options: call the API, print its results.

``check``, ``preview``, ``run``, ``verify`` and ``detect`` call ``osai_import.api`` (the
functions code calls) and only print what comes back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from osai_import.config.resolve import prepare
from osai_import.errors import ConfigError

if TYPE_CHECKING:
    from osai_import.run.context import RunOptions


def stdout_closed() -> None:
    """Point stdout at the null device once its reader went away (``| head``).

    Python flushes stdout at exit; on a closed pipe that flush would fail again and print
    a traceback-like complaint. Whatever is left to print goes nowhere, quietly.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class _StdoutConsole(Console):
    """A console on stdout that goes quiet when its reader goes away, keeping the exit code.

    rich's own answer to a closed pipe is ``SystemExit(1)``, which would turn a clean
    ``check ... | head -1`` into a failure.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        stdout_closed()


def _stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def check_command(config_path: Path, report_path: Path | None,
                  show: int | None = None) -> int:
    """Check every record of a config's source; return the exit code.

    The report is written before anything is printed, so that ``check --report r.json |
    head`` still writes it; ``show`` messages of each problem code are printed.
    """
    from osai_import.api import check
    from osai_import.check.report import SHOW_DEFAULT, first_per_code, print_summary

    shown = SHOW_DEFAULT if show is None else show
    found = check(config_path, report=report_path, problems_per_code=shown)
    samples = first_per_code(found.problems, shown)
    # On `check ... | head` the console goes quiet: the verdict still counts.
    print_summary(found.summary, _StdoutConsole(highlight=False), samples=samples)
    return found.exit_code


def preview_command(config_path: Path, output: Path, limit: int, only_problems: bool,
                    seed: int) -> int:
    """Write a config's preview page; print where, and what it shows; return the exit code."""
    from osai_import.api import preview

    done = preview(config_path, output=output, limit=limit, only_problems=only_problems,
                   seed=seed)
    what = "images with a problem" if only_problems else "images"
    console = _StdoutConsole(highlight=False)
    size = f"{done.bytes / 1e6:.1f} MB" if done.bytes >= 1e6 else f"{done.bytes / 1e3:.0f} KB"
    console.print(f"wrote {done.output} ({size}): {done.shown:,} {what} of "
                  f"{done.images:,}, sampled by category (seed {done.seed}); "
                  f"{done.with_problems:,} shown with a problem. Open it in a browser.",
                  markup=False, soft_wrap=True)
    return done.exit_code


def run_command(config_path: Path, options: RunOptions) -> int:
    """Upload what a config describes; print the summary; return the exit code."""
    # Imported here so that `check` does not load the HTTP client and the upload engine.
    from osai_import.api import upload
    from osai_import.run.report import print_run_summary

    report = upload(config_path, dry_run=options.dry_run, workers=options.workers,
                    restart=options.restart, progress=not options.quiet,
                    report=options.report, raise_errors=False, handle_signals=True)
    console = _stderr_console()
    if not options.quiet or report.exit_code != 0:
        if options.show is None:
            print_run_summary(report, console)
        else:
            print_run_summary(report, console, show=options.show)
    return report.exit_code


def verify_command(config_path: Path, as_json: bool, report_path: Path | None) -> int:
    """Compare the server's copy of a config's dataset with the journal; print; return the code.

    The report is written before anything is printed, as ``check`` does.
    """
    import json

    from osai_import.api import verify
    from osai_import.verify.output import print_verify

    found = verify(config_path, report=report_path)
    if as_json:
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_verify(found, _StdoutConsole(highlight=False))
    return found.exit_code


def resolve_command(config_path: Path, names: tuple[str, ...], resolve_all: bool) -> int:
    """Settle images the user checked on the server; print what was settled; return 0.

    Works from the journal alone, with no network: the user has looked at the images in
    OSAI's web app (and deleted any extra copy), and says each is stored exactly once.
    """
    from osai_import.run.target import server_identity
    from osai_import.upload.journal import locked_journal

    if bool(names) == resolve_all:
        raise ConfigError("name the images to settle, or give --all (not both)")
    resolved, _plugins = prepare(config_path)
    config = resolved.config
    server = server_identity(resolved)
    console = _stderr_console()
    with locked_journal(resolved.loaded.journal_dir) as journal:
        dataset_id = config.dataset.id
        if dataset_id is None:
            assert config.dataset.name is not None
            dataset_id = journal.dataset_id(server, config.dataset.name)
        if dataset_id is None:
            raise ConfigError(
                f"the journal in {resolved.loaded.journal_dir} knows no dataset "
                f"{config.dataset.name!r} on {server}: nothing to settle"
            )
        unsettled = {r.name for r in journal.flagged(server, dataset_id)}
        unsettled |= {r.name for r in journal.unsettled(server, dataset_id)}
        unknown = sorted(set(names) - unsettled)
        if unknown:
            shown = ", ".join(repr(n) for n in unknown[:5])
            raise ConfigError(
                f"not among the unsettled images of dataset {dataset_id}: {shown}; "
                f"`osai-import run` lists them (possibly duplicated, unconfirmed)"
            )
        count = journal.resolve(server, dataset_id, list(names) if names else None)
    console.print(f"{count} image(s) of dataset {dataset_id} settled: the journal now takes "
                  "each as stored exactly once")
    return 0


def detect_command(path_text: str, as_json: bool) -> int:
    """Print every installed reader's verdict on a path, best first; 0 when one matches."""
    import json

    from rich.table import Table
    from rich.text import Text

    from osai_import.api import detect
    from osai_import.detect.verdicts import where

    target = where(path_text)
    verdicts = detect(target)
    found = any(v.matches for v in verdicts)
    if as_json:
        print(json.dumps({"path": str(target), "verdicts": [v.to_dict() for v in verdicts]},
                         indent=2, ensure_ascii=False))
        return 0 if found else 1
    table = Table(title=f"Readers for {target}", title_justify="left", show_lines=True)
    table.add_column("reader")
    table.add_column("confidence", justify="right")
    table.add_column("sources")
    table.add_column("why")
    for verdict in verdicts:
        data = verdict.to_dict()
        style = "green" if verdict.matches else "dim"
        sources = "\n".join(
            ", ".join(f"{k}: {v}" for k, v in s.items()) for s in data["sources"])
        why = verdict.error or "\n".join(data["reasons"])
        table.add_row(Text(verdict.reader, style=style), f"{verdict.confidence:.2f}",
                      Text(sources), Text(why))
    console = _StdoutConsole(highlight=False)
    console.print(table)
    if not found:
        console.print("No installed reader recognises this layout; `osai-import readers` lists "
                      "them, and a plugin can teach a new one (docs/writing-plugins.md).")
    return 0 if found else 1


def init_command(path_text: str, output: Path, force: bool, argv: list[str]) -> int:
    """Write a config for the reader that fits a path best; print what was chosen and why."""
    from osai_import.detect.verdicts import detect_all, where
    from osai_import.detect.writer import config_text, pick, write_config
    from osai_import.plugin.manager import build_plugins

    target = where(path_text)
    verdicts = detect_all(target, build_plugins())
    best, notes = pick(verdicts, path_text)
    config = Path(os.path.abspath(output))
    text = config_text(target, best, notes, verdicts, config, " ".join(argv))
    write_config(text, config, force=force)
    console = _stderr_console()
    assert best.detection is not None
    count = len(best.detection.sources)
    console.print(f"wrote {config}: reader {best.reader} (confidence {best.confidence:.2f}), "
                  f"{count} source{'s' if count > 1 else ''}")
    for note in notes:
        console.print(f"  note: {note}")
    console.print(f"next: osai-import check {output}   then   osai-import run {output}")
    return 0
