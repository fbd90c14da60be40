"""Tell from the start of a JSON file whether it is a Label Studio export, and which kind.

Only a prefix is read (``PREFIX_BYTES``): ijson's events on it show the top level (a list
of tasks, or one task), each task's keys, its ``data`` fields, the types of its results
and, in JSON-MIN, the fields holding regions. A task cut by the end of the prefix still
shows the keys read before the cut, so a first task holding a large embedded image is no
obstacle. Nothing here raises: a file that cannot be read or parsed is a ``Sniff`` saying so.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import ijson

from osai_import import IMAGE_SUFFIXES, SourcePath
from osai_import_labelstudio.images import LOCAL_FILES, UPLOAD
from osai_import_labelstudio.options import BOXABLE
from osai_import_labelstudio.results import MIN_META

PREFIX_BYTES = 1 << 16
_ITEMS = 20  # tasks looked at in a prefix: enough to see the references' forms
_BOM = b"\xef\xbb\xbf"
_ANNOTATIONS = ("annotations", "completions", "predictions")
_RESULT_TYPES = {f"{key}.item.result.item.type" for key in _ANNOTATIONS}
_REGION_KEYS = frozenset((*BOXABLE, "choices"))
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class Item:
    """What the prefix showed of one task (or JSON-MIN item)."""

    keys: list[str] = field(default_factory=list)
    data_map: bool = False
    data_strings: dict[str, str] = field(default_factory=dict)
    strings: dict[str, str] = field(default_factory=dict)  # top-level string fields
    regions: dict[str, set[str]] = field(default_factory=dict)  # field -> its label keys
    result_types: list[str] = field(default_factory=list)
    complete: bool = False

    @property
    def annotated(self) -> bool:
        """Tell whether the task has an annotations (completions, predictions) key."""
        return any(key in self.keys for key in _ANNOTATIONS)


@dataclass(frozen=True)
class Sniff:
    """The verdict on one file: ``kind`` is full, tasks, min, min_bare, other or unreadable.

    ``full``: tasks with ``data`` and annotations (or predictions), the JSON export;
    ``tasks``: tasks with ``data`` only (an import list, or a first task cut by the
    prefix); ``min``: flat items with Label Studio regions (JSON-MIN); ``min_bare``: flat
    items with JSON-MIN's own fields (``annotation_id``, ``annotator``) and no region.
    ``what`` says what was seen, to follow the file's name in a reason (``is a list ...``).
    """

    kind: str
    what: str
    items: tuple[Item, ...] = ()
    image_key: str | None = None  # the field holding the image; None when none seems to

    def fields(self) -> list[str]:
        """Return the string fields of the tasks seen (``data`` fields of a full export)."""
        full = self.kind in ("full", "tasks")
        found = (i.data_strings if full else i.strings for i in self.items)
        return [k for k in dict.fromkeys(k for f in found for k in f) if k not in MIN_META]

    def references(self) -> list[str]:
        """Return the image references of the tasks seen, in order."""
        if self.image_key is None:
            return []
        full = self.kind in ("full", "tasks")
        found = [(i.data_strings if full else i.strings).get(self.image_key) for i in self.items]
        return [ref for ref in found if ref]


def sniff(path: Path | SourcePath) -> Sniff:
    """Read the first ``PREFIX_BYTES`` of ``path`` and say what kind of file it is."""
    try:
        with path.open("rb") as fh:
            head = fh.read(PREFIX_BYTES + 1)
    except OSError as exc:
        return Sniff("unreadable", f"cannot be read ({exc})")
    cut = len(head) > PREFIX_BYTES
    head = head[:PREFIX_BYTES].removeprefix(_BOM)
    first = head.lstrip(b" \t\r\n")[:1]
    if first not in (b"[", b"{"):
        return Sniff("other", "is empty" if not first else "is not a JSON list or object")
    base = "item" if first == b"[" else ""
    items, others, error = _events(head, base)
    if error and not cut:
        return Sniff("other", f"is not valid JSON ({error})")
    return _classify(items, others, base, cut)


def _events(head: bytes, base: str) -> tuple[list[Item], int, str]:
    """Collect the items of a prefix; return them, the list members not objects, an error."""
    items: list[Item] = []
    others = 0
    current: Item | None = None
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head), use_float=True):
            if prefix == base and event == "start_map":
                if len(items) == _ITEMS:
                    break
                current = Item()
                items.append(current)
            elif prefix == base and event == "end_map" and current is not None:
                current.complete, current = True, None
            elif current is not None:
                _note(current, prefix[len(base) + 1:] if base else prefix, event, value)
            elif base and prefix == base and event != "end_array":
                others += 1
    except (ijson.JSONError, ValueError, UnicodeError) as exc:
        # The end of a prefix cuts the JSON: only a fault before the file's end matters.
        return items, others, str(exc).split("\n", 1)[0]
    return items, others, ""


def _note(item: Item, rel: str, event: str, value: object) -> None:
    if event == "map_key" and rel == "":
        item.keys.append(str(value))
    elif event == "start_map" and rel == "data":
        item.data_map = True
    elif event == "string":
        if rel.startswith("data.") and rel.count(".") == 1:
            item.data_strings.setdefault(rel[5:], str(value))
        elif "." not in rel:
            item.strings.setdefault(rel, str(value))
        elif rel in _RESULT_TYPES:
            item.result_types.append(str(value))
    elif event == "map_key" and value in _REGION_KEYS and rel and rel.split(".")[0] != "data":
        # JSON-MIN: `"label": [{"x": ..., "rectanglelabels": [...]}]` or a single object.
        name = rel.removesuffix(".item")
        if "." not in name:
            item.regions.setdefault(name, set()).add(str(value))


def _classify(items: list[Item], others: int, base: str, cut: bool) -> Sniff:
    many = bool(base)
    if not items:
        return Sniff("other", f"is a list of {others} value(s), none an object"
                     if others else ("is a list cut before its first task" if cut
                                     else "is an empty list"))
    tasks = [i for i in items if i.data_map]
    if tasks:
        kind = "full" if any(i.annotated for i in tasks) else "tasks"
        types = ", ".join(sorted(Counter(t for i in tasks for t in i.result_types)))
        what = ("is a list of Label Studio tasks" if many else "is one Label Studio task")
        what += " with `data` and annotations" if kind == "full" else (
            " with `data`, no annotations seen")
        what += f" ({types} results)" if types else ""
        return Sniff(kind, what, tuple(tasks), image_key([i.data_strings for i in tasks]))
    regions = ", ".join(sorted({k for i in items for ks in i.regions.values() for k in ks}))
    meta = [i for i in items if "annotation_id" in i.keys and (
        "annotator" in i.keys or "lead_time" in i.keys)]
    flat = [i for i in items if i.regions] or meta
    if flat:
        key = image_key([{k: v for k, v in i.strings.items() if k not in MIN_META}
                         for i in flat])
        if regions:
            what = ("is a list of JSON-MIN items" if many else "is one JSON-MIN item")
            return Sniff("min", f"{what} with Label Studio regions ({regions})", tuple(flat), key)
        what = "is a list of items" if many else "is one item"
        return Sniff("min_bare", f"{what} with JSON-MIN's annotation_id and annotator, no "
                     "region seen", tuple(flat), key)
    if not base:
        top = items[0].keys
        if not top:
            return Sniff("other", "is an object with no keys")
        keys = ", ".join(top[:6]) + (", ..." if len(top) > 6 else "")
        return Sniff("other", f"is an object with keys {keys}, not a Label Studio task")
    keys = ", ".join(list(dict.fromkeys(k for i in items for k in i.keys))[:6])
    return Sniff("other", f"is a list of objects ({keys}) without `data` or Label Studio "
                 "regions")


def image_key(fields: list[dict[str, str]]) -> str | None:
    """Return the field holding the image: ``image`` when present, else the one most often
    holding something that looks like an image reference; None when no field does."""
    if any("image" in f for f in fields):
        return "image"
    counts = Counter(k for f in fields for k, v in f.items() if looks_like_image(v))
    return counts.most_common(1)[0][0] if counts else None


def looks_like_image(value: str) -> bool:
    """Tell whether a string looks like an image reference of a task."""
    text = value.strip()
    if text.startswith((UPLOAD, LOCAL_FILES)) or text.lower().startswith("data:image/"):
        return True
    path = urlsplit(text).path if _URL.match(text) else text
    return posixpath.splitext(path)[1].lower() in IMAGE_SUFFIXES
