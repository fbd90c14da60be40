"""Tell whether a path holds CVAT XML exports, and the sources that read them: ``detect``.

CVAT's own marker is at the top of its XML: a root ``<annotations>`` whose first children
are ``<version>1.1</version>`` and ``<meta>`` with a ``<task>`` or a ``<project>``. Only
the first bytes of a file are parsed (the meta of a project can be long, the images and
tracks after it longer). A folder is judged from a bounded listing two levels deep
(``osai_import.survey``): its own XML files, else those of its sub-folders (one export
per task, extracted), else the export zips it holds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from osai_import import Detection, SourceError, SourcePath, Survey, locate, survey
from osai_import_cvat.files import Where

PREFIX = 64 * 1024
"""Bytes of an XML file parsed: its root, version and meta, often its first images."""
LOOK = 12
"""XML files opened at most, however many the folder holds."""
_ZIPS = 4  # archives looked into, for an export zip or a zip of images
_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
_MATCH = 0.5


@dataclass
class Peek:
    """What the first bytes of one XML file say."""

    relative: str
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        return f"{self.relative} " + ", ".join(self.notes)


def detect(path: Where) -> Detection:
    """Return how well ``path`` (a folder, an archive, an XML file) holds a CVAT export.

    Never raises: what cannot be read is a reason.
    """
    try:
        if path.is_file():
            return _one_file(path)
        if not path.is_dir():
            return Detection(0.0, (f"{path}: no such file or folder",))
        return _folder(path)
    except (OSError, SourceError) as exc:
        return Detection(0.0, (f"{path}: cannot be read ({exc})",))


def peek(path: Where, relative: str) -> Peek:
    """Parse the first bytes of one XML file and tell how much it looks like CVAT's."""
    seen = Peek(relative)
    try:
        with path.open("rb") as stream:
            data = stream.read(PREFIX)
    except OSError as exc:
        seen.notes.append(f"cannot be read ({exc.strerror or exc})")
        return seen
    if b"<!doctype" in data[:4096].lower():
        seen.notes.append("declares a DOCTYPE, which CVAT never writes (the reader refuses it)")
        return seen
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=False)
    broken = ""
    try:
        parser.feed(data)
    except etree.XMLSyntaxError as exc:
        broken = f"is not well-formed XML ({exc.msg})"
    _judge(seen, _walk(parser), broken)
    return seen


@dataclass
class _Seen:
    root: str = ""
    version: str | None = None
    meta: str = ""  # "task" or "project"
    mode: str = ""
    forms: set[str] = field(default_factory=set)
    closed: bool = False


def _walk(parser: etree.XMLPullParser) -> _Seen:
    """Collect the root, ``<version>``, ``<meta>``'s first child and the top-level forms."""
    seen = _Seen()
    path: list[str] = []
    try:
        for event, element in parser.read_events():
            tag = getattr(element, "tag", "")
            tag = tag if isinstance(tag, str) else ""  # a comment's tag is a function
            if event == "start":
                path.append(tag)
                if len(path) == 1:
                    seen.root = tag
                elif len(path) == 2 and tag in ("image", "track"):
                    seen.forms.add(tag)
                elif len(path) == 3 and path[1] == "meta" and tag in ("task", "project"):
                    seen.meta = seen.meta or tag
                continue
            if len(path) == 2 and tag == "version":
                seen.version = _text(element)
            elif tag == "mode" and path[1:3] == ["meta", "task"] and len(path) == 4:
                seen.mode = _text(element)
            path.pop()
            seen.closed = not path
    except etree.XMLSyntaxError:
        pass  # the events before the error were read; the error is reported by the caller
    return seen


def _text(element: object) -> str:
    text = getattr(element, "text", None)
    return text.strip() if isinstance(text, str) else ""


def _judge(peeked: Peek, seen: _Seen, broken: str) -> None:
    notes = peeked.notes
    if seen.root != "annotations":
        if seen.root:
            voc = " (Pascal VOC)" if seen.root == "annotation" else ""
            notes.append(f"has the root <{seen.root}>, not <annotations>{voc}")
        else:
            notes.append(broken or "is empty")
        return
    notes.append("has <annotations>")
    if seen.version is not None:
        notes.append(f"<version>{seen.version}</version>")
    if seen.meta:
        notes.append(f"<meta><{seen.meta}>" + (f" (mode {seen.mode})" if seen.mode else ""))
    if seen.version == "1.1" and seen.meta:
        peeked.confidence = 0.95
    elif seen.version is not None and seen.meta:
        peeked.confidence = 0.7
        notes.append("a version the reader was not written for (it reads 1.1)")
    elif seen.version is not None or seen.meta:
        peeked.confidence = 0.8
    elif seen.forms:
        peeked.confidence = 0.6
    else:
        peeked.confidence = 0.2
        notes.append("but no <version>, <meta>, <image> or <track>")
        if broken:
            notes.append(broken)
        return
    if "image" in seen.forms:
        notes.append("<image> elements (CVAT for images)")
    if "track" in seen.forms:
        notes.append("<track> elements (CVAT for video)")
    if not seen.forms:
        notes.append("no <image> or <track>" + (
            "" if seen.closed else f" in its first {PREFIX // 1024} KB"))
    if broken:
        notes.append(broken)
        peeked.confidence = min(peeked.confidence, 0.4)


