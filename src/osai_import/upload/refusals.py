"""How an HTTP refusal becomes one of the client's errors (defined in ``osai_import.errors``).

Every message names the endpoint, the status and what to do. Text that comes from the
server passes through a ``Redactor`` first, so a server that echoes a token never makes
it show up in a message.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from osai_import.errors import (
    ApiError,
    AuthError,
    RejectedError,
    TooLargeError,
    UnexpectedResponseError,
)

TOKEN_HINT = ("check OSAI_TOKEN, or create a new access token in the OSAI web app "
              "(access tokens expire on the date chosen when they were made)")
URL_HINT = "check that server.url is the API root, e.g. https://app-eu.onestepai.com/api"


_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
GRAM = 8  # a piece of a secret this long or longer never shows
# How much text past an excerpt's end redaction looks at, so that a secret (or a JWT)
# that starts inside the excerpt is found whole before the excerpt is cut.
_LOOKAHEAD = 1024


class Redactor:
    """Remove every secret it was given, and anything shaped like a bearer token, from text.

    Not only whole secrets: every run of ``GRAM`` or more characters that also occurs in
    a secret goes, so a server that echoes half a token (or a token cut by an excerpt)
    shows neither half. The secrets' ``GRAM``-grams sit in one set, so a text costs one
    set lookup per character, whatever the number and length of the secrets.
    """

    def __init__(self, *secrets: str) -> None:
        self._lock = threading.Lock()
        # (secrets too short for grams, every GRAM-gram of the others): swapped whole, so
        # a thread redacting while another adds a secret sees one state or the other.
        self._state: tuple[tuple[str, ...], frozenset[str]] = ((), frozenset())
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember one more secret; safe to call from several threads."""
        # Very short "secrets" would blank out ordinary words and protect nothing.
        if len(secret) < 4:
            return
        with self._lock:
            short, grams = self._state
            if len(secret) < GRAM:
                self._state = (*short, secret), grams
            else:
                found = {secret[i:i + GRAM] for i in range(len(secret) - GRAM + 1)}
                self._state = short, grams | found

    def __call__(self, text: str) -> str:
        # Token shapes first: a secret's piece cut out of a JWT would hide its shape.
        text = _BEARER.sub(r"\1[redacted]", _JWT.sub("[redacted]", text))
        short, grams = self._state
        if grams and len(text) >= GRAM:
            text = _cut_out(text, grams)
        for secret in sorted(short, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    def excerpt(self, text: str, limit: int) -> str:
        """Return at most ``limit`` characters of ``text``, redacted before it is cut."""
        return self(text[:limit + _LOOKAHEAD])[:limit]


def _cut_out(text: str, grams: frozenset[str]) -> str:
    """Replace every run of text made of secrets' grams with ``[redacted]``."""
    spans: list[tuple[int, int]] = []
    start = end = -1
    for i in range(len(text) - GRAM + 1):
        if text[i:i + GRAM] in grams:
            if i > end:  # not touching the run so far: a new run
                if end >= 0:
                    spans.append((start, end))
                start = i
            end = i + GRAM
    if end < 0:
        return text
    spans.append((start, end))
    pieces: list[str] = []
    done = 0
    for start, end in spans:
        pieces += (text[done:start], "[redacted]")
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _lookup(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        for key, value in body.items():
            if str(key).lower() == name:
                return value
    return None


def parse_problem(text: str, redact: Redactor
                  ) -> tuple[str | None, str | None, dict[str, list[str]], str]:
    """Return (title, detail, errors, first 500 characters) of an error body, redacted."""
    raw = redact.excerpt(text, 500)
    try:
        body = json.loads(text)
    except ValueError:
        return None, None, {}, raw
    if not isinstance(body, dict):
        return None, None, {}, raw
    found = _lookup(body, "errors")
    if found is None and not ({"title", "detail"} & {str(k).lower() for k in body}):
        found = body  # MVC's bare ModelState: {field: [messages]}
    errors: dict[str, list[str]] = {}
    if isinstance(found, dict):
        for key, value in found.items():
            values = value if isinstance(value, list) else [value]
            errors[redact(str(key))] = [redact(str(v)) for v in values]
    title, detail = _lookup(body, "title"), _lookup(body, "detail")
    return (None if title is None else redact.excerpt(str(title), 500),
            None if detail is None else redact.excerpt(str(detail), 500), errors, raw)


def refusal(status: int, text: str, *, endpoint: str, redact: Redactor, signing_in: bool,
            attempts: int, after_lost_answer: bool, location: str | None = None,
            reason: str = "") -> ApiError:
    """Return the error for a final (not retried) answer with status ``status``.

    ``after_lost_answer`` (an earlier try may have been carried out) goes on every error.
    """
    title, detail, errors, raw = parse_problem(text, redact)
    fields = [f"{f}: {' '.join(m)}" for f, m in list(errors.items())[:10]]
    more = [f"... and {len(errors) - 10} more"] if len(errors) > 10 else []
    # ASP.NET repeats the first field's message as the detail; say it once.
    heads = [t for t in (title, detail) if t and not any(t in f or f in t for f in fields)]
    summary = "; ".join(heads + fields + more)
    summary = summary or raw[:300] or redact.excerpt(reason, 100) or "no details"
    common: dict[str, Any] = {"endpoint": endpoint, "status": status, "attempts": attempts,
                              "after_lost_answer": after_lost_answer}
    if signing_in and status in (400, 401, 403):
        return AuthError(f"the server refused the access token (HTTP {status}: {summary}); "
                         f"{TOKEN_HINT}", **common)
    if status == 401:
        return AuthError(f"{endpoint}: the bearer token was refused (HTTP 401) right after "
                         f"signing in: {summary}; {TOKEN_HINT}", **common)
    if status == 403:
        return AuthError(f"{endpoint}: forbidden (HTTP 403): {summary}; check that the access "
                         "token's user may do this", **common)
    if status == 413:
        return TooLargeError(f"{endpoint}: the request is too large for the server (HTTP 413):"
                             f" {summary}; send fewer or smaller images per chunk", **common)
    if status in (400, 409, 423):
        # A conflict with the state (a locked dataset, a name taken): not retried as is.
        return RejectedError(f"{endpoint} was refused (HTTP {status}): {summary}", **common,
                             title=title, detail=detail, errors=errors, body=raw)
    if 300 <= status < 400:
        return UnexpectedResponseError(f"{endpoint}: the server redirects to "
                                       f"{redact.excerpt(location or '?', 300)} (HTTP {status}); "
                                       f"{URL_HINT}",
                                       **common)
    hint = f"; {URL_HINT}, and that the ids exist" if status in (404, 405) else ""
    return UnexpectedResponseError(f"{endpoint}: unexpected HTTP {status}: {summary}{hint}",
                                   **common)
