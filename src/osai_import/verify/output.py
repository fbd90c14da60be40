"""Print a verify report for people: the images that differ in a table, then the counts."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from osai_import.verify.report import VerifyReport

LABELS = {
    "missing": "missing", "copies": "duplicate", "bytes": "bytes", "category": "category",
    "boxes": "boxes", "answer_lost": "answer lost", "flagged": "flag",
    "source_changed": "source changed", "not_in_journal": "not in the journal",
    "not_sent": "not sent",
}
SHOW_DEFAULT = 50  # images printed; the JSON report has every one


def print_verify(report: VerifyReport, console: Console, *, show: int = SHOW_DEFAULT) -> None:
    """Print ``report``: what was compared, each image that differs, what was not checked."""
    dataset = report.dataset_name or ""
    if report.dataset_id is not None:
        dataset = f"{dataset} (id {report.dataset_id})".strip()
    summary = Table(title="osai-import verify", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    rows = [("server", report.server), ("dataset", dataset or "-"),
            ("sent, says the journal", str(report.journal_images))]
    if report.cannot_check is None:
        rows += [("read back with", _read_by(report.read_by)),
                 ("stored on the server", f"{report.server_images} (copies included)"),
                 ("matching", str(report.matched)), ("differing", str(len(report.differing)))]
    for name, value in rows:
        summary.add_row(name, escape(value))
    console.print(summary)
    if report.cannot_check is not None:
        console.print(f"[red]cannot check[/red]: {escape(report.cannot_check)}", highlight=False)
        return
    if report.differing:
        _print_differing(report, console, show)
    for unchecked in report.not_checked:
        style = "yellow" if unchecked.affects_exit else "dim"
        label = f"[{style}]not checked[/{style}]"
        console.print(f"{label} {unchecked.what} of {unchecked.images} image(s): "
                      f"{escape(unchecked.reason)}", highlight=False)
    for note in report.notes:
        console.print(escape(note), highlight=False)
    if report.ok:
        console.print(f"[green]every image matches[/green]: {report.matched} image(s) stored "
                      "once, with the bytes, category and boxes sent")
    elif not report.differing:
        console.print("[yellow]nothing differs, but not everything could be checked[/yellow] "
                      "(see above)")


def _read_by(kind: str | None) -> str:
    return {"inspection": "the local server's inspection API (bytes, categories, boxes)",
            "listing": "the server's image listing (bytes, categories; no boxes)"}.get(
                kind or "", "-")


def _print_differing(report: VerifyReport, console: Console, show: int) -> None:
    table = Table(title=f"{len(report.differing)} image(s) differ", title_justify="left",
                  show_lines=True)
    table.add_column("image")
    table.add_column("what differs")
    table.add_column("remedy")
    for image in report.differing[:show]:
        name = escape(image.name)
        if image.item is not None and image.item != image.name:
            name += f"\n[dim]{escape(image.item)}[/dim]"
        what = "\n".join(f"[bold]{LABELS.get(f.kind, f.kind)}[/bold]: {escape(f.detail)}"
                         for f in image.findings)
        table.add_row(name, what, escape(image.remedy or ""))
    console.print(table)
    if len(report.differing) > show:
        console.print(f"... and {len(report.differing) - show} more (--json or --report lists "
                      "every one)")
