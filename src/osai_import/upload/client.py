"""The OSAI HTTP client: one method per endpoint, and the bearer token behind them.

Safe to share between threads: one transport (``transport.py``: a pool of ``pool_size``
keep-alive connections, every try within ``timeout`` seconds, retries) and a bearer
token read and renewed under a lock. Neither the access token nor a bearer token ever
appears in a message, a log line or a repr: text from the server is redacted before it
is shown, and no exception carries a request.

The access token travels only in the body of ``POST /Users/SignIn``, never in a URL: a
server that offers only the legacy ``GET /Users/SignIn?token=`` gets a LegacySignInError.
A bearer token refused with a 401, or once per call with a 403 (how some servers say
"expired"), is renewed by signing in again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests

from osai_import.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DuplicateCategoryError,
    LegacySignInError,
    RejectedError,
    UnexpectedResponseError,
)
from osai_import.upload.answers import (
    SESSION_FIELDS,
    TOKEN_FIELDS,
    CategoryRef,
    DatasetRef,
    Id,
    ListedImage,
    bearer_token,
    field_names,
    is_id,
    listed_categories,
    listed_images,
    lookup,
    session_id,
    skipped_names,
)
from osai_import.upload.multipart import ChunkItem, ChunkResult, stream_chunk
from osai_import.upload.refusals import TOKEN_HINT, URL_HINT, Redactor, refusal
from osai_import.upload.retry import (
    RETRY_STATUSES,
    RetryEvent,
    RetryPolicy,
)
from osai_import.upload.transport import Progress, Reply, Request, Transport
from osai_import.version import __version__

logger = logging.getLogger("osai_import.upload.client")
_SIGN_IN = "POST /Users/SignIn"
_MAX_REAUTHS = 3  # sign-ins one call may make after a 401 before it gives up
_DEFAULT_RETRY = RetryPolicy()  # frozen: one instance serves every client
# The 2xx statuses that acknowledge a chunk; another 2xx comes from something else.
_CHUNK_ACKS = frozenset({200, 201, 202, 204})
# A chunk of several images whose connection drops this often is given back to the
# uploader, which sends its halves: a server may refuse a chunk too large for it so.
_CHUNK_DROPS = 2
# A FinishUploading refused with these after a lost answer: that earlier try finished it.
_FINISHED_BEFORE = frozenset({400, 404, 410})
# The statuses of a path the server does not serve (at all, or not with this method).
_NO_ROUTE = frozenset({404, 405})
# The answers to a probe of the legacy sign-in that are handed back rather than raised.
_PROBE_ANSWERS = frozenset(range(300, 500)) - RETRY_STATUSES
_T = TypeVar("_T")


class OsaiClient:
    """Talk to one OSAI server with one access token; see the module docstring."""

    def __init__(self, base_url: str, access_token: str, *, timeout: float = 60,
                 retry: RetryPolicy = _DEFAULT_RETRY, pool_size: int = 8,
                 user_agent: str = f"osai-import/{__version__}",
                 on_retry: Callable[[RetryEvent], None] | None = None,
                 grace: float = 8.0, settle: float = 0.5) -> None:
        """Make a client; ``timeout`` bounds each try of a request, start to end.

        ``grace`` bounds the calls ``cancel()`` does not end (FinishUploading): after a
        cancel, each of them, all its tries together, ends within ``grace`` seconds of it.
        ``settle`` (at most 1) is how long a request in flight at the cancel may still
        end by itself, its answer known, before its connection is shut down.
        """
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"server url {base_url!r} is not an http(s) URL; {URL_HINT}")
        if not (timeout > 0 and grace >= 0 and 0 <= settle <= 1):
            raise ValueError(f"timeout must be positive, grace not negative and settle "
                             f"within [0, 1], not {timeout!r}, {grace!r} and {settle!r}")
        self.base_url = base_url.rstrip("/")
        self.pool_size = pool_size
        self._access_token = access_token
        self._redact = Redactor(access_token)
        self._transport = Transport(self.base_url, self._redact, timeout=timeout, retry=retry,
                                    pool_size=pool_size, user_agent=user_agent,
                                    on_retry=on_retry, grace=grace, settle=settle)
        self._bearer: str | None = None
        self._generation = 0
        self._auth_lock = threading.Lock()
        self._unlisted: set[str] = set()  # the listing endpoints the server does not have

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every call follows."""
        return self._transport.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._transport.retry = policy

    def __repr__(self) -> str:
        return f"OsaiClient({self.base_url!r}, signed_in={self._bearer is not None})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def warm(self, connections: int) -> Callable[[], None]:
        """Open up to ``connections`` pooled connections in the background (a head start).

        Returns a function that hands them to the pool (call it once the calls that should
        keep the connection already open are made); until then they wait, at most 30 s.
        """
        return self._transport.warm(connections)

    def cancel(self) -> None:
        """End every call with CancelledError: those in flight within a second, and later ones.

        Safe from another thread or a signal handler. A request in flight that has not
        ended by itself ``settle`` seconds later has its connection shut down; its
        CancelledError says whether the server may have carried it out
        (``maybe_committed``). ``finish_uploading`` goes on, so a cancelled run can still
        unlock its dataset, but within ``grace`` seconds from now.
        """
        self._transport.cancel()

    # --- endpoints -----------------------------------------------------------------------

    def sign_in(self) -> None:
        """Trade the access token for a bearer token (``POST /Users/SignIn``).

        Other calls sign in by themselves when needed; call this to check the token first.
        The answer is the token as text, as a JSON string, or in an object (see
        ``answers.bearer_token``). Raises LegacySignInError when the server offers only
        the legacy GET form, which carries the token in the URL; the client never uses it.
        """
        with self._auth_lock:
            self._sign_in_locked(cancellable=True)

    def current_user(self) -> Any:
        """Return the signed-in user as the server describes it (``GET /Users``)."""
        return self._json(self._call(Request("GET", "/Users", "GET /Users"))[0], "GET /Users")

    def create_dataset(self, name: str) -> DatasetRef:
        """Create a dataset (``POST /Datasets``); a retry after a lost answer may make two."""
        request = Request("POST", "/Datasets", "POST /Datasets")
        reply, progress = self._call(request, json_body={"name": name})
        body = self._json(reply, request.endpoint)
        return DatasetRef(self._id(body, request.endpoint), str(lookup(body, "name") or name),
                          progress.committed)

    def create_category(self, dataset_id: Id, name: str) -> CategoryRef:
        """Create a category (``POST /Categories``) in an unlocked dataset.

        Raises DuplicateCategoryError when the name exists in the dataset: OSAI documents
        no listing, so the caller must know the id (from an earlier run, the config, or
        ``list_categories`` where the server has it). The status
        and the answer's structure decide, never its wording: a 409; a 400 to a retry
        after a lost answer (the earlier try made it); a 400 whose problem details blame
        the ``name`` field alone.
        """
        request = Request("POST", "/Categories", "POST /Categories")
        try:
            reply, progress = self._call(request,
                                         json_body={"datasetId": dataset_id, "name": name})
        except ApiError as error:
            if error.endpoint != request.endpoint:
                raise  # the sign-in before it
            raise self._duplicate(error, dataset_id, name) from None
        body = self._json(reply, request.endpoint)
        return CategoryRef(self._id(body, request.endpoint), str(lookup(body, "name") or name),
                           progress.committed)

    def start_uploading(self, dataset_id: Id) -> Id:
        """Open an upload session, locking the dataset; return its ``datasetUploadId``.

        The id is returned as the server gave it, an int or a string. The answer is a JSON
        scalar, bare text, or an object: of one field (whatever its name) holding an int or
        a non-blank string, or of several, one of them a known name (``datasetUploadId``,
        ``uploadId``, ``id``...). Anything else is an UnexpectedResponseError.
        """
        request = Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/StartUploading",
                           "POST /Datasets/{id}/StartUploading")
        reply = self._call(request)[0]
        found = session_id(reply.body, reply.response.text)
        if found is None:
            raise self._bad_body(reply.response, request.endpoint, "no datasetUploadId"
                                 + self._fields(reply.body.data, SESSION_FIELDS))
        return found

    def list_categories(self, dataset_id: Id) -> list[CategoryRef] | None:
        """Return a dataset's categories (``GET /Datasets/{id}/Categories``), or None.

        OSAI documents no such endpoint, so a run may use it and must not need it. None
        means the server has none: a 404 or 405, or an answer that is not a JSON list of
        objects each with an id and a name (field names in any case); the client then
        never asks again. Other failures raise as every call's do.
        """
        return self._listing("Categories", dataset_id, listed_categories)

    def list_images(self, dataset_id: Id) -> list[ListedImage] | None:
        """Return a dataset's images (``GET /Datasets/{id}/Images``), or None.

        As ``list_categories``; each entry needs an id and a name, and its ``categoryId``
        and ``sha256`` are kept when given.
        """
        return self._listing("Images", dataset_id, listed_images)

    def upload_chunk(self, dataset_id: Id, upload_id: Id, items: Sequence[ChunkItem], *,
                     skip_unsupported: bool = False, attempts: int | None = None
                     ) -> ChunkResult:
        """Send images with their annotations and categories (``POST /Images/UploadChunk``).

        The body is streamed from the files (``multipart.ChunkBody``), and every retry
        sends identical bytes: a ``CheckedFile`` that reads otherwise cuts the body short
        and raises ItemStreamError naming the item (nothing of that try is stored), not
        retried. Raises ItemReadError or UnsendableNameError (naming the item) before
        anything is sent. An answer counts
        when it is a 200, 201, 202 or 204 whose body is empty, JSON or plain text; the
        names it says it skipped are in the result's ``skipped``. ``attempts`` caps this
        call's tries below the retry policy's (to look for an image the server fails on).
        A chunk of several images whose connection drops twice after reaching the server
        raises TransientError with ``dropped`` without further tries: the caller sends it
        in halves.
        """
        if not items:
            raise ValueError("upload_chunk needs at least one item")
        body, content_type = stream_chunk(dataset_id, upload_id, items)
        flag = "true" if skip_unsupported else "false"
        request = Request("POST", "/Images/UploadChunk", "POST /Images/UploadChunk", body,
                           content_type, {"skipUnsupportedImages": flag}, acks=_CHUNK_ACKS,
                           attempts=attempts, max_drops=_CHUNK_DROPS if len(items) > 1 else None)
        reply, progress = self._call(request)
        parsed = reply.body.data
        return ChunkResult(len(items), len(body), progress.attempts, progress.committed,
                           skipped_names(parsed, [item.name for item in items]), parsed)

    def finish_uploading(self, dataset_id: Id, upload_id: Id) -> None:
        """Close the upload session, unlocking the dataset; runs even after ``cancel()``.

        After a cancel it ends within ``grace`` seconds of it, whatever the server does.
        When an earlier try may have closed the session before its answer was lost, a
        refusal of the retry with status 400, 404 or 410 counts as success, whatever its
        words: it is about a session that try finished.
        """
        request = Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/FinishUploading",
                           "POST /Datasets/{id}/FinishUploading",
                           params={"datasetUploadId": str(upload_id)}, cancellable=False)
        try:
            self._call(request)
        except ApiError as error:
            if not (error.endpoint == request.endpoint and error.after_lost_answer
                    and error.status in _FINISHED_BEFORE):
                raise
            logger.info("%s answered HTTP %s after a lost answer: session %s was finished by "
                        "the earlier try", request.endpoint, error.status, upload_id)

    # --- machinery -----------------------------------------------------------------------

    def _duplicate(self, error: ApiError, dataset_id: Id, name: str) -> ApiError:
        """Return the error for a refused category: DuplicateCategoryError when it is one."""
        lost = error.after_lost_answer
        rejected = error if isinstance(error, RejectedError) else None
        if not (error.status == 409 or (error.status == 400 and (
                lost or (rejected is not None and rejected.name_refused)))):
            if rejected is not None and rejected.name_exists and not rejected.dataset_locked:
                # Only the words say "exists": no recovery, but the message says what to do.
                return RejectedError(
                    f"{error}; if category {name!r} exists already in dataset {dataset_id}, "
                    "delete it in the OSAI web app and run again, or upload into a new "
                    "dataset", endpoint=error.endpoint, status=error.status or 400,
                    attempts=error.attempts, title=rejected.title, detail=rejected.detail,
                    errors=rejected.errors, body=rejected.body, after_lost_answer=lost)
            return error
        made = " (most likely made by an earlier try whose answer was lost)" if lost else ""
        return DuplicateCategoryError(
            f"category {name!r} already exists in dataset {dataset_id}{made}; OSAI's API "
            "documents no way to list categories, so delete it in the OSAI web app and run "
            "again, or upload into a new dataset (another dataset.name, or --restart)",
            endpoint=error.endpoint, status=error.status or 400, attempts=error.attempts,
            title=rejected.title if rejected else None,
            detail=rejected.detail if rejected else None,
            errors=rejected.errors if rejected else None,
            body=rejected.body if rejected else "", after_lost_answer=lost)

    def _sign_in_locked(self, *, cancellable: bool) -> None:
        if not self._access_token.strip():
            raise AuthError(f"the access token is empty; {TOKEN_HINT}", endpoint=_SIGN_IN)
        # The token goes in the body only: a URL ends up in proxies' and servers' logs.
        request = Request("POST", "/Users/SignIn", _SIGN_IN, json.dumps(self._access_token)
                           .encode(), "application/json", cancellable=cancellable,
                           passthrough=_NO_ROUTE)
        progress = Progress()
        response = self._transport.send(request, None, progress).response
        if response.status_code in _NO_ROUTE:
            raise self._no_sign_in(response, progress, cancellable)
        token = bearer_token(response.text)
        if token is None:
            # No excerpt: the body may be a token of a shape the checks refuse, and a
            # header holding it would make requests echo it in an error.
            kind = self._redact.excerpt(response.headers.get("Content-Type")
                                        or "no content type", 60)
            try:
                fields = self._fields(json.loads(response.text), TOKEN_FIELDS)
            except ValueError:
                fields = ""
            raise UnexpectedResponseError(
                f"{_SIGN_IN}: the answer ({len(response.text)} characters of {kind}) holds no "
                f"usable bearer token{fields}; {URL_HINT}", endpoint=_SIGN_IN,
                status=response.status_code)
        self._redact.add(token)
        self._bearer = token
        self._generation += 1

    def _no_sign_in(self, response: requests.Response, progress: Progress,
                    cancellable: bool) -> ApiError:
        """Return the error for a POST sign-in the server does not serve (404 or 405).

        When the server has the legacy GET form, LegacySignInError says so; else the path
        is wrong, and the refusal says to check server.url.
        """
        status = response.status_code
        allowed = {m.strip().upper() for m in (response.headers.get("Allow") or "").split(",")}
        if (status == 405 and "GET" in allowed) or self._has_get_sign_in(cancellable):
            return LegacySignInError(
                f"{_SIGN_IN}: the server at {self.base_url} answers HTTP {status}; it offers "
                "only the legacy sign-in, GET /Users/SignIn?token=..., which carries the access "
                "token in the URL, where proxies and server logs keep it, and osai-import "
                "refuses to use it: set server.url to OSAI's current API (e.g. "
                "https://app-eu.onestepai.com/api), which signs in with POST",
                endpoint=_SIGN_IN, status=status, attempts=progress.attempts)
        return refusal(status, response.text, endpoint=_SIGN_IN, redact=self._redact,
                       signing_in=True, attempts=progress.attempts, after_lost_answer=False,
                       reason=response.reason or "")

    def _has_get_sign_in(self, cancellable: bool) -> bool:
        """Tell whether ``GET /Users/SignIn`` exists, asking without any token.

        A refusal such as a 400 for the missing token, a 401 or a 403 shows the path is
        served; a 404 or 405 (or no answer) does not.
        """
        probe = Request("GET", "/Users/SignIn", "GET /Users/SignIn", cancellable=cancellable,
                         passthrough=_PROBE_ANSWERS)
        try:
            status = self._transport.send(probe, None, Progress()).response.status_code
        except ApiError:
            return False
        return 200 <= status < 300 or (400 <= status < 500 and status not in _NO_ROUTE)

    def _token(self, cancellable: bool) -> tuple[str, int, bool]:
        """Return the bearer token, its generation, and whether this call signed in for it."""
        with self._auth_lock:
            signed = self._bearer is None
            if signed:
                self._sign_in_locked(cancellable=cancellable)
            assert self._bearer is not None
            return self._bearer, self._generation, signed

    def _renew(self, seen_generation: int, cancellable: bool) -> bool:
        """Sign in again unless another thread did since; return whether this one did."""
        with self._auth_lock:
            # Another thread may have signed in again while this one waited for the lock.
            if self._generation != seen_generation:
                return False
            self._sign_in_locked(cancellable=cancellable)
            return True

    def _call(self, request: Request, json_body: Any = None) -> tuple[Reply, Progress]:
        """Make an authenticated call; a refused bearer token is renewed, then it goes on.

        A 401 signs in again up to ``_MAX_REAUTHS`` times. A 403 is how some servers
        refuse an expired token, and how all refuse a user the right: it signs in again
        once per call, and not at all when the token was signed in for this very call and
        refused at its first use (a fresh token is not expired).
        """
        if json_body is not None:
            request.body, request.content_type = json.dumps(json_body).encode(), "application/json"
        progress = Progress()
        reauths = 0
        renewed_for_403 = signed = False
        while True:
            token, generation, fresh = self._token(request.cancellable)
            signed = signed or fresh
            sent_before = progress.attempts
            try:
                return self._transport.send(request, token, progress), progress
            except AuthError as error:
                # Not just once: a call retrying through an outage can outlive even a fresh
                # token. A server that refuses every fresh token still ends it soon.
                if error.status not in (401, 403) or reauths >= _MAX_REAUTHS:
                    raise
                if error.status == 403:
                    first_use = signed and error.attempts == sent_before + 1
                    if renewed_for_403 or first_use:
                        raise
                    renewed_for_403 = True
                reauths += 1
                self._transport.notify(RetryEvent(
                    request.endpoint, progress.attempts, self._transport.retry.attempts,
                    error.status, f"bearer token refused (HTTP {error.status}); signing in "
                    "again", 0.0, False, reauth=True))
                signed = self._renew(generation, request.cancellable)

    def _listing(self, what: str, dataset_id: Id, read: Callable[[Any], list[_T] | None]
                 ) -> list[_T] | None:
        """Return what ``GET /Datasets/{id}/<what>`` lists, read by ``read``, or None."""
        endpoint = f"GET /Datasets/{{id}}/{what}"
        if endpoint in self._unlisted:
            return None
        request = Request("GET", f"/Datasets/{quote(str(dataset_id), safe='')}/{what}",
                           endpoint, passthrough=_NO_ROUTE)
        reply = self._call(request)[0]
        status = reply.response.status_code
        found = read(reply.body.data) if status not in _NO_ROUTE and reply.body.is_json else None
        if found is None:
            self._unlisted.add(endpoint)
            logger.info("%s is not served here (HTTP %d%s): going on without it", endpoint,
                        status, "" if status in _NO_ROUTE else ", not a list of entries")
        return found


    def _fields(self, body: Any, known: Sequence[str]) -> str:
        """Return why an object answer holds no usable value (field names redacted), or "".

        The names are shown because the object's shape is the news; its values are not,
        as they may hold a secret.
        """
        names = field_names(body)
        if not names:
            return ""
        shown = ", ".join(repr(self._redact(name)) for name in names)
        if len(names) == 1:
            return f": its one field {shown} holds no usable value"
        more = ", ..." if len(body) > len(names) else ""
        return (f": it is an object of fields {shown}{more}, and none of the names known to "
                f"hold it ({', '.join(known)}) holds a usable value")

    def _json(self, reply: Reply, endpoint: str) -> Any:
        if not reply.body.is_json:
            raise self._bad_body(reply.response, endpoint, "no JSON")
        return reply.body.data

    def _id(self, body: Any, endpoint: str) -> Id:
        value = lookup(body, "id")
        if not is_id(value):
            raise UnexpectedResponseError(f"{endpoint}: the answer has no usable id "
                                          f"({self._redact.excerpt(repr(body), 200)}); "
                                          f"{URL_HINT}", endpoint=endpoint, status=200)
        return value

    def _bad_body(self, response: requests.Response, endpoint: str, what: str
                  ) -> UnexpectedResponseError:
        excerpt = self._redact.excerpt(response.text, 200)
        return UnexpectedResponseError(f"{endpoint}: the answer holds {what} (HTTP "
                                       f"{response.status_code}, body {excerpt!r}); {URL_HINT}",
                                       endpoint=endpoint, status=response.status_code)
