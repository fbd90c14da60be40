"""Detect Label Studio exports at a path: which JSON files, and where their images are.

The path is an export, or a folder (an archive, a bucket prefix) holding exports at any
depth with their images. The folder is listed with ``survey``; at most ``OPENS`` JSON
files are opened (the shallowest first, names Label Studio gives its exports before
others), each for its first ``sniff.PREFIX_BYTES``. Each export found is one source.
Confidence: 0.95 for a JSON export (tasks with ``data`` and annotations) whose images are
found, 0.9 for JSON-MIN (items with ``rectanglelabels``-style regions); lower when images
are missing (a reason names the option to set), for tasks without annotations, and for
an export whose tasks hold no image.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osai_import import Detection, SourcePath, Survey, survey
from osai_import_labelstudio.places import Finder, Mapping
from osai_import_labelstudio.sniff import Sniff, sniff

OPENS = 16
# Label Studio names exports `project-3-at-2024-05-01-10-20-1a2b3c4d.json`; others name
# theirs after what they hold.
_HINTS = ("project-", "export", "result", "task", "annotation", "label", "min")
_SHOWN = 6  # exports described one by one in the reasons
# kind -> confidence with every image found, some, none (references unresolved)
_SCALE = {
    "full": (0.95, 0.8, 0.7),
    "min": (0.9, 0.75, 0.65),
    "tasks": (0.6, 0.55, 0.5),
    "min_bare": (0.6, 0.55, 0.5),
}
_NO_IMAGE = 0.4  # a Label Studio export whose tasks hold no image (a text project)
_MATCH = 0.5  # the confidence from which a detection is a match (Detection's scale)

Location = Path | SourcePath


@dataclass(frozen=True)
class Export:
    """One export found: where it is in the survey, what it is, and its images' options."""

    name: str
    found: Sniff
    mapping: Mapping
    confidence: float
    reasons: tuple[str, ...]

    def options(self, seen: Survey, path: str | None = None) -> dict[str, Any]:
        """Return the source options that read this export (or ``path``, its folder)."""
        options: dict[str, Any] = {"path": seen.path(self.name if path is None else path)}
        if self.mapping.images is not None:
            options["images"] = seen.path(self.mapping.images)
        if self.mapping.prefixes:
            options["image_prefixes"] = {
                prefix: seen.path(base) for prefix, base in self.mapping.prefixes.items()}
        if self.found.image_key not in (None, "image"):
            options["image_key"] = self.found.image_key
        return options


def detect(path: Location) -> Detection:
    """Return how well ``path`` (an export, or a folder holding exports) matches, and why."""
    try:
        folder = path.is_dir()
    except OSError as exc:
        return Detection(0.0, (f"{path}: cannot be read ({exc})",))
    if folder:
        seen = survey(path)
        names = _candidates(seen)
        if not names:
            listed = f"the {len(seen.files)} files listed" if seen.files else "an empty folder"
            if not seen.complete:
                listed += ", the listing cut short: name the export itself"
            why = f"no .json file in {path} ({listed}); Label Studio exports JSON"
            return Detection(0.0, (why,))
    else:
        if not path.name.lower().endswith(".json"):
            why = f"{path.name} is not a .json file; Label Studio exports JSON"
            return Detection(0.0, (why,))
        seen = survey(path.parent)  # the images beside the export
        names = [path.name]
    looked = names[:OPENS]
    finder = Finder(seen)
    exports: list[Export] = []
    others: list[str] = []
    for name in looked:
        found = sniff(seen.path(name))
        if found.kind in _SCALE:
            exports.append(_judge(name, found, finder))
        else:
            others.append(f"{name} {found.what}")
    skipped = len(names) - len(looked)
    if not exports:
        reasons = [f"no Label Studio export among the {len(looked)} .json file(s) looked at",
                   *others[:3]]
        if skipped:
            reasons.append(f"{skipped} more .json file(s) not looked at")
        return Detection(0.0, tuple(reasons))
    return _verdict(seen, names, looked, exports, others)


def _candidates(seen: Survey) -> list[str]:
    """Return the JSON files to open, in order: shallowest first, export-like names first."""
    found = seen.named("*.json")

    def rank(name: str) -> tuple[int, bool]:
        base = posixpath.basename(name).lower()
        return name.count("/"), not any(hint in base for hint in _HINTS)

    return sorted(found, key=rank)  # sorted() is stable: the survey's order within a rank


