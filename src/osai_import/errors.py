"""The one error tree of osai-import: every exception it raises on purpose is defined here.

Every error carries the exit code the CLI turns it into, and its message names the item
it concerns (a file, a line, an annotation, a config field, an endpoint) and what to do
about it. The CLI prints one line per error (``--debug`` adds the traceback)::

    OsaiImportError                     exit 3 unless a child says otherwise
    ├── ConfigError                     exit 2: the config or a command-line option is wrong
    ├── PluginError                     exit 2: a plugin cannot be loaded or registered
    │   └── RegistryError               a reader/encoder name is unknown or registered twice
    ├── SourceError                     exit 1: a source cannot be read at all
    │   └── ItemError                   one item is bad; carries a stable problem code
    │       ├── ItemReadError           a chunk item's bytes cannot be read
    │       └── UnsendableNameError     a name a multipart file name cannot carry
    ├── LocalFileError                  exit 3: a local file cannot be written (disk full, ...)
    │   └── JournalError                the journal cannot be opened, locked or written
    ├── ServerError                     the OSAI server refused or could not be reached
    │   └── ApiError                    ... at one endpoint, with its HTTP status
    │       ├── AuthError               the access token (or a fresh bearer token) refused
    │       │   └── LegacySignInError   the server signs in only with the token in a URL
    │       ├── UnexpectedResponseError an answer the client cannot use
    │       ├── TooLargeError           413: the chunk must be split
    │       ├── TransientError          retryable failures outlasted the retry policy
    │       │   ├── UnreachableError    no try got any HTTP answer
    │       │   └── ForeignAnswerError  a proxy's or captive portal's page, not the API, answered
    │       └── RejectedError           400: refused, not to be retried unchanged
    │           └── DuplicateCategoryError  the category name exists in the dataset
    └── AbortedError                    a run stopped before it finished
        └── CancelledError              the upload was cancelled (Ctrl-C, SIGTERM)

Exceptions that never leave the module that raises them (control flow inside the check
and the COCO geometry) and the local server's own errors, which become HTTP answers and
never reach a user of the client, are not part of this tree.
"""

from __future__ import annotations

import errno
import re
from typing import Any

# Exit codes shared by every command (documented in the README).
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3


class OsaiImportError(Exception):
    """Base of every error osai-import raises on purpose.

    ``report`` is the ``RunReport`` of the upload the error stopped, when
    ``osai_import.upload`` raised it (what was sent, what is unsettled); else None.
    """

    exit_code: int = EXIT_ABORTED
    report: Any = None


class ConfigError(OsaiImportError):
    """The config file (or a command-line option) is wrong; nothing was done."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, lines: list[str] | None = None) -> None:
        self.lines = lines or [message]
        super().__init__("\n".join(self.lines))


class PluginError(OsaiImportError):
    """A plugin could not be loaded or registered something invalid."""

    exit_code = EXIT_USAGE


class RegistryError(PluginError):
    """Two plugins registered the same reader or encoder name, or a name is unknown."""


class SourceError(OsaiImportError):
    """A dataset source cannot be read at all (as opposed to one bad item in it)."""

    exit_code = EXIT_PROBLEMS


class ItemError(SourceError):
    """One item of a source is bad; carries a stable problem code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ItemReadError(ItemError):
    """The bytes of one chunk item could not be read."""

    def __init__(self, index: int, name: str, error: OSError) -> None:
        self.index, self.name = index, name
        reason = error.strerror or str(error)
        where = f" from {error.filename}" if error.filename else ""
        super().__init__("unreadable", f"cannot read image {name!r} (chunk item {index})"
                         f"{where}: {reason}; check that the file still exists and is readable")


