"""Tell whether a path holds LabelMe files, and the sources that read them: ``detect``.

LabelMe's own marker is in each file: a JSON object with ``shapes`` (a list) and
``imagePath`` (or ``imageData``). A folder is judged from a bounded listing
(``osai_import.survey``) and the first bytes of a few of its JSON files, taken folder by
folder so that one crowded folder does not hide the others. The confidence follows the
share of LabelMe files among those looked at.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from osai_import import IMAGE_SUFFIXES, Detection, Survey, survey
from osai_import_labelme.files import Dir, written_path
from osai_import_labelme.outline import Outline, outline

PREFIX = 64 * 1024
"""Bytes read of a JSON file: enough for its top-level keys before ``imageData``."""
LOOK = 12
"""JSON files opened at most, however many the folder holds."""
_SPLITS = frozenset({"train", "training", "val", "valid", "validation", "test", "testing",
                     "dev", "eval"})
_SHOWN = 3  # file names a reason lists


@dataclass(frozen=True)
class Look:
    """What the first bytes of one JSON file say."""

    relative: str
    kind: str
    """``labelme`` (the marker), ``maybe`` (``shapes`` only), ``other`` or ``broken``."""
    note: str
    image_path: str | None = None
    embedded: bool = False


def detect(path: Dir) -> Detection:
    """Return how well ``path`` (a folder, a .json file) holds LabelMe files; never raises."""
    try:
        if path.is_file():
            return _one_file(path)
        if not path.is_dir():
            return Detection(0.0, (f"{path}: no such file or folder",))
    except OSError as exc:
        return Detection(0.0, (f"{path}: cannot be read ({exc})",))
    return _folder(path)


def look(path: Dir, relative: str) -> Look:
    """Read the first bytes of one JSON file and tell whether it is a LabelMe file."""
    try:
        with path.open("rb") as stream:
            data = stream.read(PREFIX + 1)
    except OSError as exc:
        return Look(relative, "broken", f"{relative} cannot be read ({exc.strerror or exc})")
    found = outline(data[:PREFIX], whole=len(data) <= PREFIX)
    if found is None:
        return Look(relative, "broken", f"{relative} is not valid JSON")
    if not found.is_object:
        return Look(relative, "other", f"{relative} is a JSON list, not an object")
    return _judge(found, relative)


def _judge(found: Outline, relative: str) -> Look:
    keys = found.keys
    image_path = found.text("imagePath")
    embedded = keys.get("imageData", "null") != "null"
    if keys.get("shapes") == "[":
        version = found.text("version")
        said = f" (version {version})" if version else " (no version: LabelMe 3.x)"
        if "imagePath" in keys or "imageData" in keys:
            return Look(relative, "labelme", f"{relative} has `shapes` and `imagePath`{said}",
                        image_path, embedded)
        if {"label", "points"} <= found.shape_keys:
            return Look(relative, "labelme", f"{relative} has `shapes` with `label` and "
                        f"`points`{said}", image_path, embedded)
        return Look(relative, "maybe", f"{relative} has a `shapes` list but no `imagePath`")
    if "shapes" not in keys and not found.complete and keys.get("imageData", "").startswith('"'):
        # Keys written sorted put imageData (the photo, megabytes of base64) before shapes.
        return Look(relative, "labelme", f"{relative} has an embedded `imageData` image, its "
                    f"`shapes` beyond the first {PREFIX // 1024} KB", image_path, embedded)
    shown = ", ".join(list(keys)[:4]) or "none"
    return Look(relative, "other", f"{relative} has no `shapes` list (keys: {shown})")


def _one_file(path: Dir) -> Detection:
    if path.suffix.lower() != ".json":
        return Detection(0.0, (f"{path.name} is not a .json file",))
    seen = look(path, path.name)
    if seen.kind == "labelme":
        reasons = [seen.note]
        if seen.embedded:
            reasons.append(f"{path.name} embeds its image as `imageData`")
        return Detection(0.95, tuple(reasons), ({"path": path},))
    return Detection(0.3 if seen.kind == "maybe" else 0.0, (seen.note,))


def _spread(files: Sequence[str], count: int) -> list[str]:
    """Return up to ``count`` files, one folder after another in turn, in listing order."""
    folders: dict[str, list[str]] = defaultdict(list)
    for name in files:
        folders[posixpath.dirname(name)].append(name)
    picked: list[str] = []
    rank = 0
    while len(picked) < count and any(rank < len(f) for f in folders.values()):
        for names in folders.values():
            if rank < len(names) and len(picked) < count:
                picked.append(names[rank])
        rank += 1
    return picked


def _folder(path: Dir) -> Detection:
    listed = survey(path)
    cut = "" if listed.complete else f" (listing stopped at {len(listed.files)} files)"
    jsons = listed.named("*.json")
    if not jsons:
        why = f"no .json file among the {len(listed.files)} files listed below {path}{cut}"
        return Detection(0.0, (why,))
    looks = [look(listed.path(name), name) for name in _spread(jsons, LOOK)]
    found = [seen for seen in looks if seen.kind == "labelme"]
    if not found:
        maybe = any(seen.kind == "maybe" for seen in looks)
        why = (f"no .json file with `shapes` and `imagePath` among the {len(looks)} of "
               f"{len(jsons)} looked at{cut}")
        return Detection(0.3 if maybe else 0.0, (why, *[s.note for s in looks[:_SHOWN]]))
    share = len(found) / len(looks)
    confidence = 0.95 if share == 1 else 0.9 if share >= 0.5 else 0.7
    reasons = [
        f"{len(found)} of the {len(looks)} .json files looked at (of {len(jsons)} listed"
        f"{cut}) are LabelMe files: " + "; ".join(seen.note for seen in found[:_SHOWN])
    ]
    others = [seen for seen in looks if seen.kind != "labelme"]
    if others:
        reasons.append("not LabelMe files (the reader leaves them out with a warning): "
                       + "; ".join(seen.note for seen in others[:_SHOWN]))
    images = _images(listed, found)
    reasons.append(images[0])
    confidence = min(confidence, images[1])
    sources = _sources(listed, jsons, looks)
    if len(sources) > 1:
        reasons.append(f"one source per split folder: {', '.join(_names(sources))}")
    return Detection(confidence, tuple(reasons), tuple(sources))


def _images(listed: Survey, found: Sequence[Look]) -> tuple[str, float]:
    """Say where the images of the LabelMe files looked at are; cap the confidence if nowhere."""
    files = set(listed.files)
    beside = embedded = 0
    missing: list[str] = []
    for seen in found:
        folder = posixpath.dirname(seen.relative)
        written, absolute = written_path(seen.image_path or "")
        candidates = [posixpath.join(folder, written.name)]
        if not absolute:
            candidates.append(posixpath.normpath(posixpath.join(folder, written.as_posix())))
        if seen.image_path and any(c in files and _is_image(c) for c in candidates):
            beside += 1
        elif seen.embedded:
            embedded += 1
        elif seen.image_path:
            missing.append(seen.image_path)
    text = f"images: {beside} found where `imagePath` says, {embedded} embedded as `imageData`"
    if missing and not beside and not embedded and listed.complete:
        return (text + f"; none found for {', '.join(missing[:_SHOWN])} (set `imagePath` "
                "right, or the images will be errors)", 0.8)
    return text, 1.0


def _is_image(name: str) -> bool:
    # An imagePath naming the JSON file itself (labelme's tutorial) is no image file.
    return posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _sources(listed: Survey, jsons: Sequence[str], looks: Sequence[Look]
             ) -> list[dict[str, Any]]:
    """Return one source per split folder (``train/``, ``val/``...) when the JSON files are
    all in such folders, else one source reading the whole folder."""
    def top(name: str) -> str:
        return name.split("/", 1)[0] if "/" in name else ""

    with_json = {top(name) for name in jsons}
    with_labelme = {top(seen.relative) for seen in looks if seen.kind == "labelme"}
    splits = {d for d in listed.top_dirs() if d.lower() in _SPLITS}
    whole = listed.complete or set(listed.top_dirs()) <= splits
    if with_json == with_labelme == splits and "" not in splits and whole and splits:
        roots = sorted(splits)
    else:
        roots = [""]
    sources = []
    for root in roots:
        source: dict[str, Any] = {"path": listed.path(root)}
        exclude = _exclude(listed, jsons, looks, root)
        if exclude:
            source["exclude"] = exclude
        sources.append(source)
    return sources


def _exclude(listed: Survey, jsons: Sequence[str], looks: Sequence[Look], root: str
             ) -> list[str]:
    """Return the JSON files below ``root`` that are not LabelMe files, as ``exclude``
    patterns, when every JSON file was looked at (else some would be missed)."""
    if not listed.complete or len(looks) < len(jsons):
        return []
    prefix = f"{root}/" if root else ""
    return [
        _escape(seen.relative[len(prefix):]) for seen in looks
        if seen.kind == "other" and seen.relative.startswith(prefix)
    ]


def _escape(name: str) -> str:
    """Return a glob that matches ``name`` only (``[`` and ``*`` taken literally)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _names(sources: Sequence[dict[str, Any]]) -> list[str]:
    return [str(s["path"]).rstrip("/").rsplit("/", 1)[-1] for s in sources]

