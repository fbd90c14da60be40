"""What the server's answers hold: ids, the created dataset and category, skipped images.

OSAI documents little of its answers' shapes, so every reader of an answer here accepts
the shapes seen or plausible (field names in any case, ids as ints or strings) and
returns None or an empty value for the rest; the caller decides what that means. One
thing is decided here: whether a 2xx body looks like the API's at all (``read_body``).

A value wrapped in an object is found by structure first (truth rule 4): an object of one
field holds it, whatever that field is called; only an object of several fields is read
by the names known to carry it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

Id = int | str
"""A server id: opaque, an int on the local server, possibly a string elsewhere."""


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as the server answered it.

    ``after_lost_answer``: an earlier try's answer was lost, so the server may hold
    another dataset of that name, made by that try.
    """

    id: Id
    name: str
    after_lost_answer: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class CategoryRef:
    """A category as the server answered it (``after_lost_answer`` as for a dataset)."""

    id: Id
    name: str
    after_lost_answer: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ListedImage:
    """An image as a dataset's listing shows it (``GET /Datasets/{id}/Images``, when served).

    ``category_id`` and ``sha256`` (lower-case hex) are None when the listing does not give
    them.
    """

    name: str
    id: Id
    category_id: Id | None = None
    sha256: str | None = None


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


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_STARTS = (b"<!doctype html", b"<html")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_TITLE_SEARCH = 65536  # a page's title is in its head, near the start


@dataclass(frozen=True)
class Body:
    """A 2xx answer's body as the client reads it.

    ``data`` is the parsed JSON when ``is_json``; ``foreign`` says why the body is no
    answer of the API (an HTML page, a body labelled JSON that is not JSON), and
    ``title`` is such a page's ``<title>``, as the server wrote it (not redacted).
    """

    data: Any = None
    is_json: bool = False
    foreign: str | None = None
    title: str | None = None


