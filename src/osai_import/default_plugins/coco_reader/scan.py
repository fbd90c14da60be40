"""Find the top-level sections of a COCO file at C speed, for the `coco` reader's fast path.

One pass reads the file in blocks and tokenizes nothing in Python: escapes are blanked
with ``bytes.replace``, everything but brackets and quotes is dropped with
``bytes.translate``, strings without brackets then vanish as ``""`` pairs, and the
brackets left tell the nesting depth (innermost pairs removed round after round, or a
running sum with ``itertools.accumulate`` where a value may end). The answer is where
each top-level value starts and ends, and for arrays the chunks (about a block each)
that end on an item boundary, so that msgspec can decode thousands of items in one call.

The same pass makes sure the file holds nothing that ijson refuses and msgspec would let
through: nesting deeper than ``MAX_DEPTH`` here, numbers and bytes in ``checks``.
Whenever anything is unusual (a top-level key met twice or holding a dot, a chunk larger
than ``MAX_SPAN``, syntax that does not check out) the answer is None: the reader then
takes the ijson path, which explains every fault in its own words.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from itertools import accumulate
from typing import BinaryIO

import msgspec

from osai_import.default_plugins.coco_reader.checks import TextChecks
from osai_import.default_plugins.coco_reader.stream import MAX_DEPTH

BLOCK = 1 << 18  # also the size chunks of an array aim at
MAX_SPAN = 64 << 20  # a chunk, or a section checked whole, larger than this is left to ijson
_MAX_KEY = 1 << 16  # top-level keys and scalars longer than this are left to ijson
_WS = b" \t\n\r"
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_ONE_CLOSER = bytes.maketrans(b"}", b"]")
_UNIFORM = bytes.maketrans(b"{}", b"[]")
_SHALLOW = bytes(range(MAX_DEPTH + 1))  # nesting levels allowed, the top-level object is 1
_SPACE = re.compile(rb"[ \t\n\r]*")
_DELIMITER = re.compile(rb"[,\]} \t\n\r]")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null")
# Tokens of text whose escapes are blanked: a string (perhaps cut by the end) or a bracket.
_TOKEN = re.compile(rb'"[^"]*"?|[\[\]{}]')
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_KINDS = {ord("["): "array", ord("{"): "object", ord('"'): "string", ord("t"): "boolean",
          ord("f"): "boolean", ord("n"): "null"}
# The sections read by decoding them: they are checked then, not during the scan.
DECODED_LATER = frozenset({"annotations"})


@dataclass
class Section:
    """One top-level value: its JSON kind, its bytes ``[start, end)`` and, for an array, its chunks.

    Each chunk ``(start, end)`` holds whole items; every chunk but the first begins with
    the comma (and blanks) that separates it from the one before: see :func:`items_text`.
    """

    kind: str
    start: int
    end: int
    chunks: list[tuple[int, int]] = field(default_factory=list)


def items_text(data: bytes, first: bool) -> bytes | None:
    """Return a chunk's bytes as a JSON array, or None if it cannot be one (a stray comma)."""
    text = data.lstrip(_WS)
    if not first and text:  # (blanks alone: the last item ended where a block did)
        if text[:1] != b",":
            return None
        text = text[1:]
        if not text.strip(_WS):  # "x, ]": a trailing comma
            return None
    return b"[" + text + b"]"


def items_in_place(buffer: bytearray, length: int, first: bool) -> bool:
    """Make a chunk read into ``buffer[1:length + 1]`` a JSON array there, as ``items_text``
    would (its separating comma becomes a blank); False if it cannot be one.

    Decoding the chunk where it was read spares a copy of every byte of the section.
    """
    buffer[0], buffer[length + 1] = 0x5B, 0x5D  # "[", "]"
    if first:
        return True
    at = _SPACE.match(buffer, 1, length + 1).end()  # type: ignore[union-attr]
    if at == length + 1:  # blanks alone: the last item ended where a block did
        return True
    if buffer[at] != 0x2C:  # ","
        return False
    buffer[at] = 0x20
    # "x, ]": a trailing comma
    return _SPACE.match(buffer, at + 1, length + 1).end() != length + 1  # type: ignore[union-attr]


