"""The `csv` reader: a CSV manifest, one row per image or one row per box.

Rows of one image are merged into one record, emitted in the order the images first
appear, even when the rows are scattered. Memory stays bounded by reading the file
twice: the first pass stores, per image, only the number of its last row; the second
builds each record and yields it as soon as its last row and every earlier image are
done, so a manifest grouped by image holds one image in memory at a time. Errors name
the CSV file and line. text.py reads the file's text (lines, rows, the header's
columns). See docs/readers/csv.md for every option.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from osai_import import (
    Box,
    Detection,
    ImageRecord,
    Problem,
    Reader,
    Severity,
    SourceError,
    SourcePath,
    is_inside,
)
from osai_import.default_plugins.csv_reader import text
from osai_import.default_plugins.csv_reader.detect import detect_csv
from osai_import.default_plugins.csv_reader.options import CsvOptions
from osai_import.default_plugins.csv_reader.text import Columns, nfc

_HOT = {"": False, "0": False, "1": True, "false": False, "true": True}
_SHOWN = 10
_DRIVE = re.compile(r"^[A-Za-z]:")

@dataclass
class _Image:
    """One image's rows, merged."""

    line: int
    boxes: list[Box] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)
    size: dict[str, dict[int, int]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    done: bool = False


class CsvReader(Reader):
    """Read a CSV manifest: one row per image or per box, paths relative to the CSV."""

    name: ClassVar[str] = "csv"
    Options: ClassVar[type[CsvOptions]] = CsvOptions
    options: CsvOptions

    any_storage: ClassVar[bool] = True
    _notes: tuple[Problem, ...] = ()

    def __init__(self, options: CsvOptions) -> None:
        super().__init__(options)
        self._csv: Path | SourcePath = options.path
        root = options.images or self._csv.parent
        self._root: Path | SourcePath = (
            root if isinstance(root, SourcePath) else Path(os.path.normpath(root.absolute()))
        )
        self._extensions = {e.lower() for e in options.extensions}

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per image, in the order images first appear in the CSV."""
        self._notes = ()
        if self.options.images is not None and not self._root.is_dir():
            raise SourceError(
                f"{self._root}: the image folder (option `images`) is not a folder; fix the path"
            )
        last: dict[str, int] = {}
        unnamed: list[int] = []
        blanks = 0
        for number, line, row, cols in self._rows():
            cell = _cell(row, cols.image)
            if cell:
                last[_key(cell)] = number
            else:
                blanks += 1
                if blanks <= _SHOWN:
                    unnamed.append(line)
        if unnamed:
            more = blanks - _SHOWN
            shown = ", ".join(map(str, unnamed[:_SHOWN])) + (
                f" (and {more} more)" if more > 0 else ""
            )
            # A row without an image cannot become an item, so it stops the read before
            # anything is uploaded, listing every such line at once.
            raise SourceError(
                f"{self._csv}: line {shown}: the image cell (column "
                f"{self.options.image_column!r}) is empty; fill it in or delete the row"
            )
        pending: dict[str, _Image] = {}
        for number, line, row, cols in self._rows():
            key = _key(_cell(row, cols.image))
            if not key:
                continue  # the file changed since the first pass
            image = pending.get(key)
            if image is None:
                image = pending[key] = _Image(line)
            self._merge(image, row, line, cols)
            image.done = last.get(key, number) <= number
            while pending:
                first = next(iter(pending))
                if not pending[first].done:
                    break
                yield self._record(first, pending.pop(first))
        for key, image in pending.items():  # only when the file changed between the passes
            yield self._record(key, image)

    # --- reading -------------------------------------------------------------------

    def _rows(self) -> Iterator[tuple[int, int, list[str], Columns]]:
        """Yield (data row number, line, stripped cells, columns) for every non-blank row."""
        opts = self.options
        cols: Columns | None = None
        number = 0
        for line, cells in text.rows(self._csv, opts.encoding, opts.delimiter):
            if cols is None:
                cols = text.columns(opts, cells if opts.header else None, self._csv)
                self._note_unlabelled(cols, cells if opts.header else None)
                if opts.header:
                    continue
            number += 1
            yield number, line, cells, cols
        if cols is None and opts.header:
            raise SourceError(
                f"{self._csv}: the file is empty; a CSV manifest starts with a header row"
            )

    def _note_unlabelled(self, cols: Columns, header: list[str] | None) -> None:
        """Note a manifest whose images would all go without a class, naming its columns."""
        if cols.label is not None or cols.category is not None or cols.classes or cols.box:
            return
        shown = ", ".join(map(repr, header)) if header is not None else "numbered only"
        self._notes = (Problem(
            "csv.no_label", Severity.WARNING,
            f"{self._csv}:1: no column {self.options.label_column!r} (label_column), so the "
            f"images go without a category; the columns are: {shown}. Set label_column to "
            "the column that holds each image's class", ""),)

    def source_problems(self) -> tuple[Problem, ...]:
        """Return the note on a manifest without a label column, if the read met one."""
        return self._notes

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Recognise CSV manifests by their header: an image column, labels, boxes."""
        return detect_csv(path)

    # --- merging rows --------------------------------------------------------------

    def _merge(self, image: _Image, row: list[str], line: int, cols: Columns) -> None:
        where = f"{self._csv}:{line}"
        if len(row) < cols.needed:
            message = f"the row has {len(row)} cells, the reader needs {cols.needed}; add them"
            image.problems.append(("csv.row", f"{where}: {message}"))
            return
        for what, column in (("width", cols.width), ("height", cols.height)):
            if column is not None and row[column]:
                value = text.number(row[column], self.options.decimal)
                if value is None or value <= 0 or value != int(value):
                    message = f"image {what} {row[column]!r} is not a whole number of pixels"
                    image.problems.append(("csv.value", f"{where}: {message}"))
                else:
                    image.size.setdefault(what, {}).setdefault(int(value), line)
        if cols.classes:
            self._merge_onehot(image, row, line, cols)
            return
        label = row[cols.label] if cols.label is not None else ""
        category = row[cols.category] if cols.category is not None else ("" if cols.box else label)
        if category:
            image.categories.setdefault(nfc(category), line)
        if cols.box:
            box = self._box(row, cols, label, where, image)
            if box is not None:
                image.boxes.append(box)

    def _merge_onehot(self, image: _Image, row: list[str], line: int, cols: Columns) -> None:
        for column, name in cols.classes:
            value = _HOT.get(row[column].lower())
            if value is None:
                message = f"class column {name!r} holds {row[column]!r}; write 0 or 1"
                image.problems.append(("csv.value", f"{self._csv}:{line}: {message}"))
            elif value:
                image.categories.setdefault(name, line)

    def _box(
        self, row: list[str], cols: Columns, label: str, where: str, image: _Image
    ) -> Box | None:
        cells = [row[c] for c in cols.box]
        if len(cells) == 1:
            if not cells[0]:
                return None
            separators = r"[;\s]+" if self.options.decimal == "," else r"[,;\s]+"
            cells = [c for c in re.split(separators, cells[0].strip("[]() ")) if c]
            if len(cells) != 4:
                message = f"the box cell {row[cols.box[0]]!r} does not hold four numbers"
                image.problems.append(("csv.value", f"{where}: {message}"))
                return None
        if not any(cells):
            return None  # an image without a box
        if not all(cells):
            message = f"some box cells are empty ({cells}); fill all four or none"
            image.problems.append(("csv.box", f"{where}: {message}"))
            return None
        numbers = [text.number(c, self.options.decimal) for c in cells]
        if any(n is None for n in numbers):
            bad = ", ".join(repr(c) for c, n in zip(cells, numbers, strict=True) if n is None)
            image.problems.append(("csv.value", f"{where}: box value(s) {bad} are not numbers"))
            return None
        a, b, c, d = (float(n) for n in numbers)  # type: ignore[arg-type]
        if self.options.box_format == "xywh":
            c, d = a + c, b + d
        return Box(nfc(label), a, b, c, d)

    # --- one record ------------------------------------------------------------------

    def _record(self, key: str, image: _Image) -> ImageRecord:
        problems = [Problem(code, Severity.ERROR, message, key) for code, message in image.problems]

        def problem(code: str, message: str) -> None:
            where = f"{self._csv}:{image.line}"
            problems.append(Problem(code, Severity.ERROR, f"{where}: {message}", key))

        path, name = self._locate(key, problem)
        categories = list(image.categories)
        if len(categories) > 1:
            listed = ", ".join(f"{c!r} (line {image.categories[c]})" for c in categories)
            if self.options.format == "onehot":
                listed = ", ".join(map(repr, categories))
                problem(
                    "csv.multilabel",
                    f"{key} has several classes ({listed}); OSAI keeps one "
                    "category per image: keep one, or drop the image",
                )
            else:
                problem("csv.conflict", f"rows of {key} give different categories: {listed}")
        size: dict[str, int | None] = {}
        for what in ("width", "height"):
            values = image.size.get(what, {})
            if len(values) > 1:
                problem("csv.conflict", f"rows of {key} give different {what}s: {sorted(values)}")
            size[what] = next(iter(values), None)
        return ImageRecord(
            key=key,
            path=path if isinstance(path, SourcePath) else Path(path),
            name=name,
            category=categories[0] if categories else None,
            boxes=tuple(image.boxes),
            width=size["width"],
            height=size["height"],
            extras={"line": image.line},
            problems=tuple(problems),
        )

    def _locate(
        self, key: str, problem: Callable[[str, str], None]
    ) -> tuple[str | SourcePath, str]:
        # Strings, not Paths, until the record is built: at 100k images every Path
        # construction is a visible share of the read.
        name = nfc(posixpath.basename(key) or key)
        root = self._root
        if "\x00" in key or key in (".", "") or name in (".", ".."):
            problem("path.invalid", f"{key!r} is not a file path; fix the image cell")
            return (root if isinstance(root, SourcePath) else str(root)), name
        if isinstance(root, SourcePath):
            return self._locate_stored(root, key, name, problem)
        path = os.path.normpath(os.path.join(root, key))
        # The cell's own text counts too: a Windows drive path (C:\data\x.jpg) is never
        # inside a POSIX folder, and a path that climbs out is refused even if it climbs
        # back in (../data/x.jpg), as docs/readers/csv.md promises.
        if _DRIVE.match(key) or key.startswith("../") or not is_inside(self._root, path):
            problem(
                "path.outside",
                f"{key!r} points outside the image folder {self._root}; only images inside it "
                "are read (set the reader's `images` option to a folder that holds them)",
            )
            return str(self._root), name
        suffix = name.rpartition(".")[2].lower() if "." in name else ""
        if suffix in self._extensions or _file_id(path) is not None:
            return path, name
        # A manifest may name images without their extension (as Kaggle-style CSVs do).
        ordered = self.options.extensions
        spellings = dict.fromkeys(x for e in ordered for x in (e, e.lower(), e.upper()))
        found: dict[tuple[int, int], str] = {}
        for ext in spellings:
            ident = _file_id(f"{path}.{ext}")
            # On case-insensitive disks `1.jpg` and `1.JPG` are one file, not a choice.
            if ident is not None:
                found.setdefault(ident, f"{path}.{ext}")
        choices = [posixpath.basename(p) for p in found.values()]
        if len(choices) > 1:
            names = ", ".join(choices)
            problem("image.ambiguous", f"{key!r} matches {names}; write the full file name")
        if choices:
            return f"{path}.{choices[0].rpartition('.')[2]}", nfc(choices[0])
        return path, name


    def _locate_stored(
        self, root: SourcePath, key: str, name: str, problem: Callable[[str, str], None]
    ) -> tuple[SourcePath, str]:
        """Do ``_locate``'s work for an image folder in an archive or a bucket."""
        path = root / key
        if _DRIVE.match(key) or key.startswith("../") or not is_inside(root, path):
            problem(
                "path.outside",
                f"{key!r} points outside the image folder {root}; only images inside it "
                "are read (set the reader's `images` option to a folder that holds them)",
            )
            return root, name
        suffix = name.rpartition(".")[2].lower() if "." in name else ""
        if suffix in self._extensions or path.is_file():
            return path, name
        spellings = dict.fromkeys(
            x for e in self.options.extensions for x in (e, e.lower(), e.upper()))
        choices = [f"{name}.{ext}" for ext in spellings if path.with_name(f"{path.name}.{ext}")
                   .is_file()]
        if len(choices) > 1:
            problem("image.ambiguous", f"{key!r} matches {', '.join(choices)}; write the full "
                    "file name")
        if choices:
            return path.with_name(f"{path.name}.{choices[0].rpartition('.')[2]}"), nfc(choices[0])
        return path, name


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _cell(row: list[str], column: int) -> str:
    return row[column] if column < len(row) else ""


def _key(cell: str) -> str:
    # Windows-made manifests separate folders with backslashes.
    text = cell.replace("\\", "/")
    return posixpath.normpath(text) if text else text
