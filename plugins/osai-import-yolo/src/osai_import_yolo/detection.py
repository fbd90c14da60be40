"""Does a path hold a YOLO dataset? The ``yolo`` reader's ``detect``.

Markers, strongest first: a dataset YAML (``data.yaml``, or any YAML with ``names`` and
``train``/``val``), 0.95; Darknet's ``obj.data``, 0.9; a names file (``obj.names``,
``classes.txt``) with label files of YOLO lines beside images, 0.7 to 0.8. The layout
the reader would build is worked out for real (``layout.detect``), so a proposed source
reads as is; a few label files are looked into (their first 4 KB) to tell boxes from
polygons. A path without a dataset of its own is looked at one level down: a folder
holding datasets (exports, splits) gives a source per dataset.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from osai_import import Detection, OsaiImportError, Survey, survey
from osai_import_yolo.layout import NAMES_FILES, detect
from osai_import_yolo.paths import Dir, is_image_name
from osai_import_yolo.yamls import YAML_SUFFIXES, dataset_yamls

_LIMIT = 4000  # entries listed
_DEPTH = 5  # levels listed: root, split, images, a nested split, files
_LABELS = 4  # label files looked into per dataset
_YAMLS = 4  # YAML files looked into per folder
_CHILDREN = 4  # folders below the path judged when the path holds no dataset itself
_BUDGET = 48  # files opened at most, whatever the path holds
_HEAD = 4096  # bytes of a label file looked at
_NOT_LABELS = frozenset({"classes.txt", "readme.txt", "notes.txt", "train.txt", "valid.txt",
                         "val.txt", "test.txt", "labels.txt", "requirements.txt"})


@dataclass
class _Budget:
    """Files still to be opened: detect stays cheap on any folder."""

    left: int = _BUDGET

    def take(self, count: int) -> bool:
        if self.left < count:
            return False
        self.left -= count
        return True


@dataclass
class _Found:
    confidence: float
    reasons: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


def detect_yolo(path: Dir) -> Detection:
    """Return how well ``path`` (a dataset folder, a folder above, a YAML file) matches."""
    budget = _Budget()
    try:
        if path.is_file():
            found = _file(path, budget)
        elif path.is_dir():
            found = _folder(path, budget)
        else:
            found = _Found(0.0, [f"{path}: no such file or folder"])
    except (OsaiImportError, OSError, ValueError) as exc:
        found = _Found(0.0, [f"{path}: cannot be looked at ({exc})"])
    return Detection(found.confidence, tuple(found.reasons), tuple(found.sources))


def _file(path: Dir, budget: _Budget) -> _Found:
    name = path.name
    if path.suffix.lower() in YAML_SUFFIXES:
        if not budget.take(1):
            return _Found(0.0, [f"{name}: not looked at"])
        qualified, notes = dataset_yamls([path], path.parent)
        if not qualified:
            return _Found(0.05, notes or [f"{name}: not a dataset YAML"])
        listing = survey(path.parent, limit=_LIMIT, depth=_DEPTH)
        looked = _labels(path.parent, list(listing.files), budget)
        return _with_labels(_validated(path, f"{name}: a dataset YAML", 0.95, budget), looked)
    if path.suffix.lower() == ".data":
        return _validated(path, f"{name}: a Darknet data file", 0.9, budget)
    return _Found(0.0, [f"{name}: not a dataset YAML, an obj.data or a folder"])


def _folder(path: Dir, budget: _Budget) -> _Found:
    listing = survey(path, limit=_LIMIT, depth=_DEPTH)
    own = _judge(listing, "", budget)
    if own.confidence >= 0.5:
        return own
    below = [
        (child, _judge(listing, child, budget))
        for child in listing.top_dirs()[:_CHILDREN]
        if _has_marker(listing, child)
    ]
    matching = [(child, found) for child, found in below if found.confidence >= 0.5]
    if not matching:
        extra = [f"{child}/: {found.reasons[0]}" for child, found in below if found.reasons]
        return _Found(own.confidence, own.reasons + extra)
    reasons = [f"{child}/: {reason}" for child, found in matching for reason in found.reasons]
    sources = [source for _child, found in matching for source in found.sources]
    # A folder above the dataset is one step less certain than the dataset's own folder.
    confidence = round(min(found.confidence for _child, found in matching) - 0.05, 3)
    return _Found(confidence, reasons, sources)


def _has_marker(listing: Survey, child: str) -> bool:
    """Tell whether a top folder holds anything a YOLO dataset shows (names, data, labels)."""
    prefix = child + "/"
    return any(
        f.startswith(prefix) and posixpath.splitext(f)[1].lower() in (".txt", ".data", ".names",
                                                                     *YAML_SUFFIXES)
        for f in listing.files
    )


def _judge(listing: Survey, prefix: str, budget: _Budget) -> _Found:
    """Return the verdict on the folder ``prefix`` of the listing (``""``: its root)."""
    root = listing.path(prefix)
    files = _below(listing, prefix)
    top = [f for f in files if "/" not in f]
    looked = _labels(root, files, budget)
    yamls = [root / f for f in top if posixpath.splitext(f)[1].lower() in YAML_SUFFIXES]
    notes: list[str] = []
    if yamls and budget.take(min(len(yamls), _YAMLS)):
        qualified, notes = dataset_yamls(yamls[:_YAMLS], root)
        if qualified:
            chosen = qualified[0]
            found = _with_labels(
                _validated(chosen, f"{chosen.name}: a dataset YAML", 0.95, budget), looked)
            if len(qualified) > 1:
                found.reasons.append(
                    "also describing a dataset: " + ", ".join(p.name for p in qualified[1:])
                    + f"; the config names {chosen.name}: change `path:` to read another")
            return found
    data = [root / f for f in top if f.endswith(".data")]
    if data:
        main = next((d for d in data if d.name == "obj.data"), data[0] if len(data) == 1 else None)
        if main is not None:
            marker = f"{main.name}: a Darknet data file"
            return _with_labels(_validated(root, marker, 0.9, budget), looked)
    found = _with_labels(_plain(listing, prefix, files, looked, budget), looked)
    if found.confidence < 0.5:
        found.reasons += notes  # why the YAML files there are no dataset's
    return found


def _labels(root: Dir, files: list[str], budget: _Budget) -> list[tuple[str, str]]:
    """Look into the first label files among ``files`` (paths relative to ``root``)."""
    images = [f for f in files if is_image_name(posixpath.basename(f))]
    names = {f for f in files if "/" not in f and (f in NAMES_FILES or f.endswith(".names"))}
    labels = _label_candidates(files, images, names)
    return _look_into(root, labels[:_LABELS], budget)


def _with_labels(found: _Found, looked: list[tuple[str, str]]) -> _Found:
    """Add ``polygons: true`` to the sources when the label files hold polygons."""
    if found.sources and any(kind == "polygons" for _f, kind in looked):
        for source in found.sources:
            source["polygons"] = True
        found.reasons.append("label lines are polygons: `polygons: true` reads their boxes")
    return found


def _plain(listing: Survey, prefix: str, files: list[str], looked: list[tuple[str, str]],
           budget: _Budget) -> _Found:
    """Judge a folder without YAML or obj.data: names file, label files, images."""
    root = listing.path(prefix)
    names = [f for f in files if "/" not in f and (f in NAMES_FILES or f.endswith(".names"))]
    images = [f for f in files if is_image_name(posixpath.basename(f))]
    labels = [f for f, _kind in looked]
    boxes = [f for f, kind in looked if kind in ("boxes", "polygons")]
    shown = ", ".join(f for f, _kind in looked) or "none"
    if not images:
        return _Found(0.0, [f"no image among the {len(files)} files listed"])
    if not labels:
        return _Found(0.05, [(f"{len(images)} images, but no .txt label file beside them or "
                              "in a labels/ folder")])
    if all(kind == "empty" for _f, kind in looked):
        return _Found(0.1, [f"the label files looked at ({shown}) are empty"])
    if len(boxes) < len([k for _f, k in looked if k != "empty"]):
        bad = [f for f, kind in looked if kind == "other"]
        return _Found(0.1, [(f"label files looked at ({shown}) are not all YOLO lines "
                             f"`class cx cy w h`{': ' + bad[0] if bad else ''}")])
    what = f"{len(boxes)} of the label files looked at ({shown}) hold YOLO lines"
    if not names:
        return _Found(0.35, [what, ("no class names: no data.yaml, obj.names or classes.txt; "
                                    "add one, or write the config with `names:`")])
    structured = any(part == "labels" for f in labels for part in f.split("/")[:-1])
    confidence = 0.8 if structured else 0.7
    found = _validated(root, f"{names[0]} names the classes", confidence, budget)
    found.reasons.insert(0, what)
    return found


def _below(listing: Survey, prefix: str) -> list[str]:
    if not prefix:
        return list(listing.files)
    start = prefix + "/"
    return [f[len(start):] for f in listing.files if f.startswith(start)]


def _label_candidates(files: list[str], images: list[str], names: set[str]) -> list[str]:
    """Return the .txt files that sit where an image's label does (labels/, or beside it)."""
    bare = [posixpath.splitext(f)[0] for f in images]
    stems = {_label_of(stem) for stem in bare} | set(bare)
    texts = [f for f in files if f.endswith(".txt") and f not in names
             and posixpath.basename(f).lower() not in _NOT_LABELS]
    return [f for f in texts if posixpath.splitext(f)[0] in stems]


