"""Stream a COCO JSON file with ijson: the `coco` reader's path that explains every fault.

Nothing here builds the whole document: each pass walks the file once and builds one
small object (a category, an annotation, an image) at a time. What must outlive a pass,
the boxes of every image, goes into ``boxes.BoxStore``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from array import array
from collections.abc import Generator
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, BinaryIO

import ijson

from osai_import import SourceError, SourcePath

# ijson's C parser builds every item of a chunk before yielding the first one, so the
# chunk size bounds that burst; 64 KiB reads as fast as 1 MiB does.
_CHUNK = 1 << 16
_BOM = b"\xef\xbb\xbf"
# COCO needs 5 levels (root, annotations, annotation, segmentation, polygon). ijson keeps
# a prefix string per open level, so its memory grows with the square of the depth: a
# 400 kB file of nested brackets would need about 100 GB. Deeper files are refused first.
MAX_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STRING_END = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"')
_LEVELS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class _DepthGuard:
    """Follow the nesting depth of a JSON byte stream, chunk by chunk, at C speed."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the last chunk ended inside a string, after a lone backslash

    def feed(self, chunk: bytes) -> int:
        """Return the deepest level reached by the end of ``chunk``."""
        if not self.escaped and b"\\" not in chunk:
            # No escapes (the usual case): quotes alternate, so splitting on them is exact.
            parts = chunk.split(b'"')
            outside = b"".join(parts[1::2] if self.in_string else parts[0::2])
            if len(parts) % 2 == 0:
                self.in_string = not self.in_string
        else:
            outside = self._outside_strings(chunk)
        marks = outside.translate(_LEVELS, _NOT_BRACKETS)
        if not marks:
            return self.depth
        levels = list(accumulate(array("b", marks), initial=self.depth))
        self.depth = levels[-1]
        return max(levels)

    def _outside_strings(self, chunk: bytes) -> bytes:
        """Return the bytes of ``chunk`` that are not inside a string, following escapes."""
        start = 0
        if self.in_string:
            start = 1 if self.escaped else 0
            end = _STRING_END.match(chunk, start)
            if end is None:
                self.escaped = self._odd_backslashes(chunk, start)
                return b""
            start, self.in_string, self.escaped = end.end(), False, False
        outside = _STRING.sub(b"", chunk[start:] if start else chunk)
        quote = outside.find(b'"')
        if quote >= 0:  # a string that goes on in the next chunk
            self.in_string = True
            self.escaped = self._odd_backslashes(chunk, len(chunk) - (len(outside) - quote) + 1)
            outside = outside[:quote]
        return outside

    @staticmethod
    def _odd_backslashes(chunk: bytes, start: int) -> bool:
        # Inside a string, backslashes pair up into escapes: an odd run at the end leaves
        # the next chunk's first byte escaped.
        run = min(len(chunk) - len(chunk.rstrip(b"\\")), len(chunk) - start)
        return run % 2 == 1


class _TrackedFile:
    """Read a file for ijson, remembering the last chunk to place errors, bounding depth."""

    def __init__(self, path: Path | SourcePath, fh: BinaryIO, start: int,
                 guard: _DepthGuard | None) -> None:
        self._path = path
        self._fh = fh
        self._guard = guard
        self.chunk_start = start
        self.chunk = b""
        self._next_start = start
        self.at_end = False

    def read(self, size: int = -1) -> bytes:
        """Return the next chunk of the file."""
        if size == 0:  # ijson probes with read(0) to learn whether the file gives bytes
            return b""
        data = self._fh.read(max(size, _CHUNK))
        self.chunk_start, self.chunk = self._next_start, data
        self._next_start += len(data)
        self.at_end = not data
        if self._guard is not None and data and self._guard.feed(data) > MAX_DEPTH:
            raise SourceError(
                f"{self._path}: the JSON is nested more than {MAX_DEPTH} levels deep (in bytes "
                f"{self.chunk_start} to {self._next_start}); a COCO file needs 5: this is not a "
                "COCO file, or it is corrupt"
            )
        return data

    def locate(self, context: bytes, caret: int) -> int:
        """Return the file offset of a yajl error, from the context line its message shows."""
        if not self.chunk:
            return self.chunk_start  # premature end of file
        # yajl shows the 30 bytes before the error (left-padded with spaces) and up to 30
        # after, with newlines turned into spaces; the caret sits right after the culprit.
        before = context[:caret].lstrip(b" ") if caret >= 0 else b""
        needle = before + (context[caret:] if caret >= 0 else b"")
        flat = self.chunk.replace(b"\n", b" ").replace(b"\r", b" ")
        found = flat.find(needle) if needle else -1
        if found < 0:
            return self.chunk_start
        return self.chunk_start + found + max(len(before) - 1, 0)


def _first_byte(path: Path) -> tuple[int, bytes]:
    """Return where the JSON text starts (after a UTF-8 BOM) and its first non-blank byte."""
    with path.open("rb") as fh:
        start = len(_BOM) if fh.read(len(_BOM)) == _BOM else 0
        fh.seek(start)
        while block := fh.read(1 << 16):
            stripped = block.lstrip(b" \t\r\n")
            if stripped:
                return start, stripped[:1]
    return start, b""