def scan(fh: BinaryIO, start: int) -> dict[str, Section] | None:
    """Return the top-level sections of the JSON object at ``start``, or None to use ijson."""
    fh.seek(start)
    return _Scan(fh, start).layout()


class _Scan:
    """The state of one scan: a window on the file that only moves forward."""

    def __init__(self, fh: BinaryIO, start: int) -> None:
        self.fh = fh
        self.buf = bytearray()  # grows in place: a value checked whole may span many blocks
        self.base = start  # the file offset of buf[0]
        self.eof = False
        self.checks = TextChecks()

    # -- the window -----------------------------------------------------------------
    def more(self) -> bool:
        """Read the next block into the window; False at the end of the file."""
        if self.eof:
            return False
        block = self.fh.read(BLOCK)
        if not block:
            self.eof = True
            self.checks.finish()
            return False
        self.checks.feed(block)
        self.buf += block
        return True

    def drop(self, before: int) -> None:
        """Forget the bytes before file offset ``before``."""
        cut = before - self.base
        if cut > 0:
            del self.buf[:cut]
            self.base = before

    def bytes(self, start: int, end: int) -> bytes:
        """Return a copy of the file's bytes ``[start, end)``, which the window holds."""
        with memoryview(self.buf) as view:
            return bytes(view[start - self.base:end - self.base])

    def byte(self, pos: int) -> int | None:
        """Return the byte at file offset ``pos``, None past the end."""
        while pos - self.base >= len(self.buf):
            if not self.more():
                return None
        return self.buf[pos - self.base]

    def skip_ws(self, pos: int) -> int:
        """Return the offset of the first non-blank byte at or after ``pos``."""
        while True:
            found = _SPACE.match(self.buf, pos - self.base)
            end = found.end() if found else pos - self.base
            if end < len(self.buf) or not self.more():
                return self.base + end

    def string_end(self, pos: int) -> int | None:
        """Return the end of the string at ``pos`` (past its closing quote), or None."""
        while True:
            found = _STRING.match(self.buf, pos - self.base)
            if found is not None:
                return self.base + found.end()
            if len(self.buf) - (pos - self.base) > _MAX_KEY or not self.more():
                return None

    def scalar_end(self, pos: int) -> int | None:
        """Return the end of the number or literal at ``pos``, or None."""
        while True:
            # It ends where a delimiter starts: "0" may yet become "0.5" in the next block.
            end = _DELIMITER.search(self.buf, pos - self.base)
            if end is not None or self.eof:
                stop = end.start() if end is not None else len(self.buf)
                found = _SCALAR.fullmatch(self.buf, pos - self.base, stop)
                return None if found is None else self.base + stop
            if len(self.buf) - (pos - self.base) > _MAX_KEY:
                return None
            self.more()

    # -- the top level ----------------------------------------------------------------
    def layout(self) -> dict[str, Section] | None:
        """Walk the top-level object; return its sections, None for anything unusual."""
        pos = self.skip_ws(self.base)
        if self.byte(pos) != ord("{"):
            return None
        sections: dict[str, Section] = {}
        pos = self.skip_ws(pos + 1)
        if self.byte(pos) == ord("}"):
            pos += 1
        else:
            while True:
                key_end = self.string_end(pos) if self.byte(pos) == ord('"') else None
                if key_end is None:
                    return None
                try:
                    key = msgspec.json.decode(self.bytes(pos, key_end))
                except msgspec.DecodeError:
                    return None
                # ijson joins keys with dots into prefixes: a dotted key could pose as a path.
                if not isinstance(key, str) or "." in key or key in sections:
                    return None
                pos = self.skip_ws(key_end)
                if self.byte(pos) != ord(":"):
                    return None
                section = self.value(self.skip_ws(pos + 1), key)
                if section is None:
                    return None
                sections[key] = section
                self.drop(section.end)
                pos = self.skip_ws(section.end)
                after = self.byte(pos)
                if after == ord("}"):
                    pos += 1
                    break
                if after != ord(","):
                    return None
                pos = self.skip_ws(pos + 1)
        if self.byte(self.skip_ws(pos)) is not None:
            return None  # trailing garbage
        return sections if self.checks.ok else None

    def value(self, pos: int, key: str) -> Section | None:
        """Return the section of the value that starts at ``pos``."""
        first = self.byte(pos)
        if first is None:
            return None
        if first in b"[{":
            return self.container(pos, first == ord("["), key not in DECODED_LATER)
        end = self.string_end(pos) if first == ord('"') else self.scalar_end(pos)
        if end is None:
            return None
        try:
            msgspec.json.decode(self.bytes(pos, end))
        except msgspec.DecodeError:
            return None
        return Section(_KINDS.get(first, "number"), pos, end)

    # -- arrays and objects -------------------------------------------------------------
    def container(self, start: int, is_array: bool, check: bool) -> Section | None:
        """Follow the array or object at ``start`` to its end; chunk arrays on the way.

        ``check``: decode every chunk here (otherwise the caller decodes them later).
        """
        chunks: list[tuple[int, int]] = []
        chunk_start = start + 1
        # Depths count the top-level object as 1: the container is 2, its items 3.
        depth, in_string, pos = 1, False, start
        while True:
            if pos - self.base >= len(self.buf) and not self.more():
                return None
            region = self.bytes(pos, self.base + len(self.buf))
            if region.endswith(b"\\") and not self.eof:
                region = region.rstrip(b"\\")  # a run of backslashes ends in the next block
                if not region:
                    if not self.more():
                        return None
                    continue
            flat = _blank_escapes(region)
            steps, careful, ends_in_string = _steps(flat, in_string)
            lowest, end_depth, deepest = _shape(steps, depth)
            closing = -1
            if lowest <= 1 or deepest > MAX_DEPTH:  # it may close, or nest too deep: exactly
                levels = _levels(steps, depth)
                if levels is None or levels.translate(None, _SHALLOW):  # past MAX_DEPTH
                    return None
                closing = levels.find(1, 1)
            if closing > 0:
                at = (_walk(flat, depth, in_string)[0] if careful
                      else _nth_closer(flat, steps, closing - 1))
                end = pos + at
                if end - (chunk_start if is_array else start) > MAX_SPAN:
                    return None
                if is_array:
                    chunks.append((chunk_start, end))
                    if check and not self.check_chunk(chunk_start, end, len(chunks) == 1):
                        return None
                elif check and not self.check_span(start, end + 1):
                    return None
                return Section("array" if is_array else "object", start, end + 1, chunks)
            pos += len(region)
            if is_array and pos - chunk_start >= BLOCK:
                at = (_walk(flat, depth, in_string)[1] if careful
                      else _last_item_end(flat, steps, end_depth))
                if at >= 0:
                    boundary = pos - len(region) + at + 1
                    chunks.append((chunk_start, boundary))
                    if check and not self.check_chunk(chunk_start, boundary, len(chunks) == 1):
                        return None
                    chunk_start = boundary
            keep = chunk_start if is_array else start
            if pos - keep > MAX_SPAN:
                return None
            self.drop(keep if check else pos)
            depth, in_string = end_depth, ends_in_string

    def check_chunk(self, start: int, end: int, first: bool) -> bool:
        """Tell whether the chunk ``[start, end)`` (still in the window) is valid JSON."""
        text = items_text(self.bytes(start, end), first)
        return text is not None and _valid(text)

    def check_span(self, start: int, end: int) -> bool:
        """Tell whether the value ``[start, end)`` (still in the window) is valid JSON."""
        return _valid(b"[" + self.bytes(start, end) + b"]")


