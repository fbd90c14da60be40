"""The errors of the OSAI client, and how an HTTP refusal becomes one of them.

Every message names the endpoint, the status and what to do. Text that comes from the
server passes through a ``Redactor`` first, so a server that echoes a token never makes
it show up in a message.
"""

from __future__ import annotations

import json
import re
from typing import Any

from osai_import.errors import AbortedError, ServerError

TOKEN_HINT = ("check OSAI_TOKEN, or create a new access token in the OSAI web app "
              "(access tokens expire on the date chosen when they were made)")
URL_HINT = "check that server.url is the API root, e.g. https://app-eu.onestepai.com/api"


class ApiError(ServerError):
    """Base of the client's errors: names the endpoint (``"POST /Datasets"``) and status."""

    def __init__(self, message: str, *, endpoint: str, status: int | None = None,
                 attempts: int = 1) -> None:
        self.endpoint, self.status, self.attempts = endpoint, status, attempts
        super().__init__(message)


class AuthError(ApiError):
    """The access token was refused, or a bearer token was refused right after sign-in."""


class UnexpectedResponseError(ApiError):
    """An answer the client cannot use: a redirect, a 404, a 200 body not as documented."""


class TooLargeError(ApiError):
    """The server refused the request as too large (413): split the chunk, send the halves."""


class TransientError(ApiError):
    """A request kept failing with retryable errors until the retry policy gave up.

    ``maybe_committed`` is True when at least one try may have been carried out by the
    server although its answer was lost.
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None, attempts: int,
                 maybe_committed: bool) -> None:
        self.maybe_committed = maybe_committed
        super().__init__(message, endpoint=endpoint, status=status, attempts=attempts)


class UnreachableError(TransientError):
    """No try got any HTTP answer: connection refused, unknown name, timeouts, drops."""


class CancelledError(AbortedError):
    """``OsaiClient.cancel()`` was called before or while a request waited to be retried."""


_INDEX = re.compile(r"images(?:Metadata|Files)\[(\d+)\]", re.IGNORECASE)
_SESSION_GONE = re.compile(
    r"(upload|session).{0,80}?\b(not active|inactive|expired|does not exist|not found|"
    r"unknown|finished|closed|no longer)", re.IGNORECASE | re.DOTALL)
_NAME_EXISTS = re.compile(r"already exists|already in use|already taken|duplicate|"
                          r"must be unique|not unique", re.IGNORECASE)
_LOCKED = re.compile(r"\blocked\b", re.IGNORECASE)
# ASP.NET's own words when a form is too big in a way that is not a 413.
_LIMIT = re.compile(r"limit \d* ?exceeded|too large|too many|too long", re.IGNORECASE)


class RejectedError(ApiError):
    """The server refused the request (400): it must not be retried unchanged.

    Carries the ASP.NET problem details when the body holds them (``title``, ``detail``,
    ``errors``: field -> messages), and ``body``: the first 500 characters of the answer.
    ``after_lost_answer`` is True when an earlier try of the same call may have been
    carried out by the server, so this refusal may be about that earlier success.
    """

    def __init__(self, message: str, *, endpoint: str, status: int = 400, attempts: int = 1,
                 title: str | None = None, detail: str | None = None,
                 errors: dict[str, list[str]] | None = None, body: str = "",
                 after_lost_answer: bool = False) -> None:
        self.title, self.detail, self.errors, self.body = title, detail, errors or {}, body
        self.after_lost_answer = after_lost_answer
        super().__init__(message, endpoint=endpoint, status=status, attempts=attempts)

    def _texts(self) -> list[str]:
        texts = [f"{field}: {m}" for field, messages in self.errors.items() for m in messages]
        return texts + [t for t in (self.detail, self.body) if t]

    def image_indexes(self) -> tuple[int, ...]:
        """Return, sorted, the chunk item indexes the server named (``imagesMetadata[3].x``)."""
        found = {int(m) for key in self.errors for m in _INDEX.findall(key)}
        if not found:
            found = {int(m) for text in self._texts() for m in _INDEX.findall(text)}
        return tuple(sorted(found))

    def messages_for(self, index: int) -> list[str]:
        """Return the server's messages about chunk item ``index`` as ``"field: message"``."""
        return [f"{field}: {message}" for field, messages in self.errors.items()
                if index in {int(m) for m in _INDEX.findall(field)} for message in messages]

    @property
    def session_expired(self) -> bool:
        """Tell whether the server says the upload session is unknown, finished or expired."""
        if any(key.lower() == "datasetuploadid" for key in self.errors):
            return True
        return any(_SESSION_GONE.search(text) for text in self._texts())

    @property
    def name_exists(self) -> bool:
        """Tell whether the server says the name (of a category) exists already."""
        return any(_NAME_EXISTS.search(text) for text in self._texts())

    @property
    def limit_exceeded(self) -> bool:
        """Tell whether the server says the form broke a size or count limit (split it)."""
        return any(_LIMIT.search(text) for text in self._texts())

    @property
    def dataset_locked(self) -> bool:
        """Tell whether the server says the dataset is locked by an upload session."""
        return any(_LOCKED.search(text) for text in self._texts())


class DuplicateCategoryError(RejectedError):
    """A category of that name exists already in the dataset.

    The API has no call that lists categories, so the client cannot learn its id. When
    ``after_lost_answer`` is True the category is most likely the one an earlier try of
    the very same call created before its answer was lost.
    """


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
