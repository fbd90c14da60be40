"""Stream the tasks of a Label Studio export, one at a time, with ijson.

An export is a JSON list of tasks (JSON and JSON-MIN) or, in a cloud target storage,
one task per file (a JSON object). Either way the tasks are parsed as the file is read:
a 200 MB export never sits in memory whole, only the task being read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from osai_import import SourceError, SourcePath

_CHUNK = 1 << 16
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n"


class _Tracked:
    """A binary file for ijson that remembers where its last chunk starts and its lines."""

    def __init__(self, fh: IO[bytes], head: bytes) -> None:
        self._fh = fh
        self._head = head  # what was read to learn the top level, given back first
        self.chunk = b""
        self.chunk_start = 0
        self.chunk_line = 1  # the line the last chunk starts on
        self._next_start = 0
        self._next_line = 1

    def read(self, size: int = -1) -> bytes:
        """Return the next chunk."""
        if size == 0:  # ijson probes with read(0) to learn whether the file gives bytes
            return b""
        if self._head:
            data, self._head = self._head, b""
        else:
            data = self._fh.read(max(size, _CHUNK))
        self.chunk, self.chunk_start, self.chunk_line = data, self._next_start, self._next_line
        self._next_start += len(data)
        self._next_line += data.count(b"\n")
        return data

    def where(self, message: str) -> str:
        """Return ``line L, byte B`` for a yajl error message, as near as it can tell."""
        lines = message.split("\n")
        offset = self.chunk_start
        if len(lines) > 2 and self.chunk:
            # yajl shows up to 30 bytes before the fault (newlines as spaces) and a caret
            # under the byte after it: find that text in the chunk the parser was given.
            caret = lines[2].find("^")
            before = lines[1][:caret].lstrip(" ") if caret >= 0 else ""
            flat = self.chunk.replace(b"\n", b" ").replace(b"\r", b" ")
            found = flat.rfind(before.encode("utf-8", "replace")) if before else -1
            if found >= 0:
                offset = self.chunk_start + found + max(len(before.encode()) - 1, 0)
        inside = offset - self.chunk_start
        line = self.chunk_line + self.chunk[: max(inside, 0)].count(b"\n")
        return f"line {line}, byte {offset}"


def _open(path: Path | SourcePath) -> IO[bytes]:
    try:
        handle: IO[bytes] = path.open("rb")  # a SourcePath's file, or a local one
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; check `source.path`") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder, not an export file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc}); check `source.path`") from None
    return handle


def _head(fh: IO[bytes], path: Path | SourcePath) -> tuple[bytes, bytes]:
    """Return the bytes read up to the first non-blank one, and that byte (b"" if none)."""
    head = b""
    while True:
        try:
            block = fh.read(_CHUNK)
        except OSError as exc:
            raise SourceError(f"{path}: cannot be read ({exc})") from None
        if not block:
            return head, b""
        head += block
        head = head.removeprefix(_BOM)
        stripped = head.lstrip(_BLANK)
        if stripped:
            return head, stripped[:1]


def tasks(path: Path | SourcePath) -> Iterator[tuple[int | None, Any]]:
    """Yield ``(index, task)`` for every task of the export ``path``, as it is parsed.

    ``index`` is the task's position in the top-level list (None for a file holding one
    task as an object). A file that is not JSON, or is cut, raises SourceError naming the
    file, the line and byte of the fault, and the last task read before it.
    """
    with _open(path) as fh:
        head, first = _head(fh, path)
        if first not in (b"[", b"{"):
            what = "empty" if not first else "not a JSON list of tasks"
            raise SourceError(
                f"{path}: the file is {what}; a Label Studio export is a JSON list of tasks "
                "(export the project as JSON or JSON-MIN)"
            )
        tracked = _Tracked(fh, head)
        index = -1
        try:
            if first == b"{":
                for task in ijson.items(tracked, "", use_float=True, buf_size=_CHUNK):
                    yield None, task
                return
            for index, task in enumerate(
                ijson.items(tracked, "item", use_float=True, buf_size=_CHUNK)
            ):
                yield index, task
        except ijson.JSONError as exc:
            text = str(exc.args[0]) if exc.args else str(exc)
            reason = text.split("\n", 1)[0].strip() or "parse error"
            after = f"after task #{index + 1}" if index >= 0 else "before the first task"
            hint = (
                "the file ends too early: was the download or copy interrupted?"
                if "premature EOF" in reason
                else "fix or export the file again"
            )
            raise SourceError(
                f"{path}: not valid JSON at {tracked.where(text)} ({after}): {reason}; {hint}"
            ) from None
        except ValueError as exc:  # a number Python will not convert, for one
            raise SourceError(
                f"{path}: not usable JSON near byte {tracked.chunk_start}: {exc}; fix the file"
            ) from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot be read ({exc})") from None