def _valid(text: bytes) -> bool:
    try:
        _RAWS.decode(text)
    except msgspec.DecodeError:
        return False
    return True


def _blank_escapes(region: bytes) -> bytes:
    r"""Return ``region`` with ``\\`` and ``\"`` turned into ``__`` (same length)."""
    if b"\\" not in region:
        return region
    # Left to right, pairs of backslashes go first: in \\" the quote ends the string.
    return region.replace(b"\\\\", b"__").replace(b'\\"', b"__")


def _steps(flat: bytes, in_string: bool) -> tuple[bytes, bool, bool]:
    """Return the brackets of a region outside strings, whether some string holds a
    bracket (positions then need :func:`_walk`) and whether the region ends in a string."""
    marks = flat.translate(None, _NOT_STRUCTURE)
    if in_string:
        marks = b'"' + marks
    ends_in_string = marks.count(b'"') % 2 == 1
    if ends_in_string:
        marks += b'"'
    steps = marks.replace(b'""', b"")
    careful = b'"' in steps  # a string holds brackets: take the strings out by their quotes
    if careful:
        steps = b"".join(marks.split(b'"')[0::2])
    return steps, careful, ends_in_string


def _shape(steps: bytes, depth: int) -> tuple[int, int, int]:
    """Return the lowest depth the brackets ``steps`` reach from ``depth``, the depth
    after them, and a bound on the deepest: without a Python step per bracket.

    Removing the innermost pairs again and again leaves closers then openers; the number
    of rounds bounds the nesting of what was removed.
    """
    rest, rounds = steps.translate(_UNIFORM), 0
    while b"[]" in rest:
        if rounds > MAX_DEPTH:  # too deep to be allowed anyway: let the exact path say so
            return depth - len(steps), depth, depth + rounds
        rest = rest.replace(b"[]", b"")
        rounds += 1
    closers = len(rest) - len(rest.lstrip(b"]"))
    lowest, end = depth - closers, depth - closers + (len(rest) - closers)
    return lowest, end, max(depth, end) + rounds


