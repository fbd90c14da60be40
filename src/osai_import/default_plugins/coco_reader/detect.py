"""Does a path hold COCO files? The `coco` reader's ``detect``.

A COCO file is a JSON object with ``images`` and ``annotations`` (and ``categories``).
Only the first 256 KB of each candidate file are parsed, as a stream: its top-level keys
until then, and the first ``file_name`` values, which locate the image folder among the
files listed around it (``images:`` is proposed when it is not the JSON's own folder).
Roboflow's splits (``train/_annotations.coco.json``, ``valid/...``) are one source each.
"""

from __future__ import annotations

import io
import posixpath
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from osai_import import Detection, SourcePath, Survey, survey

_PREFIX = 256 * 1024
_FILES = 8  # JSON files looked into at most
_NAMES = 8  # file_name values used to find the image folder


def detect_coco(path: Path | SourcePath) -> Detection:
    """Return how well ``path`` (a COCO JSON, or a folder holding some) matches."""
    if path.is_file():
        folder = path.parent
        listing = survey(folder, limit=2000, depth=4)
        relative = path.name
        candidates = [relative]
    else:
        listing = survey(path)
        candidates = _json_candidates(listing)
    if not candidates:
        return Detection(0.0, (f"no .json file among the {len(listing.files)} files listed",))
    reasons: list[str] = []
    sources: list[dict[str, Any]] = []
    listed: list[tuple[str, set[str]]] = []  # each source's JSON and its first file names
    for relative in candidates[:_FILES]:
        found = _look(listing, relative)
        reasons.append(found.reason)
        if found.source is None:
            continue
        same = next((other for other, seen in listed
                     if found.names and len(found.names & seen) * 2 >= len(found.names)), None)
        if same is not None:
            # instances_train.json and person_keypoints_train.json: other annotations of
            # the same images, not a split; reading both would send every image twice.
            reasons.append(f"{relative} lists the same images as {same}: left out, as an "
                           "alternative to it")
            continue
        listed.append((relative, found.names))
        sources.append(found.source)
    if not sources:
        return Detection(0.1 if any("COCO" in r for r in reasons) else 0.0, tuple(reasons))
    certain = all(s.pop("_certain") for s in sources)
    return Detection(0.95 if certain else 0.7, tuple(reasons), tuple(sources))


def _json_candidates(listing: Survey) -> list[str]:
    """Return the JSON files most likely to be COCO first (by name), then the others."""
    files = listing.named("*.json")

    def rank(name: str) -> tuple[int, str]:
        base = posixpath.basename(name).lower()
        likely = "coco" in base or "instances" in base or "annotation" in base
        return (0 if likely else 1, name)

    return sorted(files, key=rank)


class _Found:
    def __init__(self, reason: str, source: dict[str, Any] | None = None,
                 names: set[str] | None = None) -> None:
        self.reason, self.source, self.names = reason, source, names or set()


def _look(listing: Survey, relative: str) -> _Found:
    """Look into one JSON file's head; return what it is, and its source if COCO."""
    path = listing.path(relative)
    try:
        with path.open("rb") as stream:
            head = stream.read(_PREFIX)
    except OSError as exc:
        return _Found(f"{relative}: cannot be read ({exc})")
    keys, names = _head(head)
    if "images" not in keys:
        shown = ", ".join(sorted(keys)[:6]) or "no object"
        return _Found(f"{relative}: no `images` key in its first {_PREFIX // 1024} KB "
                      f"({shown}): not COCO")
    if "annotations" not in keys and "categories" not in keys and len(head) < _PREFIX:
        return _Found(f"{relative}: has `images` but neither `annotations` nor "
                      "`categories`: not COCO")
    certain = "annotations" in keys or "categories" in keys
    source: dict[str, Any] = {"path": path, "_certain": certain}
    json_folder = posixpath.dirname(relative)
    holders = listing.folders_holding(names)
    where = ""
    if names and holders:
        best = _best_folder(holders, json_folder, relative)
        if best != json_folder:
            source["images"] = listing.path(best)
            where = f"; its images are in {best or 'the top folder'}/"
    elif names:
        where = (f"; none of its first images ({names[0]}, ...) was found among the files "
                 "listed: set `images:` to their folder")
    marks = ", ".join(k for k in ("images", "annotations", "categories") if k in keys)
    return _Found(f"{relative}: a COCO file ({marks}){where}", source, set(names))


def _best_folder(holders: Counter[str], json_folder: str, relative: str) -> str:
    """Pick the image folder: the most names found, then the JSON's own, then its split."""
    top = max(holders.values())
    best = [folder for folder, count in holders.items() if count == top]
    if json_folder in best:
        return json_folder
    stem = posixpath.basename(relative).lower()
    for folder in sorted(best):
        if posixpath.basename(folder).lower() in stem:
            return folder
    return min(best)


def _head(data: bytes) -> tuple[set[str], list[str]]:
    """Return the top-level keys and the first image file names seen in a JSON prefix."""
    keys: set[str] = set()
    names: list[str] = []
    try:
        for prefix, event, value in _events(data):
            if prefix == "" and event == "map_key":
                keys.add(str(value))
            elif prefix == "images.item.file_name" and isinstance(value, str):
                if len(names) < _NAMES:
                    names.append(value)
            elif prefix == "" and event == "start_array":
                return keys, names  # a list at the top: not COCO
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError):
        pass  # the prefix ends mid-value, or the file is not JSON: what was seen stands
    return keys, names


def _events(data: bytes) -> Iterator[tuple[str, str, Any]]:
    yield from ijson.parse(io.BytesIO(data))
