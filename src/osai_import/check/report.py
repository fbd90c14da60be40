"""Keep, write and print what a check found: a spool of problems, the JSON report, a summary."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Self

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from osai_import.check.summary import CheckSummary
from osai_import.codes import CODES
from osai_import.errors import LocalFileError
from osai_import.records import Problem, Severity
from osai_import.version import __version__

REPORT_KIND = "osai-import check report"
REPORT_VERSION = 1
_SPOOL_IN_MEMORY = 1 << 20
SHOW_DEFAULT = 3  # messages shown per problem code on the console (--show)


class ProblemSpool:
    """Collect problems on disk (in memory while small) and read them back in order.

    Pass ``spool.add`` as ``run_check``'s ``problems_sink`` and the spool itself as
    ``write_report``'s ``problems``: memory stays flat however many problems there are.
    """

    def __init__(self) -> None:
        # Open for the spool's whole life; close() or the context manager ends it.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=_SPOOL_IN_MEMORY
        )
        self._count = 0

    def add(self, problem: Problem) -> None:
        """Append one problem."""
        line = json.dumps(problem.to_dict(), ensure_ascii=False) + "\n"
        self._file.write(line.encode("utf-8", "surrogatepass"))
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Problem]:
        self._file.flush()
        self._file.seek(0)
        try:
            for line in self._file:
                data = json.loads(line.decode("utf-8", "surrogatepass"))
                yield Problem(
                    data["code"], Severity(data["severity"]), data["message"], data["item"]
                )
        finally:
            self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        """Delete the spool's temporary file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_report(
    path: str | os.PathLike[str],
    summary: CheckSummary,
    problems: Iterable[Problem],
    config_hash: str,
) -> None:
    """Write the JSON report: the summary, then every problem, streamed; replace atomically."""
    path = Path(path)
    head: dict[str, Any] = {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "tool_version": __version__,
        "config_hash": config_hash,
        "ok": summary.errors == 0,
        "summary": summary.to_dict(),
        "codes": {code: CODES[code] for code in sorted(summary.problems_by_code) if code in CODES},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LocalFileError.writing("the report", path, exc, "free some space or choose "
                                     "another --report path") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write("{\n")
            for key, value in head.items():
                text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
                out.write(f"  {json.dumps(key)}: {text},\n")
            out.write('  "problems": [')
            for index, problem in enumerate(problems):
                out.write(",\n    " if index else "\n    ")
                out.write(json.dumps(problem.to_dict(), ensure_ascii=False))
            out.write("\n  ]\n}\n")
        os.replace(tmp_name, path)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise LocalFileError.writing("the report", path, exc, "free some space or choose "
                                         "another --report path") from None
        raise


def human_bytes(count: int) -> str:
    """Return a byte count as a short human string (1.5 MB)."""
    value = float(count)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def first_per_code(problems: Iterable[Problem], show: int) -> dict[str, list[Problem]]:
    """Return the first ``show`` problems of each code, in the order they came (one pass)."""
    kept: dict[str, list[Problem]] = {}
    if show <= 0:
        return kept
    for problem in problems:
        found = kept.setdefault(problem.code, [])
        if len(found) < show:
            found.append(problem)
    return kept


def print_problem_samples(samples: Mapping[str, list[Problem]], counts: Mapping[str, int],
                          console: Console, *, skipped: str = "error") -> None:
    """Print the kept messages of each code (errors first, then as met), and how many more.

    ``check`` and ``run`` print problems the same way: the line starts with what happens
    to the item (``skipped`` for an error, ``warning`` otherwise), then its name, its
    code and the message. Names and messages are data, never markup.
    """
    def rank(code: str) -> int:
        return 0 if any(p.severity is Severity.ERROR for p in samples[code]) else 1

    for code in sorted(samples, key=rank):  # stable: codes keep the order they were met in
        shown = samples[code]
        for problem in shown:
            label = (f"[yellow]{skipped}[/yellow]" if problem.severity is Severity.ERROR
                     else "[dim]warning[/dim]")
            console.print(f"{label} {escape(problem.item)}: {escape(f'[{code}]')} "
                          f"{escape(problem.message)}", highlight=False)
        more = counts.get(code, len(shown)) - len(shown)
        if more > 0:
            console.print(f"  ... and {more:,} more {escape(code)} (see --report, or --show)",
                          highlight=False)


def print_summary(summary: CheckSummary, console: Console, *, limit: int = 20,
                  samples: Mapping[str, list[Problem]] | None = None) -> None:
    """Print the images, categories, boxes and problems by code of a check.

    ``samples`` (from ``first_per_code``) are printed below the table of codes.
    """
    failed = f"[red]{summary.failed:,} with errors[/]" if summary.failed else "none with errors"
    console.print(
        f"[bold]{summary.images:,}[/] image(s) checked: [green]{summary.ok:,} ok[/], {failed}; "
        f"{human_bytes(summary.bytes)} to upload, "
        f"{sum(summary.boxes_by_label.values()):,} box(es)"
    )
    if summary.categories:
        console.print(
            _counts_table("Images per category", "category", "images", summary.categories, limit)
        )
    if summary.boxes_by_label:
        console.print(
            _counts_table("Boxes per label", "label", "boxes", summary.boxes_by_label, limit)
        )
    if summary.problems_by_code:
        table = Table(title="Problems by code", title_justify="left")
        table.add_column("code")
        table.add_column("severity")
        table.add_column("count", justify="right")
        table.add_column("meaning")
        for code, count in sorted(summary.problems_by_code.items(), key=lambda kv: (-kv[1], kv[0])):
            severity = summary.severity_by_code.get(code, "warning")
            style = "red" if severity == Severity.ERROR.value else "yellow"
            table.add_row(
                Text(code),
                Text(severity, style=style),
                f"{count:,}",
                CODES.get(code, "reported by the reader"),
            )
        console.print(table)
    if samples:
        print_problem_samples(samples, summary.problems_by_code, console, skipped="error")
    if summary.errors:
        console.print(
            f"[red]{summary.errors:,} error(s)[/] and {summary.warnings:,} warning(s): the "
            f"{summary.failed:,} image(s) with errors would not be uploaded; the report "
            "(--report) lists every problem with its item"
        )
    elif summary.warnings:
        console.print(f"[green]No errors[/]; {summary.warnings:,} warning(s), see the report")
    else:
        console.print("[green]No problems found.[/]")


def _counts_table(title: str, what: str, unit: str, counts: Counter[str], limit: int) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(what)
    table.add_column(unit, justify="right")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for name, count in ranked[:limit]:
        table.add_row(Text(name), f"{count:,}")
    if len(ranked) > limit:
        rest = sum(count for _, count in ranked[limit:])
        table.add_row(f"[dim]… {len(ranked) - limit:,} more[/]", f"[dim]{rest:,}[/]")
    return table
