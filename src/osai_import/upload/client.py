"""The OSAI HTTP client: one method per endpoint, retries, and errors mapped to ours.

Safe to share between threads: one ``requests.Session`` with a pool of ``pool_size``
keep-alive connections, and a bearer token read and renewed under a lock. Neither the
access token nor a bearer token ever appears in a message, a log line or a repr: text
from the server is redacted before it is shown, and no exception carries a request.

Every try of a request has a deadline, ``timeout`` seconds for all of it (connect, send,
the whole answer), kept by a watchdog that shuts the connection down when it passes
(``deadline.py``); ``cancel()`` uses the same watchdog to end the requests in flight.
Only an answer that looks like the API's counts as a success: a 2xx web page is a
failed try, retried, since a proxy or a captive portal sent it.

The access token travels only in the body of ``POST /Users/SignIn``, never in a URL: a
server that offers only the legacy ``GET /Users/SignIn?token=`` gets a LegacySignInError.
A bearer token refused with a 401, or once per call with a 403 (how some servers say
"expired"), is renewed by signing in again.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from osai_import.errors import (
    ApiError,
    AuthError,
    CancelledError,
    ConfigError,
    DuplicateCategoryError,
    ForeignAnswerError,
    LegacySignInError,
    RejectedError,
    TransientError,
    UnexpectedResponseError,
    UnreachableError,
)
from osai_import.upload.answers import (
    SESSION_FIELDS,
    TOKEN_FIELDS,
    Body,
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
    read_body,
    session_id,
    skipped_names,
)
from osai_import.upload.deadline import (
    CANCELLED,
    CONNECTING,
    NOT_SENT,
    SENT,
    Watchdog,
    WatchedAdapter,
)
from osai_import.upload.multipart import ChunkItem, ChunkResult, encode_chunk
from osai_import.upload.refusals import TOKEN_HINT, URL_HINT, Redactor, refusal
from osai_import.upload.retry import (
    MAYBE_COMMITTED_STATUSES,
    RETRY_STATUSES,
    RetryEvent,
    RetryPolicy,
    parse_retry_after,
)
from osai_import.version import __version__

logger = logging.getLogger("osai_import.upload.client")
_SIGN_IN = "POST /Users/SignIn"
_MAX_REAUTHS = 3  # sign-ins one call may make after a 401 before it gives up
_DEFAULT_RETRY = RetryPolicy()  # frozen: one instance serves every client
_MAX_CONNECT = 15.0  # a connect that takes longer than this will not succeed
# The 2xx statuses that acknowledge a chunk; another 2xx comes from something else.
_CHUNK_ACKS = frozenset({200, 201, 202, 204})
# A FinishUploading refused with these after a lost answer: that earlier try finished it.
_FINISHED_BEFORE = frozenset({400, 404, 410})
# The statuses of a path the server does not serve (at all, or not with this method).
_NO_ROUTE = frozenset({404, 405})
# The answers to a probe of the legacy sign-in that are handed back rather than raised.
_PROBE_ANSWERS = frozenset(range(300, 500)) - RETRY_STATUSES
_T = TypeVar("_T")


class _BearerAuth(requests.auth.AuthBase):
    # Passing an auth object also stops requests from putting ~/.netrc credentials
    # in place of the bearer token.
    def __init__(self, token: str | None) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is not None:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth([redacted])"


@dataclass
class _Progress:
    """The tries of one call so far, kept across a sign-in that interrupts them."""

    attempts: int = 0
    committed: bool = False
    answered: bool = False
    # A try reached the server and its connection ended without an answer.
    dropped: bool = False


@dataclass
class _Request:
    method: str
    path: str
    endpoint: str
    body: bytes | None = None
    content_type: str | None = None
    params: dict[str, str] | None = None
    cancellable: bool = True
    acks: frozenset[int] | None = None  # the 2xx statuses that acknowledge it; None: any
    # Refusals handed back as answers (their body unread as the API's), not raised.
    passthrough: frozenset[int] = frozenset()
    attempts: int | None = None  # this call's tries at most, when not the policy's


@dataclass(frozen=True)
class _Reply:
    """A successful answer: the response, its body read once."""

    response: requests.Response
    body: Body


@dataclass
class _Failure:
    """Why the last try failed, for the message once the tries run out."""

    status: int | None = None
    reason: str = ""
    timed_out: bool = False
    content_type: str | None = None  # of a foreign answer, shown redacted
    title: str | None = None
    foreign: bool = False


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
        self.timeout, self.retry, self.on_retry = timeout, retry, on_retry
        self.grace, self.settle = grace, settle
        self._access_token = access_token
        self._redact = Redactor(access_token)
        self._bearer: str | None = None
        self._generation = 0
        self._auth_lock = threading.Lock()
        self._unlisted: set[str] = set()  # the listing endpoints the server does not have
        self._cancelled = threading.Event()
        self._cancelled_at = float("inf")
        self._watchdog = Watchdog()
        self._rng = random.Random()
        self._session = requests.Session()
        adapter = WatchedAdapter(pool_connections=pool_size, pool_maxsize=pool_size,
                                 max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"OsaiClient({self.base_url!r}, signed_in={self._bearer is not None})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def cancel(self) -> None:
        """End every call with CancelledError: those in flight within a second, and later ones.

        Safe from another thread or a signal handler. A request in flight that has not
        ended by itself ``settle`` seconds later has its connection shut down; its
        CancelledError says whether the server may have carried it out
        (``maybe_committed``). ``finish_uploading`` goes on, so a cancelled run can still
        unlock its dataset, but within ``grace`` seconds from now.
        """
        if not self._cancelled.is_set():
            self._cancelled_at = time.monotonic()
            self._cancelled.set()
        self._watchdog.cancel(self._cancelled_at + self.grace, self.settle)

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
        return self._json(self._call(_Request("GET", "/Users", "GET /Users"))[0], "GET /Users")

    def create_dataset(self, name: str) -> DatasetRef:
        """Create a dataset (``POST /Datasets``); a retry after a lost answer may make two."""
        request = _Request("POST", "/Datasets", "POST /Datasets")
        reply, progress = self._call(request, json_body={"name": name})
        body = self._json(reply, request.endpoint)
        return DatasetRef(self._id(body, request.endpoint), str(lookup(body, "name") or name),
                          progress.committed)

    def create_category(self, dataset_id: Id, name: str) -> CategoryRef:
        """Create a category (``POST /Categories``) in an unlocked dataset.

        Raises DuplicateCategoryError when the name exists in the dataset: no endpoint
        lists categories, so the caller must know the id from an earlier run. The status
        and the answer's structure decide, never its wording: a 409; a 400 to a retry
        after a lost answer (the earlier try made it); a 400 whose problem details blame
        the ``name`` field alone.
        """
        request = _Request("POST", "/Categories", "POST /Categories")
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
        request = _Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/StartUploading",
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

        The body is built once, so every retry sends identical bytes. Raises ItemReadError
        or UnsendableNameError (naming the item) before anything is sent. An answer counts
        when it is a 200, 201, 202 or 204 whose body is empty, JSON or plain text; the
        names it says it skipped are in the result's ``skipped``. ``attempts`` caps this
        call's tries below the retry policy's (to look for an image the server fails on).
        """
        if not items:
            raise ValueError("upload_chunk needs at least one item")
        body, content_type = encode_chunk(dataset_id, upload_id, items)
        flag = "true" if skip_unsupported else "false"
        request = _Request("POST", "/Images/UploadChunk", "POST /Images/UploadChunk", body,
                           content_type, {"skipUnsupportedImages": flag}, acks=_CHUNK_ACKS,
                           attempts=attempts)
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
        request = _Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/FinishUploading",
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
            f"category {name!r} already exists in dataset {dataset_id}{made}; the API cannot "
            "list categories, so delete it in the OSAI web app and run again, or upload into "
            "a new dataset (another dataset.name, or --restart)",
            endpoint=error.endpoint, status=error.status or 400, attempts=error.attempts,
            title=rejected.title if rejected else None,
            detail=rejected.detail if rejected else None,
            errors=rejected.errors if rejected else None,
            body=rejected.body if rejected else "", after_lost_answer=lost)

    def _sign_in_locked(self, *, cancellable: bool) -> None:
        if not self._access_token.strip():
            raise AuthError(f"the access token is empty; {TOKEN_HINT}", endpoint=_SIGN_IN)
        # The token goes in the body only: a URL ends up in proxies' and servers' logs.
        request = _Request("POST", "/Users/SignIn", _SIGN_IN, json.dumps(self._access_token)
                           .encode(), "application/json", cancellable=cancellable,
                           passthrough=_NO_ROUTE)
        progress = _Progress()
        response = self._send(request, None, progress).response
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

    def _no_sign_in(self, response: requests.Response, progress: _Progress,
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
        probe = _Request("GET", "/Users/SignIn", "GET /Users/SignIn", cancellable=cancellable,
                         passthrough=_PROBE_ANSWERS)
        try:
            status = self._send(probe, None, _Progress()).response.status_code
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

    def _call(self, request: _Request, json_body: Any = None) -> tuple[_Reply, _Progress]:
        """Make an authenticated call; a refused bearer token is renewed, then it goes on.

        A 401 signs in again up to ``_MAX_REAUTHS`` times. A 403 is how some servers
        refuse an expired token, and how all refuse a user the right: it signs in again
        once per call, and not at all when the token was signed in for this very call and
        refused at its first use (a fresh token is not expired).
        """
        if json_body is not None:
            request.body, request.content_type = json.dumps(json_body).encode(), "application/json"
        progress = _Progress()
        reauths = 0
        renewed_for_403 = signed = False
        while True:
            token, generation, fresh = self._token(request.cancellable)
            signed = signed or fresh
            sent_before = progress.attempts
            try:
                return self._send(request, token, progress), progress
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
                self._notify(RetryEvent(request.endpoint, progress.attempts, self.retry.attempts,
                                        error.status, f"bearer token refused (HTTP "
                                        f"{error.status}); signing in again", 0.0, False,
                                        reauth=True))
                signed = self._renew(generation, request.cancellable)

    def _listing(self, what: str, dataset_id: Id, read: Callable[[Any], list[_T] | None]
                 ) -> list[_T] | None:
        """Return what ``GET /Datasets/{id}/<what>`` lists, read by ``read``, or None."""
        endpoint = f"GET /Datasets/{{id}}/{what}"
        if endpoint in self._unlisted:
            return None
        request = _Request("GET", f"/Datasets/{quote(str(dataset_id), safe='')}/{what}",
                           endpoint, passthrough=_NO_ROUTE)
        reply = self._call(request)[0]
        status = reply.response.status_code
        found = read(reply.body.data) if status not in _NO_ROUTE and reply.body.is_json else None
        if found is None:
            self._unlisted.add(endpoint)
            logger.info("%s is not served here (HTTP %d%s): going on without it", endpoint,
                        status, "" if status in _NO_ROUTE else ", not a list of entries")
        return found

    def _send(self, request: _Request, token: str | None, progress: _Progress) -> _Reply:
        """Make one call, retrying what is retryable; ``token`` None is the sign-in itself."""
        headers = {"Content-Type": request.content_type} if request.content_type else {}
        url, endpoint = self.base_url + request.path, request.endpoint
        failures = 0
        failure = _Failure()
        while True:
            if request.cancellable and self._cancelled.is_set():
                raise CancelledError(f"{endpoint} was not sent: the upload was cancelled",
                                     endpoint=endpoint, maybe_committed=progress.committed)
            budget = self._budget(request, progress, failure)
            progress.attempts += 1
            started = time.monotonic()
            failure = _Failure()
            retry_after: float | None = None
            response: requests.Response | None = None
            error: Exception | None = None
            with self._watchdog.start(budget, cancellable=request.cancellable) as flight:
                try:
                    response = self._session.request(
                        request.method, url, params=request.params, data=request.body,
                        headers=headers, timeout=(min(budget, _MAX_CONNECT), budget),
                        allow_redirects=False, auth=_BearerAuth(token))
                except Exception as raised:  # noqa: BLE001 - sorted out below, once the flight is over
                    error = raised
            if flight.stopped:
                # The watchdog shut the connection down: whatever came is cut short.
                if response is not None:
                    response.close()
                lost = flight.phase == SENT
                logger.debug("%s %s -> stopped (%s) after %.3f s", request.method,
                             request.path, flight.reason, time.monotonic() - started)
                if flight.reason == CANCELLED:
                    sent = "in flight, its request sent whole" if lost else "before it was sent"
                    raise CancelledError(f"{endpoint} was cancelled {sent}", endpoint=endpoint,
                                         maybe_committed=progress.committed or lost)
                if flight.phase in (NOT_SENT, CONNECTING):
                    failure.reason = f"no connection within {budget:g} s"
                else:
                    failure.reason = f"no whole answer within {budget:g} s"
                    failure.timed_out = True
            elif error is not None:
                lost = self._connection_failure(request, error, failure, progress, started,
                                                budget)
                progress.dropped = progress.dropped or (flight.reached and not failure.timed_out)
            else:
                assert response is not None
                status = response.status_code
                failure.status = status
                progress.answered = True
                logger.debug("%s %s -> %d in %.3f s (try %d, %d bytes sent)", request.method,
                             request.path, status, time.monotonic() - started,
                             progress.attempts, len(request.body or b""))
                if status in request.passthrough:
                    return _Reply(response, Body())
                if status < 300:
                    body = read_body(response.headers.get("Content-Type"), response.content)
                    if body.foreign is None and (request.acks is None or status in request.acks):
                        return _Reply(response, body)
                    # A proxy's or a portal's page: the request may or may not have gone on.
                    self._foreign(response, body, failure)
                    lost = True
                else:
                    if status not in RETRY_STATUSES:
                        raise refusal(status, response.text, endpoint=endpoint,
                                      redact=self._redact, signing_in=token is None,
                                      attempts=progress.attempts,
                                      after_lost_answer=progress.committed,
                                      location=response.headers.get("Location"),
                                      reason=response.reason or "")
                    lost = status in MAYBE_COMMITTED_STATUSES
                    failure.reason = f"HTTP {status}"
                    if status in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
            progress.committed = progress.committed or lost
            failures += 1
            attempts = request.attempts or self.retry.attempts
            if failures >= attempts:
                raise self._exhausted(endpoint, progress, failure)
            delay = self.retry.delay(failures, retry_after, self._rng)
            logger.info("%s failed (%s, try %d of %d); retrying in %.2f s", endpoint,
                        failure.reason, failures, attempts, delay)
            self._notify(RetryEvent(endpoint, failures, attempts, failure.status,
                                    failure.reason, delay, lost))
            self._pause(request, delay, progress, failure)

    def _budget(self, request: _Request, progress: _Progress, failure: _Failure) -> float:
        """Return the seconds the next try may take: ``timeout``, less in a cancel's grace."""
        if request.cancellable or not self._cancelled.is_set():
            return self.timeout
        left = self._cancelled_at + self.grace - time.monotonic()
        if left <= 0:
            raise self._graceless(request.endpoint, progress, failure)
        return min(self.timeout, left)

    def _pause(self, request: _Request, delay: float, progress: _Progress,
               failure: _Failure) -> None:
        """Wait ``delay`` seconds before the next try, unless a cancel ends the call first."""
        if request.cancellable:
            if self._cancelled.wait(delay):
                raise CancelledError(f"{request.endpoint} was not retried: the upload was "
                                     "cancelled", endpoint=request.endpoint,
                                     maybe_committed=progress.committed)
            return
        resume = time.monotonic() + delay
        if not self._cancelled.is_set():
            self._cancelled.wait(delay)
        if self._cancelled.is_set():
            if resume >= self._cancelled_at + self.grace:
                raise self._graceless(request.endpoint, progress, failure)
            time.sleep(max(resume - time.monotonic(), 0.0))

    def _connection_failure(self, request: _Request, error: Exception, failure: _Failure,
                            progress: _Progress, started: float, budget: float) -> bool:
        """Sort out a try that got no answer; return whether it may have been carried out."""
        endpoint = request.endpoint
        if isinstance(error, requests.exceptions.SSLError):
            raise UnreachableError(
                f"{endpoint}: TLS failed ({self._redact.excerpt(str(error), 300)}); check "
                "server.url and the system's certificates", endpoint=endpoint, status=None,
                attempts=progress.attempts, maybe_committed=progress.committed) from None
        if isinstance(error, (requests.ConnectionError, requests.Timeout,
                              requests.exceptions.ChunkedEncodingError)):
            # Only a failed connect proves the server never saw the request.
            cause = getattr(error.args[0] if error.args else None, "reason", None)
            lost = not (isinstance(error, requests.exceptions.ConnectTimeout)
                        or isinstance(cause, ConnectTimeoutError))
            # A read timeout means the server has the request and is slow: say so,
            # rather than "cannot reach", so the user raises server.timeout.
            failure.timed_out = isinstance(error, requests.exceptions.ReadTimeout)
            failure.reason = (f"no answer within {budget:g} s" if failure.timed_out
                              else self._connection_reason(error))
            logger.debug("%s %s -> %s after %.3f s", request.method, request.path,
                         type(error).__name__, time.monotonic() - started)
            return lost
        if isinstance(error, requests.RequestException):
            raise ApiError(f"{endpoint}: the request could not be made ({type(error).__name__}"
                           f": {self._redact.excerpt(str(error), 300)}); {URL_HINT}",
                           endpoint=endpoint, attempts=progress.attempts) from None
        raise error

    def _foreign(self, response: requests.Response, body: Body, failure: _Failure) -> None:
        """Describe a 2xx that is no answer of the API's in ``failure``, redacted and short."""
        status = response.status_code
        kind = body.foreign or f"HTTP {status}, which the API does not answer here"
        failure.foreign = True
        failure.content_type = self._redact.excerpt(
            response.headers.get("Content-Type") or "no content type", 60)
        failure.title = None if body.title is None else self._redact.excerpt(body.title, 80)
        shown = [f"HTTP {status}", failure.content_type]
        if failure.title:
            shown.append(f"page title {failure.title!r}")
        failure.reason = f"{kind} ({', '.join(shown)})"

    def _notify(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)

    def _connection_reason(self, error: Exception) -> str:
        """Return the gist of a connection failure (``Connection refused``), redacted."""
        text = self._redact(str(error))
        # urllib3 wraps the OS's words in three layers of reprs; the errno text is the news.
        found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
        if found:
            return found.group(1).strip()
        return f"{type(error).__name__}: {text[:300]}"

    def _exhausted(self, endpoint: str, progress: _Progress, failure: _Failure
                   ) -> TransientError:
        common: dict[str, Any] = {"endpoint": endpoint, "status": failure.status,
                                  "attempts": progress.attempts,
                                  "maybe_committed": progress.committed,
                                  "dropped": progress.dropped}
        if failure.foreign:
            return ForeignAnswerError(
                f"{endpoint}: something other than OSAI's API answered ({progress.attempts} "
                f"tries, last: {failure.reason}); a proxy or a captive portal stands between "
                "this machine and the server: check server.url and the network (sign in to "
                "its portal, or set HTTPS_PROXY), then run again", **common,
                content_type=failure.content_type, title=failure.title)
        if failure.timed_out:
            return TransientError(
                f"{endpoint}: the server at {self.base_url} did not answer within "
                f"{self.timeout:g} s ({progress.attempts} tries, last: {failure.reason}); it "
                "is overloaded or the link is slow: raise server.timeout, or lower "
                "upload.workers or upload.chunk_bytes, or run again later", **common)
        if not progress.answered:
            return UnreachableError(
                f"cannot reach {self.base_url} ({endpoint}, {progress.attempts} tries, last: "
                f"{failure.reason}); check server.url and the network, then run again", **common)
        return TransientError(
            f"{endpoint} failed {progress.attempts} times (last: {failure.reason}); the server "
            "is overloaded or down: run again later, or with fewer workers", **common)

    def _graceless(self, endpoint: str, progress: _Progress, failure: _Failure
                   ) -> TransientError:
        """Return the error of a call the cancel's grace ran out on."""
        last = f", last: {failure.reason}" if failure.reason else ""
        return TransientError(
            f"{endpoint}: given up {self.grace:g} s after the upload was cancelled "
            f"({progress.attempts} tries{last}); the server did not answer in time",
            endpoint=endpoint, status=failure.status, attempts=progress.attempts,
            maybe_committed=progress.committed)

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

    def _json(self, reply: _Reply, endpoint: str) -> Any:
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