class UnsendableNameError(ItemError):
    """An image name holds a character a multipart file name cannot carry faithfully."""

    def __init__(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        super().__init__("name-unsendable", f"image name {name!r} (chunk item {index}) is "
                         "empty, not valid UTF-8, or holds a backslash or a control character, "
                         "which servers read differently in a multipart file name; rename "
                         "the image")


class LocalFileError(OsaiImportError):
    """A local file cannot be written (a full disk, no permission): the report, a spool."""

    exit_code = EXIT_ABORTED

    @classmethod
    def writing(cls, what: str, path: object, exc: OSError, fix: str) -> LocalFileError:
        """Return the error for ``what`` at ``path`` that could not be written."""
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        return cls(f"{path}: {what} could not be written ({reason}); {fix}")


class JournalError(LocalFileError):
    """The journal file cannot be opened, locked or written."""


class ServerError(OsaiImportError):
    """The OSAI server refused a request or could not be reached."""

    exit_code = EXIT_ABORTED


class AbortedError(OsaiImportError):
    """A run stopped before it finished (unreachable server, refused sign-in, Ctrl-C)."""

    exit_code = EXIT_ABORTED


class ApiError(ServerError):
    """Base of the client's errors: names the endpoint (``"POST /Datasets"``) and status.

    ``after_lost_answer`` is True when an earlier try of the same call may have been
    carried out by the server although its answer was lost, so a refusal may be about
    that earlier success (a 404 for a session an earlier try finished, say).
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None = None,
                 attempts: int = 1, after_lost_answer: bool = False) -> None:
        self.endpoint, self.status, self.attempts = endpoint, status, attempts
        self.after_lost_answer = after_lost_answer
        super().__init__(message)


class AuthError(ApiError):
    """The access token was refused, or a bearer token was refused right after sign-in."""


class LegacySignInError(AuthError):
    """The server offers only the legacy sign-in, ``GET /Users/SignIn?token=``.

    That form carries the access token in the URL, where proxies and server logs keep it,
    so osai-import refuses to use it; ``status`` is that of the refused POST (404 or 405).
    """


class UnexpectedResponseError(ApiError):
    """An answer the client cannot use: a redirect, a 404, a 200 body not as documented."""


class TooLargeError(ApiError):
    """The server refused the request as too large (413): split the chunk, send the halves."""


class TransientError(ApiError):
    """A request kept failing with retryable errors until the retry policy gave up.

    ``maybe_committed`` is True when at least one try may have been carried out by the
    server although its answer was lost. ``dropped`` is True when a try reached the server
    and its connection ended without an answer (as a server may refuse a request too
    large for it), as opposed to no connection at all.
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None, attempts: int,
                 maybe_committed: bool, dropped: bool = False) -> None:
        self.maybe_committed, self.dropped = maybe_committed, dropped
        super().__init__(message, endpoint=endpoint, status=status, attempts=attempts)


class UnreachableError(TransientError):
    """No try got any HTTP answer: connection refused, unknown name, timeouts, drops."""


class ForeignAnswerError(TransientError):
    """Something other than OSAI's API kept answering: a proxy's or captive portal's page.

    The last such answer was a 2xx that is no acknowledgement (an HTML page, a body
    labelled JSON that is not JSON); ``content_type`` and ``title`` (the page's, when it
    has one) are that answer's, redacted and short.
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None, attempts: int,
                 maybe_committed: bool, dropped: bool = False, content_type: str | None = None,
                 title: str | None = None) -> None:
        self.content_type, self.title = content_type, title
        super().__init__(message, endpoint=endpoint, status=status, attempts=attempts,
                         maybe_committed=maybe_committed, dropped=dropped)


class CancelledError(AbortedError):
    """``OsaiClient.cancel()`` ended a call: before it was sent, in flight, or between tries.

    ``maybe_committed`` is True when the server may have carried the call out anyway: the
    request was sent whole before the cancel cut its answer short, or an earlier try's
    answer was lost. ``endpoint`` names the call, when the client raised it.
    """

    def __init__(self, message: str, *, endpoint: str | None = None,
                 maybe_committed: bool = False) -> None:
        self.endpoint, self.maybe_committed = endpoint, maybe_committed
        super().__init__(message)


_INDEX = re.compile(r"images(?:Metadata|Files)\[(\d+)\]", re.IGNORECASE)
_NAME_EXISTS = re.compile(r"already exists|already in use|already taken|duplicate|"
                          r"must be unique|not unique", re.IGNORECASE)
_LOCKED = re.compile(r"\blocked\b", re.IGNORECASE)


class RejectedError(ApiError):
    """The server refused the request (400, 409, 423): it must not be retried unchanged.

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
        super().__init__(message, endpoint=endpoint, status=status, attempts=attempts,
                         after_lost_answer=after_lost_answer)

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
    def name_refused(self) -> bool:
        """Tell whether the problem details blame the ``name`` field and no other (structure).

        Keys are compared as ASP.NET writes them in any casing and nesting
        (``name``, ``Name``, ``$.name``, ``request.Name``); the messages are not read.
        """
        fields = {re.split(r"[.\]\[]", key.lower().strip("$.[]"))[-1] or key.lower()
                  for key in self.errors}
        return fields == {"name"}

    @property
    def name_exists(self) -> bool:
        """Tell whether the server says the name (of a category) exists already."""
        return any(_NAME_EXISTS.search(text) for text in self._texts())

    @property
    def dataset_locked(self) -> bool:
        """Tell whether the server says the dataset is locked by an upload session."""
        return any(_LOCKED.search(text) for text in self._texts())


class DuplicateCategoryError(RejectedError):
    """A category of that name exists already in the dataset (the refusal was a 400 or 409).

    The API has no call that lists categories, so the client cannot learn its id. When
    ``after_lost_answer`` is True the category is most likely the one an earlier try of
    the very same call created before its answer was lost.
    """
