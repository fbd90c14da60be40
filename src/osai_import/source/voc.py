"""Parse one Pascal VOC XML annotation safely: no entities, no DTD, no network.

``parse_voc`` is shared by every reader that meets VOC files (the folder reader's
sidecars, a VOC-directory reader). It refuses any document that declares entities or
names an external DTD (code ``xml.unsafe``) before anything could be expanded or fetched,
reports broken XML with its line (``xml.malformed``) and VOC content it cannot use with
the object it concerns (``xml.invalid``). Coordinates are kept exactly as written (see
``osai_import.records`` for the convention); ``<part>`` sub-boxes are not boxes, but are
counted and named so a reader can say they were left out; class names are normalized to
Unicode NFC, like every name osai-import sends.
"""

from __future__ import annotations

import math
import os
import re
import stat
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from osai_import.errors import ItemError
from osai_import.records import Box

MAX_XML_BYTES = 16 * 1024 * 1024
"""Larger files are refused: a VOC file for one image is a few kilobytes."""

_BOOLS = {"0": False, "1": True, "false": False, "true": True}
# An entity declaration or an external DTD never has a place in a VOC file; seeing one
# means a hostile or broken file, so it is refused before the parser gets to it.
_UNSAFE = re.compile(rb"<!ENTITY|<!DOCTYPE[^>\[]*\b(?:SYSTEM|PUBLIC)\b")
_THREAD = threading.local()
# The first child element of each local name, as _children finds them.
_Fields = dict[str, etree._Element]


@dataclass(frozen=True, slots=True)
class VocAnnotation:
    """What a VOC file says about one image: its file name, its size, and its boxes.

    ``parts`` counts the ``<object><part>`` sub-boxes (a person's head, hands, ...) that
    are not in ``boxes``; ``part_names`` holds their names in document order (NFC,
    ``"unnamed"`` for a part without one), for a reader that warns about them.
    """

    filename: str | None
    width: int | None
    height: int | None
    depth: int | None
    boxes: tuple[Box, ...]
    # Out of ==: what a file says but nobody uploads does not make two annotations differ.
    parts: int = field(default=0, compare=False)
    part_names: tuple[str, ...] = field(default=(), compare=False)


def _parser() -> etree.XMLParser:
    # One parser per thread: lxml parsers are not safe to share between threads, and
    # building one costs about as much as parsing a small VOC file.
    parser: etree.XMLParser | None = getattr(_THREAD, "parser", None)
    if parser is None:
        parser = _THREAD.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    return parser


def _unreadable(source: str, exc: OSError) -> ItemError:
    return ItemError("xml.unreadable", f"{source}: cannot read the XML file: {exc.strerror}")


def _read(path: str | os.PathLike[str], source: str) -> bytes:
    try:
        # O_NONBLOCK keeps a FIFO named like a sidecar from blocking the open itself.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _unreadable(source, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ItemError(
                "xml.unreadable", f"{source}: is not a regular file; remove it or rename it"
            )
        if info.st_size > MAX_XML_BYTES:
            raise ItemError(
                "xml.invalid",
                f"{source}: the XML file has {info.st_size} bytes, more than the "
                f"{MAX_XML_BYTES} a VOC annotation can have; check that it is the right file",
            )
        # The size is known: asking for MAX_XML_BYTES would allocate 16 MiB per file. One
        # byte more than the size shows a file that grew since; os.read on the descriptor
        # skips the buffered file object a single read does not need.
        want = min(info.st_size, MAX_XML_BYTES) + 1
        try:
            data = os.read(fd, want)
            if 0 < len(data) < want:  # read on until EOF or `want` bytes
                chunks = [data]
                got = len(data)
                while got < want and (more := os.read(fd, want - got)):
                    chunks.append(more)
                    got += len(more)
                data = b"".join(chunks)
        except OSError as exc:
            raise _unreadable(source, exc) from None
        return data
    finally:
        os.close(fd)


def _scan_text(data: bytes) -> bytes:
    # UTF-16/32 documents hide ASCII markup between zero bytes; decode them before scanning.
    if b"\x00" not in data[:4] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data
    wide = ("utf-32", "utf-16") if b"\x00\x00" in data[:4] else ("utf-16", "utf-32")
    for codec in (*wide, "utf-16-be", "utf-32-be"):
        try:
            return data.decode(codec).encode("utf-8", errors="replace")
        except UnicodeDecodeError:
            continue
    return data


def _local(tag: object) -> str:
    # Comments and PIs have non-string tags; namespaced tags compare by local name.
    # String slicing instead of etree.QName: parse_voc runs once per sidecar file, and
    # QName objects were most of its time.
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""


def _children(element: etree._Element, every: str = "") -> tuple[_Fields, list[etree._Element]]:
    """Return the first child of each local name, and every child named ``every``.

    One pass per element: every pass makes a Python proxy per child, and a pass per
    field looked up would cost more than parsing the file.
    """
    first: _Fields = {}
    named: list[etree._Element] = []
    for child in element:
        tag = child.tag
        if isinstance(tag, str):  # comments and PIs have non-string tags
            if tag[0] == "{":  # namespaced tags compare by local name, like _local
                tag = tag[tag.rfind("}") + 1 :]
            if tag == every:
                named.append(child)
            if tag not in first:  # the first child of a name wins
                first[tag] = child
    return first, named


