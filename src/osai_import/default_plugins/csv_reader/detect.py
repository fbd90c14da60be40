"""Is a path a CSV manifest of images? The `csv` reader's ``detect``.

Only each candidate's first 64 KB is read: its header names the columns (the usual
spellings of an image column, a label, a category and box corners or sizes are
recognised), and the first rows' image cells are looked up among the files listed
around it, which says where the images are (``images:`` when not beside the CSV).
A header that names no image column is no match; one whose images cannot be found is a
weak one, with the reason.
"""

from __future__ import annotations

import csv
import io
import posixpath
from pathlib import Path
from typing import Any

from osai_import import Detection, SourcePath, Survey, survey

_PREFIX = 64 * 1024
_FILES = 6
_ROWS = 8
_IMAGE = ("image", "filename", "file_name", "file", "image_path", "path", "img",
          "image_name", "imagename", "image_id")
_LABEL = ("label", "label_name", "class", "class_name", "classname", "category",
          "category_name", "name", "labels")
_XYXY = (("xmin", "ymin", "xmax", "ymax"), ("x_min", "y_min", "x_max", "y_max"),
         ("x1", "y1", "x2", "y2"), ("left", "top", "right", "bottom"))
_XYWH = (("x", "y", "width", "height"), ("x", "y", "w", "h"), ("x1", "y1", "w", "h"),
         ("bbox_x", "bbox_y", "bbox_width", "bbox_height"))
_HOT = {"0", "1", "0.0", "1.0", "true", "false"}
_GUESSED = (".jpg", ".jpeg", ".png")  # tried on image cells written without an extension


def detect_csv(path: Path | SourcePath) -> Detection:
    """Return how well ``path`` (a CSV file, or a folder holding some) matches."""
    if path.is_file():
        listing = survey(path.parent, limit=3000, depth=4)
        candidates = [path.name]
    else:
        listing = survey(path)
        candidates = listing.named("*.csv", "*.tsv")
    if not candidates:
        return Detection(0.0, (f"no .csv file among the {len(listing.files)} files listed",))
    reasons: list[str] = []
    sources: list[dict[str, Any]] = []
    listed: list[tuple[str, set[str]]] = []  # each source's CSV and its first image cells
    best = 0.0
    for relative in candidates[:_FILES]:
        confidence, reason, options, cells = _look(listing, relative)
        reasons.append(reason)
        if options is None:
            continue
        same = next((other for other, seen in listed if _same_images(cells, seen)), None)
        if same is not None:
            # Another encoding of the same images (not a split): reading both would send
            # every image twice.
            reasons.append(f"{relative} lists the same images as {same}: left out, as an "
                           "alternative to it")
            continue
        listed.append((relative, cells))
        sources.append(options)
        best = max(best, confidence)
    if not sources:
        return Detection(0.0, tuple(reasons))
    return Detection(best, tuple(reasons), tuple(sources))


def _same_images(cells: set[str], seen: set[str]) -> bool:
    """Tell whether two manifests start with mostly the same images."""
    return bool(cells) and len(cells & seen) * 2 >= len(cells)


def _look(listing: Survey, relative: str
          ) -> tuple[float, str, dict[str, Any] | None, set[str]]:
    path = listing.path(relative)
    try:
        with path.open("rb") as stream:
            head = stream.read(_PREFIX).decode("utf-8-sig", "replace")
    except OSError as exc:
        return 0.0, f"{relative}: cannot be read ({exc})", None, set()
    lines = head.splitlines()[: _ROWS + 1]
    if len(head) == _PREFIX and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    if not lines:
        return 0.0, f"{relative}: empty", None, set()
    try:
        dialect: Any = csv.Sniffer().sniff("\n".join(lines[:5]), delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if relative.lower().endswith(".tsv") else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [cell.strip() for cell in rows[0]]
    lower = [cell.lower() for cell in header]
    image = _first(lower, _IMAGE)
    if image is None:
        return 0.0, (f"{relative}: no image column in its header "
                     f"({', '.join(header[:8])})"), None, set()
    options: dict[str, Any] = {"path": path}
    if delimiter != ",":
        options["delimiter"] = "tab" if delimiter == "\t" else delimiter
    if header[image] != "image":
        options["image_column"] = header[image]
    said = [f"images in column {header[image]!r}"]
    label = _first(lower, _LABEL)
    if label is not None:
        if header[label] != "label":
            options["label_column"] = header[label]
        said.append(f"labels in {header[label]!r}")
    said += _boxes(header, lower, options)
    data = [row for row in rows[1:] if len(row) == len(header)]
    others = [i for i in range(len(header)) if i != image]
    if (label is None and data and others
            and all(row[i].strip().lower() in _HOT for row in data for i in others)):
        # Roboflow's _classes.csv: a 0/1 column per class.
        options["format"] = "onehot"
        said.append(f"one 0/1 column per class ({len(others)} classes)")
    cells = [row[image].strip() for row in rows[1:] if len(row) > image and row[image].strip()]
    holders = listing.folders_holding(cells)
    if not holders and cells and not any(posixpath.splitext(c)[1] for c in cells):
        holders = listing.folders_holding(c + ext for c in cells for ext in _GUESSED)
    folder = posixpath.dirname(relative)
    labelled = label is not None or "format" in options
    confidence = 0.8 if labelled else 0.6
    if cells and holders:
        top = max(holders.values())
        place = folder if holders.get(folder) == top else min(
            f for f, n in holders.items() if n == top)
        if place != folder:
            options["images"] = listing.path(place)
            said.append(f"its images are in {place or 'the top folder'}/")
        said.append(f"{top} of its first {len(cells)} images found")
    elif cells:
        confidence = 0.4
        said.append(f"none of its first images ({cells[0]}, ...) found among the files listed; "
                    "set `images:` to their folder")
    stems = {posixpath.splitext(posixpath.basename(c))[0] for c in cells}
    return confidence, f"{relative}: a CSV manifest: {'; '.join(said)}", options, stems


def _first(lower: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in lower:
            return lower.index(name)
    return None


def _boxes(header: list[str], lower: list[str], options: dict[str, Any]) -> list[str]:
    """Set the box columns a header names; return what was found, for the reasons."""
    defaults = {"xyxy": ("xmin", "ymin", "xmax", "ymax"), "xywh": ("x", "y", "width", "height")}
    for kind, groups in (("xyxy", _XYXY), ("xywh", _XYWH)):
        for group in groups:
            if all(name in lower for name in group):
                names = [header[lower.index(n)] for n in group]
                if kind == "xywh":
                    options["box_format"] = "xywh"
                keys = (("xmin_column", "ymin_column", "xmax_column", "ymax_column")
                        if kind == "xyxy" else
                        ("x_column", "y_column", "width_column", "height_column"))
                options.update({key: name for key, name, default
                                in zip(keys, names, defaults[kind], strict=True)
                                if name != default})
                return [f"boxes as {kind} in {', '.join(names)}"]
    if "bbox" in lower:
        options["bbox_column"] = header[lower.index("bbox")]
        return ["boxes in one 'bbox' column"]
    return []
