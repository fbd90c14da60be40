"""The UploadChunk request: its items, its multipart/form-data body, its result.

The body is streamed (``ChunkBody``): its form fields are built in memory, its images are
read from their files while the request is sent, a block at a time, so a worker holds
little whatever the images' size, and the length is known before the first byte leaves
(the request carries a Content-Length, as browsers' and OSAI's own client's do). Each
try iterates the body anew, re-reading the files; a file digested before its chunk left
(``checked.CheckedFile``) must give the same bytes every time, or its chunk's body is cut
short before its end and the item fails by name (``ItemStreamError``).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from osai_import.errors import ItemError, ItemReadError, UnsendableNameError
from osai_import.plugin.base import Annotation
from osai_import.upload.answers import Id
from osai_import.upload.checked import BLOCK, CheckedFile, stream_file

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class ChunkItem:
    """One image of a chunk: its remote name, its bytes (or how to read them), its labels.

    ``data`` is the bytes, a path, a callable that opens a binary file object (each read
    whole once per ``upload_chunk`` call, so every retry sends identical bytes), or a
    ``CheckedFile``, streamed from its file by every try and checked against its digest.
    ``annotation`` is sent base64-encoded with its type; ``category_id`` is the
    whole-image category (``classifyCategoryId``).
    """

    name: str
    data: bytes | os.PathLike[str] | Opener | CheckedFile
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
    if isinstance(data, CheckedFile):
        return b"".join(ChunkBody([_FilePart(index, item.name, data)]))
    try:
        if isinstance(data, os.PathLike):
            return Path(data).read_bytes()
        with data() as handle:
            return handle.read()
    except OSError as error:
        raise ItemReadError(index, item.name, error) from None


class ItemStreamError(ItemError):
    """The file of one chunk item failed while its chunk was sent: the body was cut short.

    Its code and words are the file's (``image.changed``, ``image.missing``...). The
    server never got the whole body, so this try stored nothing; ``maybe_committed`` says
    whether an earlier try of the same call lost its answer (and may be stored).
    """

    def __init__(self, index: int, name: str, error: ItemError) -> None:
        self.index, self.name = index, name
        self.maybe_committed = False
        super().__init__(error.code, str(error))


@dataclass(frozen=True, slots=True)
class _FilePart:
    index: int
    name: str
    source: CheckedFile


class ChunkBody:
    """A multipart body whose image parts are read from their files as it is sent.

    Iterable (each iteration reads the files anew, for a retry) and of known length, so
    requests sends a Content-Length; it is not bytes, and holds no image in memory.
    """

    def __init__(self, segments: Sequence[bytes | _FilePart]) -> None:
        self._segments = list(segments)
        self._length = sum(len(s) if isinstance(s, bytes) else s.source.size
                           for s in self._segments)

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        files = sum(1 for s in self._segments if isinstance(s, _FilePart))
        return f"ChunkBody({self._length} bytes, {files} streamed files)"

    def __iter__(self) -> Iterator[bytes]:
        # Small pieces (fields, part headers) go out with the next block: fewer sends.
        pending: list[bytes] = []
        size = 0
        for segment in self._segments:
            if isinstance(segment, bytes):
                pending.append(segment)
                size += len(segment)
                if size >= BLOCK:
                    yield b"".join(pending)
                    pending, size = [], 0
                continue
            try:
                for block in stream_file(segment.source):
                    if pending:
                        pending.append(block)
                        block = b"".join(pending)
                        pending, size = [], 0
                    yield block
            except ItemError as exc:
                raise ItemStreamError(segment.index, segment.name, exc) from None
        if pending:
            yield b"".join(pending)


def stream_chunk(dataset_id: Id, upload_id: Id, items: Sequence[ChunkItem]
                 ) -> tuple[ChunkBody, str]:
    """Return the streamed multipart body of an UploadChunk request and its Content-Type.

    Fields come first (``datasetId``, ``datasetUploadId``, then per image ``name``,
    ``annotationType`` and ``annotation`` (an empty annotation and no type when there
    is none) and ``classifyCategoryId`` when given), then one ``imagesFiles`` part per
    image in index order, each with the image's name as its file name. Items given as
    bytes, paths or openers are read here (ItemReadError names one that cannot be);
    ``CheckedFile`` items are read while the body is sent.
    """
    refuse_unsendable_names(items)
    boundary = "osai-import-" + secrets.token_hex(16)
    head = f"--{boundary}\r\nContent-Disposition: form-data; name="
    fields: list[str] = []

    def value(name: str, text: str) -> None:
        fields.append(f'{head}"{name}"\r\n\r\n{text}\r\n')

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
    segments: list[bytes | _FilePart] = ["".join(fields).encode()]
    for i, item in enumerate(items):
        source = item.data
        data = None if isinstance(source, CheckedFile) else read_item(i, item)
        # Quote as browsers and curl do (WHATWG): what the service's web app already sends.
        filename = item.name.replace('"', "%22")
        kind = _mime(source.head if isinstance(source, CheckedFile) else data or b"")
        segments.append(f'{head}"imagesFiles"; filename="{filename}"\r\n'
                        f"Content-Type: {kind}\r\n\r\n".encode())
        segments.append(_FilePart(i, item.name, source) if isinstance(source, CheckedFile)
                        else data or b"")
        segments.append(b"\r\n")
    segments.append(f"--{boundary}--\r\n".encode())
    return ChunkBody(segments), f"multipart/form-data; boundary={boundary}"


def encode_chunk(dataset_id: Id, upload_id: Id, items: Sequence[ChunkItem]) -> tuple[bytes, str]:
    """Return the multipart body of an UploadChunk request, whole, and its Content-Type.

    As ``stream_chunk``, read into memory (for tests and tools that keep the bytes).
    """
    body, content_type = stream_chunk(dataset_id, upload_id, items)
    return b"".join(body), content_type
