"""What the server's answers hold: ids, the created dataset and category, skipped images.

OSAI documents little of its answers' shapes, so every reader of an answer here accepts
the shapes seen or plausible (field names in any case, ids as ints or strings) and
returns None or an empty value for the rest; the caller decides what that means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

Id = int | str
"""A server id: opaque, an int on the local server, possibly a string elsewhere."""


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as the server answered it."""

    id: Id
    name: str


@dataclass(frozen=True)
class CategoryRef:
    """A category as the server answered it."""

    id: Id
    name: str


def lookup(body: Any, *names: str) -> Any:
    """Return the first of ``names`` found in a JSON object, ignoring case."""
    if isinstance(body, dict):
        lowered = {str(key).lower(): value for key, value in body.items()}
        for name in names:
            if name.lower() in lowered:
                return lowered[name.lower()]
    return None


def is_id(value: Any) -> TypeGuard[Id]:
    """Tell whether an answer's value can be a server id: an int, or a non-blank string."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and bool(value.strip()))


def skipped_names(body: Any) -> tuple[str, ...]:
    """Return the names an UploadChunk answer says were dropped, when it says so."""
    if not isinstance(body, dict):
        return ()
    lowered = {str(key).lower(): value for key, value in body.items()}
    found = next((lowered[k] for k in ("skipped", "skippedimages", "unsupportedimages")
                  if k in lowered), None)
    if not isinstance(found, list):
        return ()
    return tuple(str(entry.get("name")) if isinstance(entry, dict) else str(entry)
                 for entry in found)