def _judge(name: str, found: Sniff, finder: Finder) -> Export:
    """Return the verdict on one export: its confidence, options and reasons."""
    folder = posixpath.dirname(name)
    references = found.references()
    mapping = Mapping.of([finder.place(ref, folder) for ref in references])
    seen = len(found.items)
    reasons = [f"{name} {found.what}; {seen} task(s) looked at"]
    high, some, none = _SCALE[found.kind]
    if not references:
        if all(item.complete for item in found.items):
            fields = ", ".join(found.fields()) or "none"
            where = "data." if found.kind in ("full", "tasks") else ""
            reasons.append(f"{name}: no image reference in the tasks looked at (their "
                           f"{where}* text fields: {fields}); set `image_key` if one is")
            return Export(name, found, mapping, _NO_IMAGE, tuple(reasons))
        reasons.append(f"{name}: its first task is larger than the part read, its image "
                       "reference was not seen")
        return Export(name, found, mapping, none, tuple(reasons))
    if found.image_key != "image":
        reasons.append(f"{name}: images in `{found.image_key}` (set as `image_key`)")
    missing = mapping.missing()
    shown = _how_found(mapping)
    if not missing:
        reasons.append(f"{name}: the {len(references)} image reference(s) looked at are "
                       f"read {shown}")
        return Export(name, found, mapping, high, tuple(reasons))
    unread = [(ref, place) for ref, place in zip(references, mapping.places, strict=True)
              if place in missing]
    first, example = next(((r, p) for r, p in unread if p.hint), unread[0])
    hint = example.hint or "set `images` or `image_prefixes`"
    reasons.append(f"{name}: {len(missing)} of {len(references)} image reference(s) looked "
                   f"at not found among the listed files (such as {first!r}); {hint}")
    return Export(name, found, mapping, some if len(missing) < len(references) else none,
                  tuple(reasons))


def _how_found(mapping: Mapping) -> str:
    parts = []
    if mapping.count("default"):
        parts.append("below the export's folder")
    if mapping.images is not None:
        parts.append(f"from {mapping.images or '.'}/ (`images`)")
    parts += [f"{prefix!r} from {base or '.'}/" for prefix, base in mapping.prefixes.items()]
    if mapping.count("remote"):
        parts.append("from their URLs")
    if mapping.count("embedded"):
        parts.append("from the export itself (data: URIs)")
    return ", ".join(parts)


def _verdict(seen: Survey, names: list[str], looked: list[str], exports: list[Export],
             others: list[str]) -> Detection:
    """Return the detection of the exports found: one source each, or one per folder.

    Sources follow the order the files were looked at; the reasons lead with the best
    export's. An export below the match (a text project) is no source beside one that
    matches: its tasks would give no image.
    """
    best = max(e.confidence for e in exports)
    usable = [e for e in exports if e.confidence >= _MATCH or best < _MATCH]
    sources: list[AnyMapping[str, Any]] = []
    reasons: list[str] = []
    done: set[str] = set()
    for export in usable:
        folder = posixpath.dirname(export.name)
        if folder in done:
            continue
        here = [n for n in names if posixpath.dirname(n) == folder]
        opened = {e.name for e in usable if posixpath.dirname(e.name) == folder}
        if len(here) > len(opened) >= 2 and all(n in opened for n in looked if n in here):
            # More exports than were opened: the folder, read whole, is one source.
            done.add(folder)
            sources.append(export.options(seen, folder))
            reasons.append(f"{folder or '.'}/ holds {len(here)} .json files, {len(opened)} "
                           "looked at, all Label Studio exports: the folder is one source")
            continue
        sources.append(export.options(seen))
    exports = sorted(exports, key=lambda e: -e.confidence)  # stable: file order within
    for export in exports[:_SHOWN]:
        reasons.extend(export.reasons)
    if len(exports) > _SHOWN:
        reasons.append(f"and {len(exports) - _SHOWN} more export(s)")
    if others:
        reasons.append(f"{len(others)} other .json file(s) looked at are not Label Studio "
                       f"exports: {'; '.join(others[:2])}" + ("; ..." if len(others) > 2 else ""))
    if len(names) > len(looked):
        reasons.append(f"{len(names) - len(looked)} .json file(s) not looked at (at most "
                       f"{OPENS} are opened)")
    return Detection(best, tuple(reasons), tuple(sources))
