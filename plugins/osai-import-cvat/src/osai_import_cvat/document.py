"""Stream a CVAT XML document: its ``<meta>``, then each ``<image>`` or ``<track>`` as parsed.

The document is parsed with lxml's ``iterparse`` from a stream (a local file, an archive
member or a bucket object alike), and every top-level element is cleared once handed
out, so memory stays that of one image's annotations however long the file is. Parsing
is safe: no DTD is loaded, no entity is resolved, nothing is fetched from the network,
and a document that declares a DOCTYPE (which CVAT never writes) is refused before any
of its content is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree

from osai_import import SourceError

SHAPES = frozenset(
    {"box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid", "skeleton"}
)
_STEP = re.compile(r"step\s*=\s*(\d+)")


@dataclass(frozen=True)
class Shape:
    """One shape element: its kind, label, attributes as written, and XML line."""

    kind: str
    label: str
    attrib: dict[str, str]
    line: int
    attributes: dict[str, str] = field(default_factory=dict)
    parts: tuple[dict[str, str], ...] = ()
    """A skeleton's point elements' attributes."""


@dataclass
class Image:
    """One ``<image>`` element with what it holds."""

    attrib: dict[str, str]
    line: int
    shapes: list[Shape] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)
    unknown: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Track:
    """One ``<track>`` element: its label and its shapes, each carrying ``frame``."""

    attrib: dict[str, str]
    line: int
    shapes: list[Shape] = field(default_factory=list)
    unknown: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Task:
    """What ``<meta>`` says of one task: how its frames are numbered and their size."""

    id: str = ""
    mode: str = ""
    start_frame: int = 0
    step: int = 1
    size: tuple[int, int] | None = None


@dataclass
class Meta:
    """What ``<meta>`` says: the declared labels and the tasks (one for a task export)."""

    labels: list[str] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Other:
    """A top-level element the reader does not use (``<version>`` aside), and its line."""

    tag: str
    line: int


Item = Meta | Image | Track | Other


def _local(tag: object) -> str:
    # Comments and processing instructions have non-string tags.
    if not isinstance(tag, str):
        return ""
    return tag[tag.rfind("}") + 1 :]


def _line(element: etree._Element) -> int:
    # lxml-stubs type `sourceline` loosely; it is an int, or None when unknown.
    line: Any = element.sourceline
    return int(line or 0)


def _attrib(element: etree._Element) -> dict[str, str]:
    return {str(name): str(value) for name, value in element.attrib.items()}


def _int(text: str | None, default: int) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(name)
    return None if found is None else found.text


def _meta(element: etree._Element) -> Meta:
    meta = Meta()
    for label in element.iter("label"):
        name = _text(label, "name")
        # Skeleton points are labels of their own, with a <parent>: never a category.
        if name and name.strip() and label.find("parent") is None:
            meta.labels.append(name.strip())
    for subsets in element.iter("subsets"):
        meta.subsets.extend(s.strip() for s in (subsets.text or "").splitlines() if s.strip())
    for task in element.iter("task"):
        size = task.find("original_size")
        wh = None
        if size is not None:
            width, height = _int(_text(size, "width"), 0), _int(_text(size, "height"), 0)
            wh = (width, height) if width > 0 and height > 0 else None
        step = _STEP.search(_text(task, "frame_filter") or "")
        meta.tasks.append(
            Task(
                id=(_text(task, "id") or "").strip(),
                mode=(_text(task, "mode") or "").strip().lower(),
                start_frame=_int(_text(task, "start_frame"), 0),
                step=max(1, int(step.group(1))) if step else 1,
                size=wh,
            )
        )
    return meta


def _attributes(element: etree._Element) -> dict[str, str]:
    return {
        child.get("name", ""): (child.text or "").strip()
        for child in element
        if _local(child.tag) == "attribute"
    }


def _shape(element: etree._Element, kind: str, label: str) -> Shape:
    parts = tuple(
        _attrib(child) for child in element if _local(child.tag) in SHAPES
    ) if kind == "skeleton" else ()
    return Shape(
        kind=kind,
        label=label,
        attrib=_attrib(element),
        line=_line(element),
        attributes=_attributes(element),
        parts=parts,
    )


def _image(element: etree._Element) -> Image:
    image = Image(_attrib(element), _line(element))
    for child in element:
        tag = _local(child.tag)
        if tag in SHAPES:
            image.shapes.append(_shape(child, tag, child.get("label", "")))
        elif tag == "tag":
            image.tags.append((child.get("label", ""), _line(child)))
        elif tag:
            image.unknown.append((tag, _line(child)))
    return image


def _track(element: etree._Element) -> Track:
    track = Track(_attrib(element), _line(element))
    label = element.get("label", "")
    for child in element:
        tag = _local(child.tag)
        if tag in SHAPES:
            track.shapes.append(_shape(child, tag, label))
        elif tag:
            track.unknown.append((tag, _line(child)))
    return track


def read_document(stream: IO[bytes], where: str) -> Iterator[Item]:
    """Yield the document's ``Meta`` (when it has one), then each image, track or other element.

    ``where`` names the file in messages. Raises ``SourceError`` naming the file and the
    line for XML that is broken, not CVAT's, or that declares a DOCTYPE.
    """
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    _check_root(element, where)
                continue
            depth -= 1
            if depth != 1:
                continue
            tag = _local(element.tag)
            if tag == "image":
                yield _image(element)
            elif tag == "track":
                yield _track(element)
            elif tag == "meta":
                yield _meta(element)
            elif tag and tag != "version":
                yield Other(tag, _line(element))
            # Drop what was handed out: the tree would otherwise hold the whole file.
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise SourceError(
            f"{where}:{line}: broken XML ({exc.msg}); export the annotations from CVAT again "
            "or fix the file at that line"
        ) from None


def _check_root(root: etree._Element, where: str) -> None:
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise SourceError(
            f"{where}:{_line(root) or 1}: the XML declares a DOCTYPE, which a CVAT export "
            "never has; it was refused without expanding or fetching anything. Remove the "
            "DOCTYPE from the file"
        )
    if _local(root.tag) != "annotations":
        raise SourceError(
            f"{where}:{_line(root) or 1}: the root element is <{_local(root.tag)}>, not "
            "<annotations>: this is not a CVAT for images / CVAT for video XML file"
        )