def _levels(steps: bytes, depth: int) -> bytes | None:
    """Return the depth after each bracket of ``steps`` from ``depth``, a byte each; None
    when it leaves 0...255 (not JSON: the top-level object, depth 1, closes only once)."""
    try:
        return bytes(accumulate(array("b", steps.translate(_STEPS)), initial=depth))
    except ValueError:
        return None


def _nth_closer(flat: bytes, steps: bytes, step: int) -> int:
    """Return the offset in ``flat`` of the closing bracket that is bracket ``step``."""
    closers = steps.count(b"]", 0, step + 1) + steps.count(b"}", 0, step + 1)
    marked = flat.translate(_ONE_CLOSER)
    at = -1
    for _ in range(closers):
        at = marked.find(b"]", at + 1)
    return at


def _last_item_end(flat: bytes, steps: bytes, depth: int) -> int:
    """Return the offset in ``flat`` of the last bracket that closes an array item (takes
    the depth from 3 to 2), walking back from the end at ``depth``; -1 when not found
    among the last 512 brackets."""
    for at in range(len(steps) - 1, max(len(steps) - 513, -1), -1):
        if steps[at] in b"]}":
            if depth == 2:
                break
            depth += 1
        else:
            depth -= 1
    else:
        return -1
    later = steps.count(b"]", at + 1) + steps.count(b"}", at + 1)
    end = len(flat)
    for _ in range(later + 1):
        end = max(flat.rfind(b"]", 0, end), flat.rfind(b"}", 0, end))
    return end


def _walk(flat: bytes, depth: int, in_string: bool) -> tuple[int, int]:
    """Return the offsets of the container's closing bracket and of the last item end
    (-1 when absent), token by token: for regions where some string holds a bracket."""
    start = 0
    if in_string:
        start = flat.find(b'"') + 1
        if not start:
            return -1, -1
    last = -1
    for found in _TOKEN.finditer(flat, start):
        at = found.start()
        char = flat[at]
        if char == ord('"'):
            continue
        if char in b"[{":
            depth += 1
            continue
        depth -= 1
        if depth == 1:
            return at, last
        if depth == 2:
            last = at
    return -1, last