def _label_of(stem: str) -> str:
    """Return where an image's label sits (its last ``images`` folder becomes ``labels``)."""
    parts = stem.split("/")
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            break
    return "/".join(parts)


def _look_into(root: Dir, labels: list[str], budget: _Budget) -> list[tuple[str, str]]:
    """Return ``(label file, kind)``: boxes, polygons, empty or other (not YOLO lines)."""
    looked = []
    for relative in labels:
        if not budget.take(1):
            break
        try:
            with (root / relative).open("rb") as stream:
                head = stream.read(_HEAD)
        except OSError:
            looked.append((relative, "other"))
            continue
        looked.append((relative, _kind(head)))
    return looked


def _kind(head: bytes) -> str:
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) == _HEAD and len(lines) > 1:
        lines = lines[:-1]  # cut mid-line
    kinds = {_line_kind(line.split()) for line in lines if line.strip()}
    if not kinds:
        return "empty"
    if kinds <= {"boxes", "polygons"}:
        return "polygons" if "polygons" in kinds else "boxes"
    return "other"


def _line_kind(tokens: list[str]) -> str:
    if len(tokens) < 5 or not tokens[0].isdigit():
        return "other"
    try:
        values = [float(t) for t in tokens[1:]]
    except ValueError:
        return "other"
    if not all(-0.05 <= v <= 1.05 for v in values):
        return "other"
    if len(values) == 4:
        return "boxes"
    return "polygons" if len(values) % 2 == 0 and len(values) >= 6 else "other"


def _validated(path: Dir, marker: str, confidence: float, budget: _Budget) -> _Found:
    """Return the verdict on a marker once the reader's own layout step accepts ``path``."""
    # The layout step opens the YAML or obj.data and the names file.
    if not budget.take(2):
        return _Found(0.3, [f"{marker}, not looked into (enough files were opened)"])
    try:
        layout = detect(path, names=None, splits=None, allow_outside=False)
    except OsaiImportError as exc:
        return _Found(0.4, [marker, f"but the reader would stop: {exc}"])
    splits = ", ".join(s.name for s in layout.splits if s.name) or "no splits"
    reasons = [f"{marker} ({layout.kind} layout, {len(layout.names)} classes, {splits})"]
    reasons += [p.message for p in layout.notes]
    return _Found(confidence, reasons, [{"path": path}])