def _text(fields: _Fields, name: str) -> str | None:
    child = fields.get(name)
    if child is None:
        return None
    text = child.text
    if text is None:
        return None
    return text.strip() or None


def _nfc(text: str) -> str:
    # ASCII text is always NFC; skipping the call matters once per box.
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _size_value(size: _Fields, name: str, source: str) -> int | None:
    text = _text(size, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ItemError(
            "xml.invalid",
            f"{source}: <size><{name}> is {text!r}, not a whole number of pixels; fix or remove it",
        )
    # 0 is what several tools write when they do not know the size.
    return int(value) or None


def _number(bndbox: _Fields, name: str, where: str) -> float:
    text = _text(bndbox, name)
    if text is None:
        raise ItemError(
            "xml.invalid", f"{where}: <bndbox> has no <{name}>; add it or delete the object"
        )
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or "_" in text:
        raise ItemError(
            "xml.invalid", f"{where}: <{name}> is {text!r}, not a number; fix the coordinate"
        )
    return value


def _flag(obj: _Fields, name: str, where: str) -> bool:
    text = _text(obj, name)
    if text is None:
        return False
    try:
        return _BOOLS[text.lower()]
    except KeyError:
        raise ItemError(
            "xml.invalid", f"{where}: <{name}> is {text!r}; write 0 or 1 (or false/true)"
        ) from None


def _box(obj: _Fields, index: int, total: int, source: str) -> Box:
    name = _text(obj, "name")
    if name is None:
        raise ItemError(
            "xml.invalid",
            f"{source}: object {index} of {total} has no <name>; give the object its class name",
        )
    where = f"{source}: object {index} of {total} ({name!r})"
    bndbox = obj.get("bndbox")
    if bndbox is None:
        raise ItemError("xml.invalid", f"{where} has no <bndbox>; add one or delete the object")
    coords, _ = _children(bndbox)
    return Box(
        label=_nfc(name),
        xmin=_number(coords, "xmin", where),
        ymin=_number(coords, "ymin", where),
        xmax=_number(coords, "xmax", where),
        ymax=_number(coords, "ymax", where),
        difficult=_flag(obj, "difficult", where),
        truncated=_flag(obj, "truncated", where),
        occluded=_flag(obj, "occluded", where),
        pose=_text(obj, "pose") or "Unspecified",
    )


def _refuse_unsafe(source: str) -> ItemError:
    return ItemError(
        "xml.unsafe",
        f"{source}: the XML declares entities or an external DTD (<!DOCTYPE ... SYSTEM> or "
        "<!ENTITY>), which a VOC annotation never needs; it was refused without expanding or "
        "fetching anything. Remove the DOCTYPE from the file",
    )


def parse_voc(data: bytes | str | os.PathLike[str], *, source: str) -> VocAnnotation:
    """Parse a Pascal VOC document (a path or its bytes); raise ItemError naming ``source``.

    ``source`` is how messages name the document (usually its path). Codes:
    ``xml.unreadable`` (cannot read the file), ``xml.unsafe`` (entities or an external
    DTD: refused, never expanded, nothing else read), ``xml.malformed`` (not well-formed,
    with the line), ``xml.invalid`` (wrong root, an object without ``name`` or
    ``bndbox``, a coordinate or flag that is not a number, a bad ``size``).
    """
    raw = data if isinstance(data, bytes) else _read(data, source)
    if len(raw) > MAX_XML_BYTES:
        raise ItemError("xml.invalid", f"{source}: the XML is larger than {MAX_XML_BYTES} bytes")
    if _UNSAFE.search(_scan_text(raw)):
        raise _refuse_unsafe(source)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg or exc).split(", line ")[0]
        if "amplification" in message or "entity reference loop" in message:
            raise _refuse_unsafe(source) from None
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        raise ItemError(
            "xml.malformed", f"{source}:{line}: malformed XML: {message}; fix or delete the file"
        ) from None
    if root is None:
        raise ItemError("xml.malformed", f"{source}: the file holds no XML element")
    # lxml-stubs lack DocInfo.system_url and DTD.iterentities, which lxml has had for years.
    docinfo: Any = root.getroottree().docinfo
    dtd: Any = docinfo.internalDTD
    # Second line of defence for encodings the byte scan cannot read.
    if (
        docinfo.system_url
        or docinfo.public_id
        or (dtd is not None and next(dtd.iterentities(), None) is not None)
    ):
        raise _refuse_unsafe(source)
    if _local(root.tag) != "annotation":
        raise ItemError(
            "xml.invalid",
            f"{source}: the root element is <{_local(root.tag)}>, not <annotation>; "
            "this is not a Pascal VOC file",
        )
    fields, objects = _children(root, "object")
    boxes: list[Box] = []
    parts: list[etree._Element] = []
    total = len(objects)
    for index, obj in enumerate(objects, 1):
        obj_fields, obj_parts = _children(obj, "part")
        boxes.append(_box(obj_fields, index, total, source))
        parts += obj_parts
    part_names = tuple(_nfc(_text(_children(part)[0], "name") or "unnamed") for part in parts)
    size = fields.get("size")
    size_fields = _children(size)[0] if size is not None else {}
    return VocAnnotation(
        filename=_text(fields, "filename"),
        width=_size_value(size_fields, "width", source),
        height=_size_value(size_fields, "height", source),
        depth=_size_value(size_fields, "depth", source),
        boxes=tuple(boxes),
        parts=len(part_names),
        part_names=part_names,
    )
