"""Does a path hold a Pascal VOC folder? The ``voc`` reader's ``detect``.

The marker is the XML itself: a document whose root element is ``<annotation>`` (one per
image, with ``<filename>``, ``<size>``, ``<object>``), of which the first 64 KB of up to
four files are looked at. Where they are decides the confidence: ``Annotations/`` beside
``JPEGImages/``, the devkit's own names, 0.95; other names (``annotations/`` +
``images/``) or XML beside its image (LabelImg), 0.85 when the XML's images are there,
0.7 otherwise; annotations without any image folder, 0.55 (every item will say its image
is missing). A path without a VOC folder of its own is looked at one level down:
``VOCdevkit/`` with ``VOC2007/`` and ``VOC2012/``, or an export's ``train/``, ``valid/``
and ``test/``, give a source each.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from osai_import import Detection, OsaiImportError, Survey, survey
from osai_import_voc.layout import Dir
from osai_import_voc.roles import ANNOTATION_NAMES, Held, count, roles

_LIMIT = 4000  # entries listed
_DEPTH = 4  # VOCdevkit/VOC2012/Annotations/a.xml
_XMLS = 4  # XML files looked into per folder
_CHILDREN = 8  # folders below the path judged when it holds no VOC folder itself
_BUDGET = 48  # files opened at most
_HEAD = 64 * 1024  # bytes of an XML file looked at
_DEFAULTS = {"annotations": "Annotations", "images": "JPEGImages"}


@dataclass
class _Found:
    confidence: float
    reasons: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Budget:
    left: int = _BUDGET


def detect_voc(path: Dir) -> Detection:
    """Return how well ``path`` (a VOC folder, a folder above one, one XML file) matches."""
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
    """Judge one XML file: a VOC annotation is judged with the folders around it."""
    if path.suffix.lower() != ".xml":
        return _Found(0.0, [f"{path.name}: not an XML file"])
    kind, _filename = _sniff(path, budget)
    if kind != "annotation":
        return _Found(0.05, [f"{path.name}: {kind}: not a Pascal VOC annotation"])
    folder = path.parent
    above = folder.parent
    beside = survey(folder, limit=_LIMIT, depth=1)
    if above == folder or beside.images():
        # Images beside the XML (LabelImg), or the root of an archive: the folder is the
        # dataset's own.
        return _judge(beside, "", budget, annotations=".")
    return _judge(survey(above, limit=_LIMIT, depth=2), "", budget, annotations=folder.name)


def _folder(path: Dir, budget: _Budget) -> _Found:
    listing = survey(path, limit=_LIMIT, depth=_DEPTH)
    own = _judge(listing, "", budget)
    if own.confidence >= 0.5:
        return own
    below = [(child, _judge(listing, child, budget))
             for child in [d for d in listing.top_dirs() if _holds_xml(listing, d)][:_CHILDREN]]
    matching = [(child, found) for child, found in below if found.confidence >= 0.5]
    if not matching:
        extra = [f"{child}/: {found.reasons[0]}" for child, found in below if found.reasons]
        return _Found(own.confidence, own.reasons + extra)
    reasons = [f"{child}/: {reason}" for child, found in matching for reason in found.reasons]
    sources = [source for _child, found in matching for source in found.sources]
    # A folder above the dataset is one step less certain than the dataset's own folder.
    confidence = round(min(found.confidence for _child, found in matching) - 0.05, 3)
    return _Found(confidence, reasons, sources)


def _holds_xml(listing: Survey, child: str) -> bool:
    return any(f.startswith(child + "/") and f.lower().endswith(".xml") for f in listing.files)


def _judge(listing: Survey, prefix: str, budget: _Budget, annotations: str | None = None
           ) -> _Found:
    """Return the verdict on the folder ``prefix`` of the listing (``""``: its root)."""
    names: defaultdict[str, list[str]] = defaultdict(list)
    for file in _below(listing, prefix):
        folder, _slash, name = file.rpartition("/")
        if "/" not in folder:  # the folder itself and its sub-folders, not deeper
            names[folder or "."].append(name)
    held = {folder: count(files) for folder, files in names.items()}
    found_annotations, images = roles(held)
    if annotations is None and _datasets_below(held, found_annotations, images):
        shown = ", ".join(f"{f}/" for f, h in sorted(held.items()) if h.xml and f != ".")
        return _Found(0.2, [(f"{shown} hold XML files of their own: each is looked at as a "
                             "dataset folder")])
    annotations = annotations or found_annotations
    if annotations is None:
        total = sum(h.images for h in held.values())
        return _Found(0.0, [(f"no .xml file in the folder or its sub-folders"
                             f"{f' ({total} images)' if total else ''}")])
    xmls = [n for n in names.get(annotations, []) if n.lower().endswith(".xml")]
    looked = [(n, *_sniff(listing.path(_join(prefix, annotations, n)), budget))
              for n in xmls[:_XMLS]]
    voc = [(n, filename) for n, kind, filename in looked if kind == "annotation"]
    where = _shown(annotations)
    if not voc:
        seen = "; ".join(f"{n}: {kind}" for n, kind, _f in looked) or "none looked at"
        return _Found(0.1, [f"no Pascal VOC annotation in {where} ({seen})"])
    reasons = [(f"{len(voc)} of the {len(looked)} XML files looked at in {where} are VOC "
                f"annotations ({', '.join(n for n, _f in voc)})")]
    chosen = {"annotations": annotations, "images": images}
    # Only the folder names that differ from VOC's own go into the config.
    source: dict[str, Any] = {"path": listing.path(prefix)} | {
        option: value for option, value in chosen.items()
        if value is not None and value != _DEFAULTS[option]
    }
    if images is None:
        reasons.append("no images in the folder or beside the annotations: every item will "
                       "be an error (voc.image_missing) until they are added")
        return _Found(0.55, reasons, [source])
    pictures = set(names.get(images, []))
    matched = [n for n, filename in voc if _has_image(n, filename, pictures)]
    reasons.append(f"{len(matched)} of them have their image in {_shown(images)}")
    lists = [n for n in _below(listing, _join(prefix, "ImageSets", "Main"))
             if n.endswith(".txt") and "/" not in n]
    if lists:
        reasons.append(f"ImageSets/Main holds {len(lists)} list(s)")
    if annotations == "Annotations" and images == "JPEGImages":
        return _Found(0.95, reasons, [source])
    return _Found(0.85 if matched else 0.7, reasons, [source])


def _datasets_below(held: dict[str, Held], annotations: str | None, images: str | None
                    ) -> bool:
    """Tell whether the sub-folders holding XML are datasets (splits), not a folder role."""
    if annotations is None or annotations == "." or annotations in ANNOTATION_NAMES:
        return False
    several = sum(1 for folder, h in held.items() if h.xml and folder != ".") > 1
    return several or images == annotations


def _has_image(xml_name: str, filename: str | None, pictures: set[str]) -> bool:
    stem = posixpath.splitext(xml_name)[0]
    return (filename in pictures) or any(posixpath.splitext(p)[0] == stem for p in pictures)


def _below(listing: Survey, prefix: str) -> list[str]:
    if not prefix:
        return list(listing.files)
    start = prefix + "/"
    return [f[len(start):] for f in listing.files if f.startswith(start)]


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p and p != ".")


def _shown(folder: str) -> str:
    return "the folder itself" if folder == "." else f"{folder}/"


def _sniff(path: Dir, budget: _Budget) -> tuple[str, str | None]:
    """Return what an XML file's head is (``annotation`` for VOC) and its ``<filename>``."""
    if budget.left <= 0:
        return "not looked at", None
    budget.left -= 1
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEAD)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})", None
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        # The reader refuses such documents unread (xml.unsafe): so does its detect.
        return "declares a DTD or entities", None
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: str | None = None
    filename: str | None = None
    try:
        parser.feed(head)
        for happened in parser.read_events():
            event, element = happened[0], happened[-1]
            if not isinstance(element, ET.Element):
                continue
            if event == "start" and root is None:
                root = element.tag
            elif event == "end" and element.tag == "filename" and filename is None:
                filename = (element.text or "").strip() or None
    except ET.ParseError:
        pass  # what was read before the fault stands (the head may end mid-element)
    if root is None:
        return "not XML", None
    return ("annotation" if root == "annotation" else f"root element <{root}>"), filename
