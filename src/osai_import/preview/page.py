"""Write a preview page: the summary on top, the figures, the footer; one file, atomically.

The page is one self-contained HTML file: styles, script and every thumbnail are inside
it (thumbnails as ``data:`` URIs), so it opens offline, and can be mailed or attached to
a ticket as it is: nothing beside it to lose. A thumbnail of at most 480 pixels costs
about 15-25 KB, so 200 images make a file of a few megabytes. It is written to a
temporary file in the same folder and renamed into place: a reader never sees half of
it, and a failed preview leaves an older one as it was.
"""

from __future__ import annotations

import html
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from osai_import.codes import CODES, UPLOAD_CODES
from osai_import.errors import LocalFileError
from osai_import.pictures import bar_chart, filters_html, label_color, page_html
from osai_import.preview.summary import CheckCounts, SourceCounts, histogram

# Sizes beyond this many are summed up in one "other sizes" row.
_SIZES_SHOWN = 12
_MARK = "\x00figures\x00"

STYLE = """
.lead{max-width:60rem}.note{background:#fff4d6;border-left:.3rem solid #d89b00;
padding:.4rem .7rem;max-width:60rem}.summary section{min-width:16rem}
.summary h3{font-size:1rem;margin:.2rem 0 .3rem}.scope{color:#555;font-size:.85rem;
max-width:24rem;margin:.3rem 0}table.problems th,table.problems td{border-bottom:1px solid
#ddd}table.problems td.n{text-align:right;font-variant-numeric:tabular-nums}
td.error{color:#b00020}td.warning{color:#8a5a00}footer{margin-top:2rem;color:#555;
font-size:.85rem;max-width:60rem}
"""


LEAD = ('<p class="lead">Each image below is drawn as the upload would send it: its remote '
        "name, its image-level category, and the boxes of the annotation actually written "
        "(after the check's clipping and EXIF handling, and the encoder's rounding). Nothing "
        "was sent.</p>")


@dataclass(frozen=True)
class PageFacts:
    """What the page says about the run it previews."""

    title: str
    config: str
    sources: Sequence[str]
    annotations: str  # the encoder and its options, as the config gives them
    boxes_sent: bool  # False with an encoder that sends no annotation (`none`)
    sample: str  # how the images shown were chosen
    version: str
    shown_labels: Sequence[str] = field(default_factory=list)
    shown_codes: Sequence[str] = field(default_factory=list)


def head_html(facts: PageFacts, source: SourceCounts, checks: CheckCounts) -> str:
    """Return everything above the figures: title, facts, summary and filters."""
    rows = [("config", facts.config), *(("source", s) for s in facts.sources),
            ("annotations", facts.annotations), ("images shown", facts.sample),
            ("written by", f"osai-import {facts.version}")]
    parts = [f"<h1>{html.escape(facts.title)}</h1>", LEAD, _facts_table(rows)]
    if not facts.boxes_sent:
        parts.append('<p class="note" id="no-boxes">The annotations encoder sends no '
                     "annotation (<code>annotations: none</code>): images go with their "
                     "image-level category only, and no box reaches OSAI, so none is drawn. "
                     "The summary still counts the boxes the source holds.</p>")
    parts.append(summary_html(source, checks))
    parts.append('<h2 id="images">Images</h2>')
    parts.append(filters_html(facts.shown_labels, facts.shown_codes))
    return "".join(parts)


def _facts_table(rows: Iterable[tuple[str, str]]) -> str:
    return '<table class="facts">' + "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    ) + "</table>"


def summary_html(source: SourceCounts, checks: CheckCounts) -> str:
    """Return the summary: categories, boxes, sizes and problems, each saying what it covers."""
    whole = f"All {source.images:,} images of the source, from its records (no image opened)."
    sections = [
        _section("Images per category", bar_chart(source.categories, css_class="bars"),
                 whole + (" The image-level category, as the reader gives it."
                          if source.categories else " The reader gives no image-level "
                          "category: the labels are the boxes'.")),
        _section("Boxes per label", bar_chart(source.boxes_by_label, css_class="bars"),
                 f"{source.boxes:,} boxes of the source, before the check."),
        _section("Boxes per image", _histogram_html(source.boxes_per_image), whole),
        _sizes_section(source, checks),
        _section("Problems per code", _problems_html(source, checks),
                 f"The reader's problems: over all {source.images:,} images. The check's (and "
                 f"the encoder's): over the {checks.checked:,} images checked."),
    ]
    return '<h2 id="summary">Summary</h2><div class="summary">' + "".join(sections) + "</div>"


