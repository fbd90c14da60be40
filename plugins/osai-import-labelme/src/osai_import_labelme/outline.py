"""The top level of a JSON document from the first bytes of its file: ``outline``.

Detecting LabelMe files must not read them whole: a LabelMe file embeds its photo as
``imageData`` (megabytes of base64), and a folder may hold thousands. ``outline`` reads
the keys of the top-level object from a prefix, each with the first token of its value
(``[`` for a list, ``"a.jpg"`` for a string, ``null``), and the keys of the first object
of ``shapes``, without building the values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# A string (possibly cut by the end of the prefix), a punctuation mark, or a bare scalar.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[{}\[\]:,]|[^\s{}\[\]:,"]+')


@dataclass
class Outline:
    """What the first bytes of a JSON file say of its top level."""

    is_object: bool
    """The document is a JSON object (a list or a scalar is not)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Each top-level key seen, with the first token of its value (``[``, ``{``, raw text)."""
    shape_keys: frozenset[str] = frozenset()
    """The keys of the first object in ``shapes`` (empty when none was seen)."""
    complete: bool = False
    """The whole top-level object was seen."""

    def text(self, key: str) -> str | None:
        """Return a top-level string value, decoded; None when absent, cut or not a string."""
        raw = self.keys.get(key)
        if raw is None or len(raw) < 2 or not raw.startswith('"') or not raw.endswith('"'):
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, str) else None


def outline(data: bytes, *, whole: bool) -> Outline | None:
    """Return the outline of a JSON document's first bytes; None when it is not JSON.

    ``whole`` says ``data`` is the whole file: it is then parsed properly, so a broken
    file is told from a cut one.
    """
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    if whole:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return Outline(is_object=False, complete=True)
        shapes = value.get("shapes")
        first = shapes[0] if isinstance(shapes, list) and shapes else None
        return Outline(
            is_object=True,
            keys={str(k): _first_token(v) for k, v in value.items()},
            shape_keys=frozenset(first) if isinstance(first, dict) else frozenset(),
            complete=True,
        )
    return _scan(text)


def _first_token(value: object) -> str:
    if isinstance(value, list):
        return "["
    if isinstance(value, dict):
        return "{"
    return json.dumps(value)


def _scan(text: str) -> Outline | None:
    """Read the top level of a cut JSON text token by token (see ``outline``)."""
    stack: list[str] = []
    keys: dict[str, str] = {}
    shape_keys: set[str] = set()
    expect_key = False
    value_of: str | None = None  # the top-level key whose value comes next
    inside: str | None = None  # the top-level key whose list or object is open
    shapes_seen = 0  # objects opened in `shapes` so far
    for match in _TOKEN.finditer(text):
        token = match.group()
        if not stack:
            if token != "{":
                return Outline(is_object=False) if token == "[" else None
            stack.append("{")
            expect_key = True
            continue
        depth = len(stack)
        if token in ("{", "["):
            if depth == 1 and value_of is not None:
                keys[value_of] = token
                inside, value_of = value_of, None
            elif depth == 2 and inside == "shapes" and token == "{":
                shapes_seen += 1
            stack.append(token)
            expect_key = token == "{"
            continue
        if token in ("}", "]"):
            stack.pop()
            if not stack:
                return Outline(True, keys, frozenset(shape_keys), complete=True)
            if len(stack) == 1:
                inside = None
            expect_key = False
            continue
        if token == ",":
            expect_key = stack[-1] == "{"
            continue
        if token == ":":
            continue
        if expect_key:
            key = _key(token)
            if depth == 1:
                value_of = key
            elif depth == 3 and inside == "shapes" and shapes_seen == 1:
                shape_keys.add(key)
            expect_key = False
        elif depth == 1 and value_of is not None:
            keys[value_of] = token
            value_of = None
    return Outline(True, keys, frozenset(shape_keys), complete=False) if stack else None


def _key(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token
