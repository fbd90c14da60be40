"""Watch a JSON file's bytes for what ijson refuses but msgspec lets through.

ijson (yajl) refuses integers beyond 64 bits ("integer overflow"), numbers beyond a double
("numeric (floating point) overflow") and bytes that are not UTF-8 inside strings;
msgspec, when it skips a value it was not asked for, does not look. The `coco` reader's
fast path skips most of a file that way (the polygons above all), so the scan feeds every
block through :class:`TextChecks` first, at C speed (``translate``, ``rfind``, one regex),
and steps aside for ijson when in doubt.
"""

from __future__ import annotations

import codecs
import re

# Digits as 0, "E" and "+" as "e" ("1E+400" reads "0ee000"), and every character that
# can come just before or after a number as ",".
_NUMBERS = bytes.maketrans(b"0123456789E+-,:[]} \t\n\r", b"0000000000ee" + b"," * 10)
_LONG_EXPONENT = re.compile(rb"e000")
_ZEROS = re.compile(rb"0*")


class TextChecks:
    """Watch every byte for what ijson refuses but msgspec accepts.

    A number that overflows is found as text: a run of 19 or more digits after a
    character that can come before a number, or an exponent of three digits or more
    followed by the end of a number. Both are rare in COCO files; a match inside a string
    only costs the fast path, never the result.
    """

    _OVERLAP = 64

    def __init__(self) -> None:
        self._tail = b""
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = False  # the last block ended inside a UTF-8 sequence
        self.ok = True

    def feed(self, block: bytes) -> None:
        """Look at the next block of the file."""
        if not self.ok:
            return
        if self._pending or not block.isascii():
            try:
                self._utf8.decode(block)
            except UnicodeDecodeError:
                self.ok = False
                return
            self._pending = bool(self._utf8.getstate()[0])
        window = self._tail + block
        self.ok = not _long_number(window.translate(_NUMBERS), len(self._tail) > 0)
        self._tail = window[-self._OVERLAP:]

    def finish(self) -> None:
        """Note the end of the file (a UTF-8 sequence may not stop half-way)."""
        if self._pending:
            self.ok = False


def _long_number(text: bytes, continued: bool) -> bool:
    """Tell whether ``text`` (translated by ``_NUMBERS``) may hold a number ijson refuses.

    The search for long runs goes backwards: its skips are keyed on the needle's first
    byte, rarer in COCO files than digits. A run at the very start of a window was judged
    in the window before (they overlap).
    """
    if text.rfind(b"," + b"0" * 19) >= 0 or (not continued and text.startswith(b"0" * 19)):
        return True
    for found in _LONG_EXPONENT.finditer(text, 1):
        at = found.start()
        if text[at - 1] == ord("0") or (text[at - 1] == ord("e") and text[at - 2:at - 1] == b"0"):
            end = _zeros_end(text, at + 1)
            if end == len(text):
                if at < len(text) - 48:  # a very long exponent: do not wait to see its end
                    return True
                # Else the next window, which overlaps this one, sees what follows.
            elif text[end] == ord(","):
                return True
    return False


def _zeros_end(text: bytes, at: int) -> int:
    found = _ZEROS.match(text, at)
    return found.end() if found else at
