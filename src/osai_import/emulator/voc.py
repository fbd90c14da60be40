"""Parse Pascal VOC annotation XML safely: no DTD, no entities, no network."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

_WHITESPACE = re.compile(rb"\s+")
# A VOC file never needs a DTD; .NET's XmlReader refuses one by default
# (DtdProcessing.Prohibit), and refusing it up front means an entity bomb or an
# external entity is never expanded nor fetched.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


class VocError(ValueError):
    """Say why an annotation is not acceptable Pascal VOC (the message is shown to the client)."""


@dataclass(frozen=True)
class VocObject:
    """One ``object`` of a VOC annotation: a named box in absolute pixels."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: int
    truncated: int


def decode_base64(text: str) -> bytes:
    """Decode base64 as .NET's Convert.FromBase64String: whitespace ignored, padding required."""
    compact = _WHITESPACE.sub(b"", text.encode("ascii", errors="replace"))
    if len(compact) % 4:
        raise VocError("is not valid base64 (its length is not a multiple of 4)")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise VocError(f"is not valid base64 ({error})") from None


def parse_voc(data: bytes) -> list[VocObject]:
    """Return the objects of a Pascal VOC document, or raise VocError naming the problem."""
    if any(marker in data for marker in _DTD_MARKERS):
        raise VocError("must not contain a DTD (<!DOCTYPE or <!ENTITY); DTDs are prohibited")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise VocError(f"is not well-formed XML ({error})") from None
    # A DTD could still hide behind an encoding the byte scan cannot see (UTF-16).
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype:
        raise VocError("must not contain a DTD (<!DOCTYPE); DTDs are prohibited")
    if root.tag != "annotation":
        raise VocError(f"root element is <{root.tag}>, expected <annotation>")
    return [_parse_object(number, element) for number, element in
            enumerate(root.findall("object"), start=1)]


def _parse_object(number: int, element: etree._Element) -> VocObject:
    """Read one ``object`` element; ``number`` counts from 1 for the messages."""
    name = _text(element, "name")
    if not name:
        raise VocError(f"object {number} has no <name>")
    box = element.find("bndbox")
    if box is None:
        raise VocError(f"object {number} ({name!r}) has no <bndbox>")
    coords = {key: _number(box, key, number, name) for key in ("xmin", "ymin", "xmax", "ymax")}
    for low, high in (("xmin", "xmax"), ("ymin", "ymax")):
        if not coords[low] < coords[high]:
            raise VocError(
                f"object {number} ({name!r}) has {low} {coords[low]:g} not below "
                f"{high} {coords[high]:g}"
            )
    return VocObject(
        name=name,
        difficult=_flag(element, "difficult", number, name),
        truncated=_flag(element, "truncated", number, name),
        **coords,
    )


def _text(element: etree._Element, tag: str) -> str:
    """Return the stripped text of a child element, '' when absent."""
    child = element.find(tag)
    if child is None or child.text is None:
        return ""
    return str(child.text).strip()


def _number(box: etree._Element, key: str, number: int, name: str) -> float:
    """Return a finite number from ``bndbox``; VOC writers emit ints, some emit floats."""
    text = _text(box, key)
    if not text:
        raise VocError(f"object {number} ({name!r}) <bndbox> has no <{key}>")
    try:
        value = float(text)
    except ValueError:
        raise VocError(
            f"object {number} ({name!r}) <bndbox><{key}> is {text!r}, not a number"
        ) from None
    if not math.isfinite(value):
        raise VocError(f"object {number} ({name!r}) <bndbox><{key}> is {text!r}, not finite")
    return value


def _flag(element: etree._Element, tag: str, number: int, name: str) -> int:
    """Return a 0/1 flag such as ``difficult``; absent or empty means 0."""
    text = _text(element, tag)
    if not text:
        return 0
    if text not in ("0", "1"):
        raise VocError(f"object {number} ({name!r}) <{tag}> is {text!r}, expected 0 or 1")
    return int(text)
