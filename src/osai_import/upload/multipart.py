"""The UploadChunk request: its items, its multipart/form-data body, its result."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from osai_import.errors import ItemReadError, UnsendableNameError
from osai_import.plugin.base import Annotation
from osai_import.upload.answers import Id

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class ChunkItem:
    """One image of a chunk: its remote name, its bytes (or how to read them), its labels.

    ``data`` is the bytes, a path, or a callable that opens a binary file object; it is
    read once per ``upload_chunk`` call, so every retry sends identical bytes.
    ``annotation`` is sent base64-encoded with its type; ``category_id`` is the
    whole-image category (``classifyCategoryId``).
    """

    name: str
    data: bytes | os.PathLike[str] | Opener
    annotation: Annotation | None = None
    category_id: Id | None = None


@dataclass(frozen=True)
class ChunkResult:
    """What came of one accepted chunk.

    ``maybe_committed`` is True when an earlier try of this chunk may have been stored
    although its answer was lost: the server may then hold these images twice.
    ``skipped`` lists the names the server says it dropped (``skip_unsupported``), best
    effort: the answer's shape is not documented. ``body`` is that answer, parsed.
    """

    count: int
    bytes_sent: int
    attempts: int
    maybe_committed: bool
    skipped: tuple[str, ...] = ()
    body: Any = field(default=None, compare=False)


def refuse_unsendable_names(items: Sequence[ChunkItem]) -> None:
    """Raise UnsendableNameError for the first name that cannot be sent as it is."""
    for index, item in enumerate(items):
        name = item.name
        # Servers read a backslash in a part's file name as an escape or a Windows path
        # separator (and drop what precedes it), and CR/LF end the header line.
        if (not isinstance(name, str) or not name.strip() or "\\" in name
                or any(ord(c) < 32 or ord(c) == 127 for c in name)):
            raise UnsendableNameError(index, str(name))
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: a file name that was not UTF-8
            raise UnsendableNameError(index, name) from None


def _mime(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return "application/octet-stream"


def read_item(index: int, item: ChunkItem) -> bytes:
    """Return the bytes of item ``index``, or raise ItemReadError naming it."""
    data = item.data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    try:
        if isinstance(data, os.PathLike):
            return Path(data).read_bytes()
        with data() as handle:
            return handle.read()
    except OSError as error:
        raise ItemReadError(index, item.name, error) from None


def encode_chunk(dataset_id: Id, upload_id: Id, items: Sequence[ChunkItem]) -> tuple[bytes, str]:
    """Return the multipart body of an UploadChunk request and its Content-Type.

    Fields come first (``datasetId``, ``datasetUploadId``, then per image ``name``,
    ``annotationType`` and ``annotation`` (an empty annotation and no type when there
    is none) and ``classifyCategoryId`` when given), then one ``imagesFiles`` part per
    image in index order, each with the image's name as its file name.
    """
    refuse_unsendable_names(items)
    boundary = "osai-import-" + secrets.token_hex(16)
    head = f"--{boundary}\r\nContent-Disposition: form-data; name="
    parts: list[bytes] = []

    def value(name: str, text: str) -> None:
        parts.append(f'{head}"{name}"\r\n\r\n{text}\r\n'.encode())

    value("datasetId", str(dataset_id))
    value("datasetUploadId", str(upload_id))
    for i, item in enumerate(items):
        value(f"imagesMetadata[{i}][name]", item.name)
        if item.annotation is not None:
            value(f"imagesMetadata[{i}][annotationType]", str(int(item.annotation.type)))
            value(f"imagesMetadata[{i}][annotation]",
                  base64.b64encode(item.annotation.data).decode("ascii"))
        else:
            value(f"imagesMetadata[{i}][annotation]", "")
        if item.category_id is not None:
            value(f"imagesMetadata[{i}][classifyCategoryId]", str(item.category_id))
    for i, item in enumerate(items):
        data = read_item(i, item)
        # Quote as browsers and curl do (WHATWG): what the service's web app already sends.
        filename = item.name.replace('"', "%22")
        parts.append(f'{head}"imagesFiles"; filename="{filename}"\r\n'
                     f"Content-Type: {_mime(data)}\r\n\r\n".encode())
        parts += (data, b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
