"""Parse one LabelMe JSON file's top level: image path, embedded image, size, flags, shapes.

Every LabelMe version seen in the wild is read: 3.x files without ``version``,
``flags``, ``imageHeight``/``imageWidth`` or ``shape_type`` (with ``lineColor`` and
``fillColor``), and 4.x to 6.x files with all of them. Keys this reader does not use are
ignored, as LabelMe itself keeps them aside.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from osai_import import ItemError
from osai_import_labelme.files import MAX_JSON_BYTES

_LABELME_KEYS = frozenset({"shapes", "imagePath", "imageData"})
_DATA_URI = re.compile(r"^\s*data:[^,;]*(;[^,;=]+=[^,;]*)*;base64,", re.IGNORECASE)

# Magic bytes of the formats an embedded image may have, and the suffix it is named with.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"GIF8", ".gif"),
    (b"BM", ".bmp"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)


class NotLabelme(Exception):
    """A JSON file that is not a LabelMe file (a COCO file, a class list...)."""


@dataclass
class Document:
    """The top level of one LabelMe file, checked."""

    image_path: str | None
    """``imagePath`` as written (None when absent, null or empty)."""
    embedded_suffix: str | None
    """The suffix of the embedded image's format (``.jpg``), ``""`` when unknown, None
    when the file has no ``imageData``."""
    width: int | None
    height: int | None
    flags: dict[str, bool]
    version: str | None
    shapes: list[Any]
    notes: list[str] = field(default_factory=list)
    """What was odd but not wrong (a size that is not a positive whole number)."""


def parse_document(data: bytes, where: str) -> Document:
    """Parse a LabelMe file's bytes; raise ItemError naming ``where``, or NotLabelme.

    Codes: ``labelme.bad_json`` (not JSON), ``labelme.invalid`` (a key LabelMe needs
    is missing or of the wrong type).
    """
    if len(data) > MAX_JSON_BYTES:
        raise ItemError(
            "labelme.unreadable",
            f"{where}: has {len(data)} bytes, more than a LabelMe file holds; leave it out "
            "with `exclude`",
        )
    try:
        raw: Any = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ItemError(
            "labelme.bad_json",
            f"{where}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix or re-save "
            "the file in LabelMe",
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ItemError(
            "labelme.bad_json", f"{where}: not JSON text ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(raw, dict) or not _LABELME_KEYS & raw.keys():
        raise NotLabelme(where)
    shapes = raw.get("shapes")
    if not isinstance(shapes, list):
        raise _invalid(where, "shapes", shapes, "a list")
    image_path = raw.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise _invalid(where, "imagePath", image_path, "a string")
    image_data = raw.get("imageData")
    if image_data is not None and not isinstance(image_data, str):
        raise _invalid(where, "imageData", image_data, "base64 text")
    flags = raw.get("flags")
    if flags is None:
        flags = {}
    if not isinstance(flags, dict) or not all(isinstance(v, bool) for v in flags.values()):
        raise _invalid(where, "flags", flags, "an object of true/false values")
    version = raw.get("version")
    document = Document(
        image_path=(image_path.strip() or None) if image_path else None,
        embedded_suffix=embedded_suffix(image_data) if image_data else None,
        width=None,
        height=None,
        flags=flags,
        version=version if isinstance(version, str) else None,
        shapes=shapes,
    )
    document.width = _size(raw, "imageWidth", document.notes)
    document.height = _size(raw, "imageHeight", document.notes)
    return document


def embedded_suffix(text: str) -> str:
    """Return the suffix of the format of base64 image text, from its first bytes only.

    Only the first 24 characters are decoded: the image itself is decoded when it is
    read, not here. ``""`` when the format is not one of those known.
    """
    prefix = _DATA_URI.match(text)
    head = "".join(text[prefix.end() if prefix else 0 :][:64].split())[:24]
    try:
        magic = base64.b64decode(head[: len(head) // 4 * 4])
    except (binascii.Error, ValueError):
        return ""
    return next((suffix for start, suffix in _MAGIC if magic.startswith(start)), "")


def _size(raw: dict[str, Any], key: str, notes: list[str]) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    notes.append(f"`{key}` is {value!r:.40}, not a positive whole number")
    return None


def _invalid(where: str, key: str, value: Any, wanted: str) -> ItemError:
    shown = "missing" if value is None else f"{type(value).__name__} {value!r:.40}"
    return ItemError(
        "labelme.invalid",
        f"{where}: `{key}` is {shown}, not {wanted}; fix the file or re-save it in LabelMe",
    )