def media_type(content_type: str | None) -> str:
    """Return the media type of a Content-Type header, lower-cased, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_body(content_type: str | None, content: bytes) -> Body:
    """Read a 2xx body: the API answers with nothing, JSON or plain text, never a web page.

    A page (by its Content-Type, or a body that starts with ``<!doctype html`` or
    ``<html``) comes from something between the client and the API, a proxy or a
    captive portal; so does a body whose Content-Type says JSON but that does not parse.
    """
    media = media_type(content_type)
    start = content[3:] if content.startswith(b"\xef\xbb\xbf") else content
    start = start.lstrip()
    if media in _HTML_TYPES or start[:14].lower().startswith(_HTML_STARTS):
        found = _TITLE.search(content[:_TITLE_SEARCH])
        title = None
        if found:
            title = " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split())
        return Body(foreign="an HTML page", title=title or None)
    if not start:
        return Body()
    try:
        data = json.loads(content)
    except ValueError:
        if media in ("application/json", "text/json") or media.endswith("+json"):
            return Body(foreign=f"a body labelled {media} that is not JSON")
        return Body()
    return Body(data, is_json=True)


_SKIPPED_KEYS = ("skipped", "skippedimages", "skippednames", "skippedfiles",
                 "unsupportedimages", "unsupported")


def skipped_names(body: Any, names: Sequence[str] = ()) -> tuple[str, ...]:
    """Return the names an UploadChunk answer says were dropped, when it says so.

    The answer is an object with a list under a key such as ``skipped`` or
    ``skippedImages``; each entry a name, or an object with its ``name`` (``fileName``)
    or its ``index`` in the chunk, which ``names`` (the chunk's names, in order) turns
    into a name. Entries that say neither are left out.
    """
    if not isinstance(body, dict):
        return ()
    lowered = {str(key).lower(): value for key, value in body.items()}
    found = next((lowered[k] for k in _SKIPPED_KEYS if k in lowered), None)
    if not isinstance(found, list):
        return ()
    skipped: list[str] = []
    for entry in found:
        if isinstance(entry, str):
            skipped.append(entry)
        elif isinstance(entry, dict):
            name = lookup(entry, "name", "fileName", "filename", "imageName")
            index = lookup(entry, "index")
            if isinstance(name, str) and name:
                skipped.append(name)
            elif isinstance(index, int) and not isinstance(index, bool) \
                    and 0 <= index < len(names):
                skipped.append(names[index])
    return tuple(skipped)


# Names that carry the value in an object of several fields, most specific first.
TOKEN_FIELDS = ("token", "accessToken", "access_token", "bearerToken", "bearer_token",
                "authToken", "auth_token", "jwt", "bearer")
SESSION_FIELDS = ("datasetUploadId", "uploadId", "uploadSessionId", "sessionId", "id")


def held(body: dict[Any, Any], usable: Callable[[Any], bool], known: Sequence[str]) -> Any:
    """Return the value an object answer holds, or None when it holds no usable one.

    An object of one field holds that field's value, whatever its name; an object of
    several holds the first usable value among the ``known`` names (in any case).
    """
    if len(body) == 1:
        value = next(iter(body.values()))
        return value if usable(value) else None
    lowered = {str(key).lower(): value for key, value in body.items()}
    for name in known:
        value = lowered.get(name.lower())
        if usable(value):
            return value
    return None


def is_token(value: Any) -> TypeGuard[str]:
    """Tell whether a value can be sent as a bearer token: printable ASCII, no spaces."""
    return isinstance(value, str) and bool(value) and all(33 <= ord(c) <= 126 for c in value)


def bearer_token(text: str) -> str | None:
    """Return the bearer token a SignIn answer holds, or None when it holds none.

    The answer is the token as bare text (documented), as a JSON string, or an object
    holding it (see ``held``); surrounding whitespace and quotes are not part of it.
    """
    text = text.strip()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, dict):
        parsed = held(parsed, lambda v: isinstance(v, str) and is_token(v.strip()),
                      TOKEN_FIELDS)
    if not isinstance(parsed, str):
        return None
    token = parsed.strip().strip('"').strip()
    return token if is_token(token) else None


def session_id(body: Body, text: str) -> Id | None:
    """Return the ``datasetUploadId`` a StartUploading answer holds, or None.

    The answer is a JSON scalar (an int, or a string, kept as it came), bare text, or an
    object holding it (see ``held``). ``text`` is the answer's text, read when it is not JSON.
    """
    found: Any = body.data if body.is_json else text.strip().strip('"')
    if isinstance(found, dict):
        found = held(found, is_id, SESSION_FIELDS)
    return found if is_id(found) else None


def listed_categories(data: Any) -> list[CategoryRef] | None:
    """Return the categories a listing shows, or None when it is not a list of them.

    Every entry must be an object with a usable ``id`` and a string ``name`` (any case):
    a listing that leaves one out could hide a category, so it is not used at all.
    """
    if not isinstance(data, list):
        return None
    found: list[CategoryRef] = []
    for entry in data:
        ident, name = lookup(entry, "id"), lookup(entry, "name")
        if not (is_id(ident) and isinstance(name, str)):
            return None
        found.append(CategoryRef(ident, name))
    return found


_SHA256 = re.compile(r"[0-9a-f]{64}")


def listed_images(data: Any) -> list[ListedImage] | None:
    """Return the images a listing shows, or None when it is not a list of them.

    Every entry must be an object with a usable ``id`` and a string ``name`` (any case);
    ``categoryId`` (or ``classifyCategoryId``) and ``sha256`` are read when usable.
    """
    if not isinstance(data, list):
        return None
    found: list[ListedImage] = []
    for entry in data:
        ident, name = lookup(entry, "id"), lookup(entry, "name")
        if not (is_id(ident) and isinstance(name, str)):
            return None
        category = lookup(entry, "categoryId", "classifyCategoryId")
        digest = lookup(entry, "sha256")
        digest = digest.strip().lower() if isinstance(digest, str) else None
        found.append(ListedImage(name, ident, category if is_id(category) else None,
                                 digest if digest and _SHA256.fullmatch(digest) else None))
    return found


def field_names(body: Any, limit: int = 8) -> list[str]:
    """Return up to ``limit`` field names of an object answer, each cut to 40 characters."""
    if not isinstance(body, dict):
        return []
    return [str(key)[:40] for key in list(body)[:limit]]