def _section(title: str, body: str, scope: str) -> str:
    slug = title.lower().replace(" ", "-")
    return (f'<section id="{slug}"><h3>{html.escape(title)}</h3>{body}'
            f'<p class="scope">{html.escape(scope)}</p></section>')


def _histogram_html(per_image: Counter[int]) -> str:
    rows = histogram(per_image)
    if not rows:
        return '<table class="bars histogram"><tr><td>none</td></tr></table>'
    top = max(count for _name, count in rows) or 1
    return '<table class="bars histogram">' + "".join(
        f'<tr data-name="{html.escape(name)}" data-count="{count}"><th>{html.escape(name)}</th>'
        f'<td class="count">{count:,}</td><td class="bar"><span style="width:'
        f'{100 * count / top:.1f}%;background:#4a7bd0"></span></td></tr>'
        for name, count in rows) + "</table>"


def _sizes_section(source: SourceCounts, checks: CheckCounts) -> str:
    if source.sized:
        sizes, scope = source.sizes, (
            f"As the source states them, for {source.sized:,} of its {source.images:,} images "
            "(no image opened).")
    else:
        sizes, scope = checks.sizes, (
            f"The source states no sizes: read from the headers of the {checks.checked:,} "
            "images checked.")
    ranked = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))
    counts = {f"{w}\u00d7{h}": n for (w, h), n in ranked[:_SIZES_SHOWN]}
    rest = ranked[_SIZES_SHOWN:]
    if rest:
        counts[f"{len(rest):,} other sizes"] = sum(n for _size, n in rest)
    return _section("Image sizes", bar_chart(counts, css_class="bars sizes"), scope)


def _problems_html(source: SourceCounts, checks: CheckCounts) -> str:
    codes = sorted(set(source.problems.by_code) | set(checks.problems.by_code))
    if not codes:
        return '<table class="problems"><tr><td>no problem found</td></tr></table>'
    meanings = {**UPLOAD_CODES, **CODES}
    rows = []
    for code in codes:
        severity = ("error" if "error" in (source.problems.severity.get(code),
                                           checks.problems.severity.get(code)) else "warning")
        rows.append(
            f'<tr data-code="{html.escape(code)}" data-reader="{source.problems.by_code[code]}" '
            f'data-check="{checks.problems.by_code[code]}"><td><code style="border-left:.3rem '
            f'solid {label_color(code)};padding-left:.3rem">{html.escape(code)}</code></td>'
            f'<td class="{severity}">{severity}</td>'
            f'<td class="n">{source.problems.by_code[code]:,}</td>'
            f'<td class="n">{checks.problems.by_code[code]:,}</td>'
            f"<td>{html.escape(meanings.get(code, ''))}</td></tr>")
    return ('<table class="problems"><tr><th>code</th><th>severity</th>'
            f"<th>reader ({source.images:,})</th><th>check ({checks.checked:,})</th>"
            "<th>meaning</th></tr>" + "".join(rows) + "</table>")


FOOTER = (
    "<footer><p>This page is one self-contained file: the thumbnails are embedded in it "
    "(<code>data:</code> URIs of JPEGs at most 480 pixels long, about 15-25 KB each, "
    "re-encoded without EXIF so that they show the stored pixel frame the boxes are in), "
    "with its styles and its filter script. It needs no network and nothing beside it: open "
    "it, mail it, or attach it to a ticket as it is.</p></footer>")


def page_parts(title: str, head: str) -> tuple[str, str]:
    """Return the page's text before the figures and after them."""
    before, after = page_html(title, f"<style>{STYLE}</style>{head}"
                              f'<div class="grid">{_MARK}</div>{FOOTER}').split(_MARK)
    return before, after


def check_output(path: Path) -> None:
    """Refuse an output path that is a folder: the page is a file."""
    if path.is_dir():
        raise LocalFileError(f"{path}: is a folder; give the preview file's own path, such as "
                             f"{path / 'preview.html'}")


def write_page(path: Path, parts: Iterable[str]) -> int:
    """Write ``parts`` to ``path`` through a temporary file; return the file's size.

    Missing folders on the way are made, as for ``check --report``. Raises LocalFileError
    naming the path when it cannot be written (a full disk, no permission); the temporary
    file is removed and ``path`` is left as it was.
    """
    check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o644  # a new page, readable by whoever gets it
        # A name that is not UTF-8 holds lone surrogates: written as escapes, not refused.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            os.fchmod(out.fileno(), mode)
            for part in parts:
                out.write(part)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return os.path.getsize(path)


def _write_error(path: Path, exc: OSError) -> LocalFileError:
    return LocalFileError.writing("the preview page", path, exc,
                                  "free some space, or choose another -o")