def _one_file(path: Where) -> Detection:
    if path.suffix.lower() != ".xml":
        return Detection(0.0, (f"{path.name} is not an .xml file",))
    seen = peek(path, path.name)
    if seen.confidence < _MATCH:
        return Detection(seen.confidence, (seen.note,))
    beside = survey(path.parent, limit=2000, depth=1)
    options, where, cap = _images(beside, path.name, {"path": path})
    return Detection(min(seen.confidence, cap), (seen.note, where), (options,))


def _folder(path: Where) -> Detection:
    listed = survey(path, depth=2)
    xmls = _ordered(listed.named("*.xml"))
    peeks = [peek(listed.path(name), name) for name in xmls[:LOOK]]
    found = [p for p in peeks if p.confidence >= _MATCH]
    if not found:
        zips = _export_zips(path, listed)
        if zips is not None:
            return zips
        cut = "" if listed.complete else f" (listing stopped at {len(listed.files)} files)"
        if not xmls:
            none = (f"no .xml file among the {len(listed.files)} files listed below {path}, "
                    f"two folders deep{cut}")
            return Detection(0.0, (none,))
        best = max((p.confidence for p in peeks), default=0.0)
        why = (f"no CVAT XML (<annotations> with <version> and <meta>) among the "
               f"{len(peeks)} .xml files looked at of {len(xmls)} listed{cut}")
        return Detection(best, (why, *[p.note for p in peeks[:3]]))
    top = min(_level(p.relative) for p in found)
    chosen = [p for p in found if _level(p.relative) == top]
    reasons = [p.note for p in chosen]
    sources = []
    confidence = 1.0
    for seen in chosen:
        folder = posixpath.dirname(seen.relative)
        alone = posixpath.basename(seen.relative) == "annotations.xml"
        options: dict[str, Any] = {"path": listed.path(folder if alone else seen.relative)}
        options, where, cap = _images(listed, seen.relative, options)
        reasons.append(where)
        sources.append(options)
        confidence = min(confidence, seen.confidence, cap)
    others = [p.note for p in peeks if p not in chosen and p.confidence < _MATCH]
    if others:
        reasons.append("not CVAT: " + "; ".join(others[:3]))
    return Detection(confidence, tuple(reasons), tuple(sources))


def _level(relative: str) -> int:
    return relative.count("/")


def _ordered(names: Sequence[str]) -> list[str]:
    """Return XML files top folder first, ``annotations.xml`` first in each folder."""
    return sorted(names, key=lambda n: (_level(n), posixpath.dirname(n),
                                        posixpath.basename(n) != "annotations.xml", n))


def _images(listed: Survey, relative: str, options: dict[str, Any]
            ) -> tuple[dict[str, Any], str, float]:
    """Return the source's options with ``images`` when needed, where the images are, and
    a cap on the confidence (below 0.9 when no image was seen)."""
    folder = posixpath.dirname(relative)
    name = posixpath.basename(relative)

    def inside(entry: str) -> str:
        return posixpath.join(folder, entry) if folder else entry

    if listed.has_dir(inside("images")):
        return options, f"{name}: its images are in images/ beside it", 1.0
    archives = [f for f in listed.files if posixpath.dirname(f) == folder
                and posixpath.basename(f).lower() in {f"images{s}" for s in _ARCHIVES}]
    if archives:
        archive = listed.path(archives[0])
        if isinstance(archive, Path):
            images = _into_images(archive)
            return ({**options, "images": images},
                    f"{name}: its images are in {posixpath.basename(archives[0])} beside it",
                    1.0)
        where = (f"{name}: {posixpath.basename(archives[0])} beside it may hold its images: "
                 "set `images` to it")
        return options, where, 0.8
    if any(posixpath.dirname(f) == folder for f in listed.images()):
        return options, f"{name}: its images are beside it", 1.0
    where = (f"{name}: no images/ folder, images archive or image beside it: set `images` "
             "to where they are")
    return options, where, 0.8


def _into_images(archive: Path) -> Path:
    """Return the archive's path, continued into its ``images/`` folder when that is all
    it holds at the top (CVAT's layout zipped as is)."""
    try:
        root = locate(archive)
        top = root.entries() if isinstance(root, SourcePath) else []
    except (OSError, SourceError):
        return archive
    if [(n, k) for n, k in top if not n.startswith(".")] == [("images", "dir")]:
        return archive / "images"
    return archive


def _export_zips(path: Where, listed: Survey) -> Detection | None:
    """Return the detection of a folder holding CVAT export zips (annotations.xml at their
    top), one source each; None when it holds none."""
    if not isinstance(path, Path):
        return None  # archives in archives and buckets are not opened to detect
    zips = [f for f in listed.files if "/" not in f and f.lower().endswith(_ARCHIVES)]
    sources: list[dict[str, Any]] = []
    reasons: list[str] = []
    confidence = 1.0
    for name in zips[:_ZIPS]:
        try:
            root = locate(path / name)
            xml = root / "annotations.xml"
            if not isinstance(root, SourcePath) or not xml.is_file():
                continue
        except (OSError, SourceError):
            continue
        seen = peek(xml, f"{name}/annotations.xml")
        if seen.confidence >= _MATCH:
            sources.append({"path": path / name})
            reasons.append(seen.note)
            confidence = min(confidence, seen.confidence)
    if not sources:
        return None
    return Detection(confidence, (*reasons, "one source per export archive"),
                     tuple(sources))
