"""Read the text of a CSV manifest: lines, rows and the columns the `csv` reader uses.

Bytes are decoded line by line so that a byte the encoding cannot read is reported with
its line; rows keep the number of the line they start on (a quoted cell may span lines);
the header is matched against the reader's ``*_column`` options once, into ``Columns``, the
column numbers. Every error names the CSV file and the line.
"""

from __future__ import annotations

import codecs
import csv
import math
import unicodedata
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from osai_import import SourceError, SourcePath
from osai_import.default_plugins.csv_reader.options import BOX_COLUMNS, CsvOptions

_MAX_LINE = 16 * 1024 * 1024
_SNIFF_CHARS = 65536


@dataclass(frozen=True)
class Columns:
    """Column numbers, resolved against the header."""

    image: int
    label: int | None = None
    category: int | None = None
    box: tuple[int, ...] = ()  # four columns, or one bbox column
    width: int | None = None
    height: int | None = None
    classes: tuple[tuple[int, str], ...] = ()  # onehot: (column, class name)
    needed: int = field(init=False)

    def __post_init__(self) -> None:
        used = [self.image, self.label, self.category, *self.box, self.width, self.height]
        needed = max([c for c in used if c is not None] + [c for c, _ in self.classes]) + 1
        object.__setattr__(self, "needed", needed)


def rows(path: Path | SourcePath, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, stripped cells) of every non-blank row; ``auto`` guesses the delimiter."""
    if delimiter == "auto":
        delimiter = _sniff(path, encoding)
    reader = csv.reader(_lines(path, encoding), delimiter=delimiter, skipinitialspace=True)
    end = 0
    try:
        for row in reader:
            line, end = end + 1, reader.line_num
            cells = [cell.strip() for cell in row]
            if any(cells):
                yield line, cells
    except csv.Error as exc:
        raise SourceError(
            f"{path}:{reader.line_num}: unreadable CSV: {exc}; check the quoting"
        ) from None


def _lines(path: Path | SourcePath, encoding: str) -> Generator[str, None, None]:
    # Decoding line by line (not through TextIOWrapper) is what lets a bad byte be
    # reported with its line number.
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done, buffer = 0, ""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(
            f"{path}: cannot open the CSV file: {exc.strerror}; check source.path"
        ) from None
    with handle:
        while True:
            raw = handle.read(1 << 16)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                before = exc.object[: exc.start].count(b"\n")
                bad = exc.object[exc.start : exc.start + 4].hex(" ")
                line = done + buffer.count("\n") + before + 1
                raise SourceError(
                    f"{path}:{line}: bytes ({bad}) that are not valid "
                    f"{encoding}; set the reader's `encoding` (for example "
                    "cp1252 or latin-1) or re-save the file as UTF-8"
                ) from None
            *complete, buffer = (buffer + text).split("\n")
            for complete_line in complete:
                done += 1
                yield complete_line + "\n"
            if len(buffer) > _MAX_LINE:
                raise SourceError(
                    f"{path}:{done + 1}: a line longer than {_MAX_LINE} characters; "
                    "is this a CSV file?"
                )
            if not raw:
                break
    if buffer:
        yield buffer


def _sniff(path: Path | SourcePath, encoding: str) -> str:
    sample, lines = "", _lines(path, encoding)
    for text in lines:
        sample += text
        if len(sample) > _SNIFF_CHARS:
            break
    lines.close()
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","  # one column, or too little text to tell


def columns(options: CsvOptions, header: list[str] | None, path: Path | SourcePath) -> Columns:
    """Find the columns ``options`` name in ``header`` (None: no header, numbers only)."""
    given = options.model_fields_set
    missing: list[str] = []

    def find(option: str, required: bool) -> int | None:
        value = getattr(options, option)
        if value is None or (header is None and isinstance(value, str)):
            return None  # without a header only numbered columns exist
        if isinstance(value, int):
            if header is not None and value >= len(header):
                missing.append(f"{option}: {value} (there are {len(header)} columns)")
            return value
        assert header is not None
        exact = [i for i, name in enumerate(header) if name == value]
        loose = exact or [i for i, name in enumerate(header) if name.casefold() == value.casefold()]
        if len(loose) > 1:
            raise SourceError(
                f"{path}:1: column {value!r} ({option}) appears {len(loose)} times "
                "in the header; rename one"
            )
        if not loose and (required or option in given):
            missing.append(f"{option}: {value!r}")
        return loose[0] if loose else None

    image = find("image_column", True)
    width, height = find("image_width_column", False), find("image_height_column", False)
    if options.format == "onehot":
        assert header is not None
        used = {image, width, height}
        classes = tuple((i, nfc(n)) for i, n in enumerate(header) if i not in used and n)
        result = Columns(image or 0, classes=classes, width=width, height=height)
    else:
        names = (
            ("bbox_column",) if options.bbox_column is not None else BOX_COLUMNS[options.box_format]
        )
        box = [find(name, False) for name in names]
        found = [c for c in box if c is not None]
        if found and len(found) < len(box):
            absent = ", ".join(
                repr(getattr(options, n)) for n, c in zip(names, box, strict=True) if c is None
            )
            missing.append(f"box columns {absent} (the other box columns are there)")
        label = find("label_column", False)
        if label is None and len(found) == len(box) and header is not None:
            # Boxes without labels are all refused: say it once, with the columns there are.
            missing.append(f"label_column: {options.label_column!r} (the boxes need labels)")
        result = Columns(
            image or 0,
            label=label,
            category=find("category_column", False),
            box=tuple(found) if len(found) == len(box) else (),
            width=width,
            height=height,
        )
    if missing:
        columns = ", ".join(map(repr, header)) if header is not None else "none (header: false)"
        raise SourceError(
            f"{path}:1: missing column(s) {'; '.join(missing)}. The columns are: "
            f"{columns}. Rename the columns in the CSV or set the reader's *_column options"
        )
    return result


def number(text: str, decimal: str) -> float | None:
    """Return the finite number a cell holds (``decimal`` is its decimal mark), else None."""
    if decimal == ",":
        text = text.replace(".", "\x00").replace(",", ".")
    if "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form of every name osai-import sends."""
    return unicodedata.normalize("NFC", text)
