"""Images that live inside another file as base64 text: ``embedded_image``.

LabelMe writes a photo into its JSON file as ``imageData``; Label Studio tasks may carry
an image as a ``data:image/png;base64,...`` URI. Such an image has no file of its own, so
a reader points at it with ``embedded_image(container, pointer, name)``: a ``SourcePath``
whose one file, ``name``, is the decoded text found at ``pointer`` in the JSON document
``container``. The image is decoded when it is read (by the check, then by the upload),
never held for the whole run: a folder of 10,000 LabelMe files with embedded photos costs
the memory of a few of them. The container is parsed again at each read, so this suits
containers holding one or a few images; the last documents parsed are kept for a moment
(a bounded cache) so that a check and its size lookups do not parse one file thrice.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from osai_import.location import Kind, SourcePath, SourceStat, Store

_DATA_URI = re.compile(r"^data:[^,;]*(;[^,;=]+=[^,;]*)*;base64,", re.IGNORECASE)
_SPACE = re.compile(rb"\s+")
_KEEP = 4  # documents kept parsed (their decoded images included)

Pointer = tuple[str | int, ...]


def embedded_image(container: Path | SourcePath, pointer: Sequence[str | int],
                   name: str) -> SourcePath:
    """Return a ``SourcePath`` to the base64 image at ``pointer`` in the JSON ``container``.

    ``pointer`` is the list of keys and indexes from the document's root to the string
    (``["imageData"]`` for LabelMe, ``[3, "data", "image"]`` for the fourth task of a
    Label Studio export); the string is plain base64 or a ``data:...;base64,`` URI.
    ``name`` is the file name the image has (the remote name a reader gives it); it must
    not contain ``/``. Nothing is read here: a missing key or bad base64 is an
    ``OSError`` when the image is read, which the check reports as ``image.unreadable``
    naming the container and the pointer.
    """
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"embedded_image: name must be a file name, not {name!r}")
    return SourcePath(EmbeddedStore(container, tuple(pointer), name), name)


def _container_ident(container: Path | SourcePath) -> Hashable:
    if isinstance(container, SourcePath):
        return (container.store.ident(), container.key)
    return str(Path(container).absolute())


def _pointer_text(pointer: Pointer) -> str:
    # RFC 6901's form, the one JSON tools print: /0/data/image
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in pointer)


class EmbeddedStore(Store):
    """One image decoded from base64 text in a JSON document (see ``embedded_image``)."""

    def __init__(self, container: Path | SourcePath, pointer: Pointer, name: str) -> None:
        self.container = container
        self.pointer = pointer
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (EmbeddedStore, (self.container, self.pointer, self.name))

    def ident(self) -> Hashable:
        return ("embedded", _container_ident(self.container), self.pointer, self.name)

    def display(self, key: str) -> str:
        # What messages show: the container and where in it the image is.
        return f"{self.container}#{_pointer_text(self.pointer)}"

    def url(self, key: str) -> str:
        raise OSError(
            f"{self.display(key)}: an image embedded in a JSON file has no URL of its own"
        )

    def stat(self, key: str) -> SourceStat | None:
        if key == "":
            return SourceStat("dir", 0)
        if key != self.name:
            return None
        try:
            return SourceStat("file", len(self._decoded()))
        except OSError:
            # A bad embedding is a file that cannot be read (named when it is), not a
            # missing one: "image.unreadable" with the reason beats "image.missing".
            return SourceStat("file", 0)

    def children(self, key: str) -> list[tuple[str, Kind]]:
        if key == self.name:
            raise NotADirectoryError(self.display(key))
        if key != "":
            raise FileNotFoundError(self.display(key))
        return [(self.name, "file")]

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read(key))

    def read(self, key: str) -> bytes:
        if key == "" or posixpath.basename(key) != key:
            raise IsADirectoryError(self.display(key)) if key == "" else FileNotFoundError(key)
        if key != self.name:
            raise FileNotFoundError(self.display(key))
        return self._decoded()

    def _decoded(self) -> bytes:
        return _decode(self.container, self.pointer, self.display(self.name))


_cache: OrderedDict[tuple[Hashable, Pointer], bytes] = OrderedDict()
_lock = threading.Lock()


def _decode(container: Path | SourcePath, pointer: Pointer, where: str) -> bytes:
    ident = (_container_ident(container), pointer)
    with _lock:
        found = _cache.get(ident)
        if found is not None:
            _cache.move_to_end(ident)
            return found
    data = _decode_now(container, pointer, where)
    with _lock:
        _cache[ident] = data
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return data


def _decode_now(container: Path | SourcePath, pointer: Pointer, where: str) -> bytes:
    try:
        raw = container.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{container}: the file holding the image is gone") from None
    try:
        value: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OSError(f"{container} is no longer valid JSON ({exc})") from None
    for part in pointer:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise OSError(f"{where}: nothing there (the key {part!r} is missing)") from None
    if not isinstance(value, str) or not value:
        raise OSError(f"{where}: holds {type(value).__name__}, not base64 text")
    text = value.strip()
    prefix = _DATA_URI.match(text)
    if prefix is not None:
        text = text[prefix.end():]
    elif text.startswith("data:"):
        raise OSError(f"{where}: a data: URI that is not base64 ({text[:40]}...)")
    try:
        # Line breaks and spaces are allowed in base64 text (MIME wraps it); anything else
        # outside the alphabet means the text is damaged.
        return base64.b64decode(_SPACE.sub(b"", text.encode("ascii")), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise OSError(f"{where}: not valid base64 ({exc})") from None