class JsonSource:
    """A JSON file read in streaming passes; passes refuse it when it nests too deep.

    Until one pass has read the whole file, every pass measures the nesting depth of the
    bytes before the parser sees them; later passes trust that measure.
    """

    def __init__(self, path: Path | SourcePath) -> None:
        self.path = path  # as messages name it
        self._local: Path | None = None if isinstance(path, SourcePath) else path
        self._copy: IO[bytes] | None = None
        self._start: int | None = None
        self._depth_checked = False

    @property
    def local(self) -> Path:
        """Return a local file with the JSON: the file itself, or a copy of a stored one.

        A file in an archive or a bucket is copied once to a temporary file: the passes
        read it several times and seek in it, which a bucket would answer with a request
        each time.
        """
        if self._local is None:
            source = self.path
            assert isinstance(source, SourcePath)
            try:
                copy = tempfile.NamedTemporaryFile(prefix="osai-coco-", suffix=".json")  # noqa: SIM115 - closed by close()
                with source.open("rb") as fh:
                    shutil.copyfileobj(fh, copy, 1 << 20)
                copy.flush()
            except OSError as exc:
                raise SourceError(
                    f"{source}: cannot be read ({exc.strerror or exc}); check `source.path`"
                ) from None
            self._copy, self._local = copy, Path(copy.name)
        return self._local

    def close(self) -> None:
        """Delete the local copy of a stored file, if one was made."""
        if self._copy is not None:
            self._copy.close()
            self._copy, self._local = None, None

    def start(self) -> int:
        """Return where the JSON text starts, once known to be an object (else SourceError)."""
        if self._start is None:
            self._start = self._check_object()
        return self._start

    def _check_object(self) -> int:
        path = self.path
        try:
            start, first = _first_byte(self.local)
        except OSError as exc:
            raise SourceError(
                f"{path}: cannot be read ({exc.strerror or exc}); check `source.path`") from None
        if not first:
            raise SourceError(
                f"{path}: the file is empty; a COCO file is a JSON object with `images`")
        if first != b"{":
            kind = "a list" if first == b"[" else "not a JSON object"
            raise SourceError(
                f"{path}: the top level is {kind}; a COCO file is a JSON object with `images`, "
                "`annotations` and `categories` (is this really a COCO export?)"
            )
        return start

    def items(self, prefix: str) -> Generator[Any, None, None]:
        """Yield every item under ``prefix`` (such as ``images.item``), one at a time.

        Numbers come as int or float (never Decimal). Malformed JSON raises SourceError
        naming the line and byte offset of the fault.
        """
        start = self.start()
        path = self.path
        try:
            with self.local.open("rb") as fh:
                fh.seek(start)
                guard = None if self._depth_checked else _DepthGuard()
                tracked = _TrackedFile(path, fh, start, guard)
                try:
                    yield from ijson.items(tracked, prefix, use_float=True, buf_size=_CHUNK)
                except ijson.JSONError as exc:
                    raise _json_error(path, self.local, tracked, exc) from None
                except ValueError as exc:  # a number Python refuses to convert, for one
                    raise SourceError(
                        f"{path}: not usable JSON near byte {tracked.chunk_start}: {exc}; "
                        "fix the file"
                    ) from None
                if tracked.at_end:
                    self._depth_checked = True
        except OSError as exc:
            raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None

    def top_level_kind(self, key: str) -> str | None:
        """Return the JSON type of top-level ``key`` ("array", "object", "string"...) or None.

        Walks events in Python, so it is slow on big files: call it only to explain a pass
        that found nothing.
        """
        kinds = {"start_array": "array", "start_map": "object", "string": "string",
                 "number": "number", "boolean": "boolean", "null": "null"}
        start = self.start()
        with self.local.open("rb") as fh:
            fh.seek(start)
            guard = None if self._depth_checked else _DepthGuard()
            tracked = _TrackedFile(self.path, fh, start, guard)
            events = ijson.parse(tracked, use_float=True, buf_size=_CHUNK)
            try:
                for prefix, event, value in events:
                    if prefix == "" and event == "map_key" and value == key:
                        _, event, _ = next(events)
                        return str(kinds.get(event, event))
            except (ijson.JSONError, ValueError, StopIteration):
                return None
        return None


def _json_error(path: Path | SourcePath, local: Path, tracked: _TrackedFile, exc: Exception
                ) -> SourceError:
    raw = exc.args[0] if exc.args else str(exc)
    text = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "replace")
    lines = text.split(b"\n")
    reason = lines[0].decode("utf-8", "replace").strip() or "parse error"
    context = lines[1] if len(lines) > 1 else b""
    caret = lines[2].find(b"^") if len(lines) > 2 else -1
    offset = tracked.locate(context, caret)
    where = f"line {_line_of(local, offset)}, byte {offset}"
    shown = context.strip().decode("utf-8", "replace")
    near = f" near `{shown}`" if shown else ""
    hint = "fix or re-export the file"
    if "premature EOF" in reason:
        hint = "the file ends too early: was the download or copy interrupted?"
    return SourceError(f"{path}: not valid JSON at {where}: {reason}{near}; {hint}")


def _line_of(path: Path, offset: int) -> int:
    """Return the 1-based line holding byte ``offset`` (reads the file again: errors only)."""
    lines, left = 1, offset
    with path.open("rb") as fh:
        while left > 0:
            block = fh.read(min(left, _CHUNK))
            if not block:
                break
            lines += block.count(b"\n")
            left -= len(block)
    return lines
