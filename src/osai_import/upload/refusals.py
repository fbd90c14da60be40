"""How an HTTP refusal becomes one of the client's errors (defined in ``osai_import.errors``).

Every message names the endpoint, the status and what to do. Text that comes from the
server passes through a ``Redactor`` first, so a server that echoes a token never makes
it show up in a message.
"""

from __future__ import annotations

import json
import re
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


class Redactor:
    """Remove every secret it was given, and anything shaped like a bearer token, from text."""

    def __init__(self, *secrets: str) -> None:
        self._secrets: frozenset[str] = frozenset()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember one more secret; safe to call from several threads."""
        # Very short "secrets" would blank out ordinary words and protect nothing.
        if len(secret) >= 4:
            self._secrets = self._secrets | {secret}

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return _BEARER.sub(r"\1[redacted]", _JWT.sub("[redacted]", text))


def _lookup(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        for key, value in body.items():
            if str(key).lower() == name:
                return value
    return None


def parse_problem(text: str, redact: Redactor
                  ) -> tuple[str | None, str | None, dict[str, list[str]], str]:
    """Return (title, detail, errors, first 500 characters) of an error body, redacted."""
    raw = redact(text[:500])
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
    return (None if title is None else redact(str(title)),
            None if detail is None else redact(str(detail)), errors, raw)


def refusal(status: int, text: str, *, endpoint: str, redact: Redactor, signing_in: bool,
            attempts: int, after_lost_answer: bool, location: str | None = None,
            reason: str = "") -> ApiError:
    """Return the error for a final (not retried) answer with status ``status``."""
    title, detail, errors, raw = parse_problem(text, redact)
    fields = [f"{f}: {' '.join(m)}" for f, m in list(errors.items())[:10]]
    more = [f"... and {len(errors) - 10} more"] if len(errors) > 10 else []
    # ASP.NET repeats the first field's message as the detail; say it once.
    heads = [t for t in (title, detail) if t and not any(t in f or f in t for f in fields)]
    summary = "; ".join(heads + fields + more)
    summary = summary or raw[:300] or reason or "no details"
    common: dict[str, Any] = {"endpoint": endpoint, "status": status, "attempts": attempts}
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
    if status == 400:
        return RejectedError(f"{endpoint} was refused (HTTP 400): {summary}", **common,
                             title=title, detail=detail, errors=errors, body=raw,
                             after_lost_answer=after_lost_answer)
    if 300 <= status < 400:
        return UnexpectedResponseError(f"{endpoint}: the server redirects to "
                                       f"{redact(location or '?')} (HTTP {status}); {URL_HINT}",
                                       **common)
    hint = f"; {URL_HINT}, and that the ids exist" if status in (404, 405) else ""
    return UnexpectedResponseError(f"{endpoint}: unexpected HTTP {status}: {summary}{hint}",
                                   **common)
