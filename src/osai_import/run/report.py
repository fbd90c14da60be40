"""The run report: JSON for machines, a short summary for people."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from osai_import.check.plan import Plan, read_problems
from osai_import.check.report import SHOW_DEFAULT, first_per_code, print_problem_samples
from osai_import.errors import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    JournalError,
    LocalFileError,
)
from osai_import.records import Problem, Severity
from osai_import.run.feed import Changed, PlanWalk
from osai_import.upload.journal import Journal
from osai_import.upload.setup import CategorySetup
from osai_import.upload.uploader import Tally


@dataclass
class RunReport:
    """Everything a run did, in numbers, with the items that need attention."""

    config: str
    config_sha256: str
    server: str
    dataset_id: Any = None
    dataset_name: str | None = None
    dry_run: bool = False
    read: int = 0
    planned: int = 0
    planned_bytes: int = 0
    skipped_by_code: dict[str, int] = field(default_factory=dict)
    warnings_by_code: dict[str, int] = field(default_factory=dict)
    uploaded: int = 0
    uploaded_bytes: int = 0
    already_uploaded: int = 0
    changed_since_upload: list[Changed] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # Images that may be stored twice, by remote name: every one the journal holds
    # flagged, from this run or an earlier one, until the user resolves it.
    possibly_duplicated: list[dict[str, Any]] = field(default_factory=list)
    possibly_duplicated_new: int = 0
    # Images this config sent earlier that its source no longer has (removed or moved).
    missing_from_source: list[dict[str, str]] = field(default_factory=list)
    categories_created: list[str] = field(default_factory=list)
    categories: dict[str, Any] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    durations: dict[str, float] = field(default_factory=dict)
    aborted: str | None = None
    # The exit code of the error that stopped the run (a source that cannot be read is 1,
    # a server or journal failure 3), so the report says what the command returned.
    aborted_exit_code: int = EXIT_ABORTED
    # Images sent whose answer never came (the run stopped while they were in flight, or
    # their retries ran out after a lost answer), from this run or an earlier one: the
    # server may hold them or not; the next run sends them again and flags them.
    unconfirmed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Why the JSON report (--report) could not be written; the run then exits 3.
    report_error: str | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    # The exception that stopped the run (an OsaiImportError, or KeyboardInterrupt), for
    # code that calls the library; the report's text says it in `aborted`.
    error: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def skipped(self) -> int:
        """Return how many items were skipped for problems."""
        return sum(self.skipped_by_code.values())

    @property
    def exit_code(self) -> int:
        """Return 0 all uploaded, 1 items skipped or failed, else the stopping error's code."""
        if self.aborted:
            return self.aborted_exit_code
        if self.report_error:
            return EXIT_ABORTED
        if self.failed or self.skipped or self.changed_since_upload or self.unconfirmed:
            return EXIT_PROBLEMS
        return EXIT_OK

    def apply_plan(self, plan: Plan) -> None:
        """Take the counts and the problems of the plan (as far as the check went)."""
        self.read = plan.read
        self.planned = plan.planned
        self.planned_bytes = plan.planned_bytes
        problems = read_problems(plan.problems_file)
        self.problems = problems
        skipped: dict[str, int] = {}
        warned: dict[str, int] = {}
        seen_error_items: set[str] = set()
        for p in problems:
            if p["severity"] == "error":
                # An item with two errors is one skipped item: count it under its first code.
                if p["item"] not in seen_error_items:
                    seen_error_items.add(p["item"])
                    skipped[p["code"]] = skipped.get(p["code"], 0) + 1
            else:
                warned[p["code"]] = warned.get(p["code"], 0) + 1
        self.skipped_by_code = skipped
        self.warnings_by_code = warned

    def apply_categories(self, setup: CategorySetup, dataset_id: Any) -> None:
        """Take the categories the setup created, and note those it found existing."""
        for name in setup.reused:
            self.notes.append(
                f"category {name!r} already existed in dataset {dataset_id}; boxes refer to it "
                f"by name, so it was reused"
            )
        self.categories_created.extend(setup.created)
        for name, stored in sorted(setup.renamed.items()):
            self.warnings.append(
                f"the server stores category {name!r} as {stored!r}: the annotations name it "
                f"{stored!r}, so its boxes stay linked to it"
            )

    def apply_walk(self, walk: PlanWalk) -> None:
        """Take what the walk over the checked items passed over."""
        self.already_uploaded = walk.already_uploaded
        self.changed_since_upload = list(walk.changed_since_upload)

    def apply_journal(
        self, journal: Journal, server: str, dataset_id: Any, origin: str, run: int
    ) -> None:
        """Take what the journal holds unsettled for the dataset, this run's and earlier ones.

        A journal that cannot be read (a full disk) leaves a warning instead: the run's own
        error already says why.
        """
        try:
            flagged = journal.flagged(server, dataset_id)
            unsettled = journal.unsettled(server, dataset_id)
            unseen = journal.unseen(server, dataset_id, origin, run)
        except JournalError as exc:
            self.warnings.append(f"the journal's unsettled images could not be listed: {exc}")
            return
        self.possibly_duplicated = [
            {"name": r.name, "item": r.item, "since": _iso(r.flagged or 0.0)} for r in flagged
        ]
        self.unconfirmed = [{"name": r.name, "item": r.item} for r in unsettled]
        self.missing_from_source = [{"name": r.name, "item": r.item} for r in unseen]

    def apply_upload(self, tally: Tally, sessions: int) -> None:
        """Take the counts of what the upload sent and what came of it."""
        self.uploaded = tally.uploaded
        self.uploaded_bytes = tally.uploaded_bytes
        self.failed = dict(tally.failed)
        self.possibly_duplicated_new = len(tally.maybe_duplicated)
        self.retries = dict(tally.retries)
        self.sessions = sessions

    def note_local_server(self, data: Path) -> None:
        """Say where the embedded local server keeps what was sent, and how to look at it."""
        self.notes.append(
            f"The images went to the embedded local server; its data is in "
            f"{data}.\nLook at it: osai-import serve --data "
            f"{data}\nthen open http://127.0.0.1:8080/datasets/{self.dataset_id}\n"
            f"(as JSON: http://127.0.0.1:8080/_emulator/datasets/{self.dataset_id})"
        )

    def throughput(self) -> dict[str, float]:
        """Return images/s and MB/s of the upload phase."""
        seconds = self.durations.get("upload", 0.0)
        if seconds <= 0:
            return {"images_per_second": 0.0, "megabytes_per_second": 0.0}
        return {
            "images_per_second": round(self.uploaded / seconds, 2),
            "megabytes_per_second": round(self.uploaded_bytes / seconds / 1e6, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "config": self.config,
            "config_sha256": self.config_sha256,
            "server": self.server,
            "dataset": {"id": self.dataset_id, "name": self.dataset_name},
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "aborted": self.aborted,
            "counts": {
                "read": self.read,
                "planned": self.planned,
                "skipped": self.skipped,
                "skipped_by_code": self.skipped_by_code,
                "warnings_by_code": self.warnings_by_code,
                "uploaded": self.uploaded,
                "already_uploaded": self.already_uploaded,
                "changed_since_upload": len(self.changed_since_upload),
                "failed": len(self.failed),
                "possibly_duplicated": len(self.possibly_duplicated),
                "possibly_duplicated_new": self.possibly_duplicated_new,
                "unconfirmed": len(self.unconfirmed),
                "missing_from_source": len(self.missing_from_source),
            },
            "bytes": {"planned": self.planned_bytes, "uploaded": self.uploaded_bytes},
            "categories": self.categories,
            "categories_created": self.categories_created,
            "failed": [{"item": k, "reason": v} for k, v in sorted(self.failed.items())],
            "possibly_duplicated": self.possibly_duplicated,
            "unconfirmed": self.unconfirmed,
            "changed_since_upload": [
                {"item": c.item, "name": c.name, "what": c.what}
                for c in sorted(self.changed_since_upload, key=lambda c: c.item)
            ],
            "missing_from_source": self.missing_from_source,
            "retries": self.retries,
            "upload_sessions": self.sessions,
            "durations_seconds": {k: round(v, 3) for k, v in self.durations.items()},
            "throughput": self.throughput(),
            "warnings": self.warnings,
            "notes": self.notes,
            "problems": self.problems,
        }

    def write(self, path: Path) -> None:
        """Write the JSON report atomically."""
        write_json(path, self.to_dict())


def write_json(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file, so a reader never sees half of it.

    Raises LocalFileError naming the path when it cannot be written (a full disk, a folder
    without permission); the temporary file is removed and ``path`` is left as it was.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # A file name that is not UTF-8 holds lone surrogates; backslashreplace writes them
        # as the JSON escape (\udce9) they are, instead of failing the whole report.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise LocalFileError.writing(
            "the report", path, exc, "nothing else is affected: the journal holds what was sent"
        ) from None


def _rows(table: Table, rows: Iterable[tuple[str, Any]]) -> None:
    for name, value in rows:
        table.add_row(name, escape(str(value)))


def print_run_summary(report: RunReport, console: Console, *, show: int = SHOW_DEFAULT) -> None:
    """Print the human summary of a run; ``show`` messages of each problem code."""
    title = "plan (dry run: nothing sent)" if report.dry_run else "upload"
    table = Table(title=f"osai-import {title}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    dataset = report.dataset_name or ""
    if report.dataset_id is not None:
        dataset = f"{dataset} (id {report.dataset_id})".strip()
    rows: list[tuple[str, Any]] = [
        ("server", report.server),
        ("dataset", dataset or "-"),
        ("images read", report.read),
        ("to upload", f"{report.planned} ({report.planned_bytes / 1e6:.1f} MB)"),
        ("categories", _names(report.categories) or "-"),
    ]
    if report.dry_run and report.already_uploaded:
        rows.append(("already uploaded before", report.already_uploaded))
    if report.skipped:
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(report.skipped_by_code.items()))
        rows.append(("skipped", f"{report.skipped} ({codes})"))
    if not report.dry_run:
        speed = report.throughput()
        rows += [
            ("uploaded", (f"{report.uploaded} ({report.uploaded_bytes / 1e6:.1f} MB, "
                          f"{speed['images_per_second']:.1f} images/s)")),
            ("already uploaded before", report.already_uploaded),
            ("failed", len(report.failed)),
        ]
        if report.possibly_duplicated:
            new = report.possibly_duplicated_new
            rows.append(("possibly duplicated", (f"{len(report.possibly_duplicated)} "
                         f"({new} in this run, the rest from earlier runs)")))
        if report.unconfirmed:
            lost = f"{len(report.unconfirmed)} (may be stored; the next run sends them again)"
            rows.append(("sent, answer lost", lost))
        if report.retries:
            retries = ", ".join(f"{k}: {v}" for k, v in sorted(report.retries.items()))
            rows.append(("retries", retries))
    rows.append(("time", f"{report.durations.get('total', 0.0):.1f} s"))
    _rows(table, rows)
    console.print(table)
    # Item names, messages and server words are data, not markup: "[x]" in a file name
    # must print as is, and "[/x]" must not crash the summary.
    for key, reason in sorted(report.failed.items())[:20]:
        console.print(f"[red]failed[/red] {escape(key)}: {escape(reason)}", highlight=False)
    if len(report.failed) > 20:
        console.print(f"... and {len(report.failed) - 20} more failed items (see --report)")
    _print_problems(report, console, show)
    for changed in report.changed_since_upload[:10]:
        console.print(
            f"[yellow]not sent[/yellow] {escape(changed.item)}: the dataset already holds an "
            f"image named {escape(repr(changed.name))} with other {changed.what} (sent by an "
            "earlier run); OSAI's API has no call to replace or delete an image, so sending "
            "this one would store a second image under the same name. Rename the file to "
            "upload it as another image, or upload into a new dataset (another dataset.name, "
            "or --restart)",
            highlight=False,
        )
    if len(report.changed_since_upload) > 10:
        console.print(f"... and {len(report.changed_since_upload) - 10} more changed items "
                      "(see --report)")
    _print_unsettled(report, console)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
    if report.aborted:
        console.print(f"[red]aborted[/red]: {escape(report.aborted)}", highlight=False)
    if report.report_error:
        console.print(f"[red]error[/red]: {escape(report.report_error)}", highlight=False)
    for note in report.notes:
        console.print(escape(note), highlight=False)


def _print_unsettled(report: RunReport, console: Console, limit: int = 10) -> None:
    """Print the images the journal holds unsettled: flagged, unconfirmed, missing."""
    groups = (
        ("[yellow]possibly duplicated[/yellow]", report.possibly_duplicated,
         ("may be stored twice (sent again after an answer was lost): check it in the OSAI "
         "web app and delete the extra copy, then `osai-import resolve CONFIG NAME`")),
        ("[yellow]unconfirmed[/yellow]", report.unconfirmed,
         ("sent, but its answer never came: the server may hold it or not; the next run "
         "sends it again")),
        ("[dim]not in the source[/dim]", report.missing_from_source,
         ("sent by an earlier run of this config, no longer in its source (removed or moved); "
         "it stays on the server")),
    )
    for label, rows, meaning in groups:
        for row in rows[:limit]:
            console.print(f"{label} {escape(row['name'])} ({escape(row['item'])}): {meaning}",
                          highlight=False)
        if len(rows) > limit:
            console.print(f"... and {len(rows) - limit} more (see --report)")


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds")


def _names(names: Iterable[str], limit: int = 12) -> str:
    """Return how many names there are and the first ``limit`` of them: ``3: a, b, c``."""
    listed = list(names)
    if not listed:
        return ""
    shown = ", ".join(listed[:limit])
    more = f", ... {len(listed) - limit} more" if len(listed) > limit else ""
    return f"{len(listed)}: {shown}{more}"


def _print_problems(report: RunReport, console: Console, show: int) -> None:
    """Print the first ``show`` problems of each code, as ``check`` does, then how many more."""
    errors = [p for p in report.problems if p.get("severity") == "error"]
    skipped = {p["item"] for p in errors}
    # Warnings are printed too: an item uploaded under another name (a PNG named .jpg)
    # or with clipped boxes must not change silently. A skipped item's warnings would
    # only blur its error (it is not uploaded, under any name).
    shown = [Problem(p["code"], Severity(p.get("severity", "warning")), p["message"], p["item"])
             for p in report.problems
             if p.get("severity") == "error" or p["item"] not in skipped]
    counts = Counter(p.code for p in shown)
    print_problem_samples(first_per_code(shown, show), counts, console, skipped="skipped")
