"""The OSAI HTTP client: one method per endpoint, retries, and errors mapped to ours.

Safe to share between threads: one ``requests.Session`` with a pool of ``pool_size``
keep-alive connections, and a bearer token read and renewed under a lock. Neither the
access token nor a bearer token ever appears in a message, a log line or a repr: text
from the server is redacted before it is shown, and no exception carries a request.
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
from typing import Any, Self
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from osai_import.errors import (
    ApiError,
    AuthError,
    CancelledError,
    ConfigError,
    DuplicateCategoryError,
    RejectedError,
    TransientError,
    UnexpectedResponseError,
    UnreachableError,
)
from osai_import.upload.answers import (
    CategoryRef,
    DatasetRef,
    Id,
    is_id,
    lookup,
    skipped_names,
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


@dataclass
class _Request:
    method: str
    path: str
    endpoint: str
    body: bytes | None = None
    content_type: str | None = None
    params: dict[str, str] | None = None
    cancellable: bool = True


class OsaiClient:
    """Talk to one OSAI server with one access token; see the module docstring."""

    def __init__(self, base_url: str, access_token: str, *, timeout: float = 60,
                 retry: RetryPolicy = _DEFAULT_RETRY, pool_size: int = 8,
                 user_agent: str = f"osai-import/{__version__}",
                 on_retry: Callable[[RetryEvent], None] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"server url {base_url!r} is not an http(s) URL; {URL_HINT}")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retry, self.on_retry = timeout, retry, on_retry
        self._access_token = access_token
        self._redact = Redactor(access_token)
        self._bearer: str | None = None
        self._generation = 0
        self._auth_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._rng = random.Random()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
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
        """Make calls, and waits between retries, end with CancelledError from now on.

        ``finish_uploading`` ignores this, so a cancelled run can still unlock its dataset.
        """
        self._cancelled.set()

    # --- endpoints -----------------------------------------------------------------------

    def sign_in(self) -> None:
        """Trade the access token for a bearer token (``POST /Users/SignIn``).

        Other calls sign in by themselves when needed; call this to check the token first.
        """
        with self._auth_lock:
            self._sign_in_locked(cancellable=True)

    def current_user(self) -> Any:
        """Return the signed-in user as the server describes it (``GET /Users``)."""
        return self._json(self._call(_Request("GET", "/Users", "GET /Users")), "GET /Users")

    def create_dataset(self, name: str) -> DatasetRef:
        """Create a dataset (``POST /Datasets``); a retry after a lost answer may make two."""
        request = _Request("POST", "/Datasets", "POST /Datasets")
        body = self._json(self._call(request, json_body={"name": name}), request.endpoint)
        return DatasetRef(self._id(body, request.endpoint), str(lookup(body, "name") or name))

    def create_category(self, dataset_id: Id, name: str) -> CategoryRef:
        """Create a category (``POST /Categories``) in an unlocked dataset.

        Raises DuplicateCategoryError when the name exists in the dataset: no endpoint
        lists categories, so the caller must know the id from an earlier run.
        """
        request = _Request("POST", "/Categories", "POST /Categories")
        try:
            answer = self._call(request, json_body={"datasetId": dataset_id, "name": name})
        except RejectedError as error:
            if not error.name_exists or error.dataset_locked:
                raise
            lost = " (most likely made by an earlier try whose answer was lost)"
            raise DuplicateCategoryError(
                f"category {name!r} already exists in dataset {dataset_id}"
                f"{lost if error.after_lost_answer else ''}; the API cannot list categories, "
                "so delete it in the OSAI web app and run again, or upload into a new "
                "dataset (another dataset.name, or --restart)",
                endpoint=error.endpoint, status=error.status or 400, attempts=error.attempts,
                title=error.title, detail=error.detail, errors=error.errors, body=error.body,
                after_lost_answer=error.after_lost_answer) from None
        body = self._json(answer, request.endpoint)
        return CategoryRef(self._id(body, request.endpoint), str(lookup(body, "name") or name))

    def start_uploading(self, dataset_id: Id) -> Id:
        """Open an upload session, locking the dataset; return its ``datasetUploadId``."""
        request = _Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/StartUploading",
                           "POST /Datasets/{id}/StartUploading")
        response = self._call(request)[0]
        try:
            body = response.json()
        except ValueError:
            body = response.text.strip().strip('"')
        if isinstance(body, dict):
            body = lookup(body, "datasetUploadId", "id")
        if not is_id(body):
            raise self._bad_body(response, request.endpoint, "no datasetUploadId")
        return body

    def upload_chunk(self, dataset_id: Id, upload_id: Id, items: Sequence[ChunkItem], *,
                     skip_unsupported: bool = False) -> ChunkResult:
        """Send images with their annotations and categories (``POST /Images/UploadChunk``).

        The body is built once, so every retry sends identical bytes. Raises ItemReadError
        or UnsendableNameError (naming the item) before anything is sent.
        """
        if not items:
            raise ValueError("upload_chunk needs at least one item")
        body, content_type = encode_chunk(dataset_id, upload_id, items)
        flag = "true" if skip_unsupported else "false"
        request = _Request("POST", "/Images/UploadChunk", "POST /Images/UploadChunk", body,
                           content_type, {"skipUnsupportedImages": flag})
        response, progress = self._call(request)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = None
        return ChunkResult(len(items), len(body), progress.attempts, progress.committed,
                           skipped_names(parsed), parsed)

    def finish_uploading(self, dataset_id: Id, upload_id: Id) -> None:
        """Close the upload session, unlocking the dataset; runs even after ``cancel()``.

        When an earlier try may have closed the session before its answer was lost, the
        server's "session not active" refusal of the retry counts as success.
        """
        request = _Request("POST", f"/Datasets/{quote(str(dataset_id), safe='')}/FinishUploading",
                           "POST /Datasets/{id}/FinishUploading",
                           params={"datasetUploadId": str(upload_id)}, cancellable=False)
        try:
            self._call(request)
        except RejectedError as error:
            if not (error.after_lost_answer and error.session_expired):
                raise

    # --- machinery -----------------------------------------------------------------------

    def _sign_in_locked(self, *, cancellable: bool) -> None:
        if not self._access_token.strip():
            raise AuthError(f"the access token is empty; {TOKEN_HINT}", endpoint=_SIGN_IN)
        request = _Request("POST", "/Users/SignIn", _SIGN_IN, json.dumps(self._access_token)
                           .encode(), "application/json", cancellable=cancellable)
        response = self._send(request, None, _Progress())
        text = response.text.strip()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        if isinstance(parsed, dict):
            parsed = lookup(parsed, "token", "accessToken", "access_token", "jwt")
        token = parsed.strip().strip('"').strip() if isinstance(parsed, str) else ""
        if not token or any(c.isspace() or ord(c) < 32 or ord(c) > 126 for c in token):
            # No excerpt: the body may be a token of a shape the checks above refuse, and
            # a header holding it would make requests echo it in an error.
            kind = response.headers.get("Content-Type", "no content type")
            raise UnexpectedResponseError(
                f"{_SIGN_IN}: the answer holds no usable bearer token ({len(text)} characters"
                f" of {kind}); {URL_HINT}", endpoint=_SIGN_IN, status=response.status_code)
        self._redact.add(token)
        self._bearer = token
        self._generation += 1

    def _token(self, cancellable: bool) -> tuple[str, int]:
        with self._auth_lock:
            if self._bearer is None:
                self._sign_in_locked(cancellable=cancellable)
            assert self._bearer is not None
            return self._bearer, self._generation

    def _renew(self, seen_generation: int, cancellable: bool) -> None:
        with self._auth_lock:
            # Another thread may have signed in again while this one waited for the lock.
            if self._generation == seen_generation:
                self._sign_in_locked(cancellable=cancellable)

    def _call(self, request: _Request, json_body: Any = None
              ) -> tuple[requests.Response, _Progress]:
        """Make an authenticated call; a 401 signs in again, then the call goes on."""
        if json_body is not None:
            request.body, request.content_type = json.dumps(json_body).encode(), "application/json"
        progress = _Progress()
        reauths = 0
        while True:
            token, generation = self._token(request.cancellable)
            try:
                return self._send(request, token, progress), progress
            except AuthError as error:
                # Not just once: a call retrying through an outage can outlive even a fresh
                # token. A server that refuses every fresh token still ends it soon.
                if error.status != 401 or reauths >= _MAX_REAUTHS:
                    raise
                reauths += 1
                self._notify(RetryEvent(request.endpoint, progress.attempts, self.retry.attempts,
                                        401, "bearer token refused (HTTP 401); signing in again",
                                        0.0, False, reauth=True))
                self._renew(generation, request.cancellable)

    def _send(self, request: _Request, token: str | None, progress: _Progress
              ) -> requests.Response:
        """Make one call, retrying what is retryable; ``token`` None is the sign-in itself."""
        headers = {"Content-Type": request.content_type} if request.content_type else {}
        url, endpoint = self.base_url + request.path, request.endpoint
        failures = 0
        while True:
            if request.cancellable and self._cancelled.is_set():
                raise CancelledError(f"{endpoint} was not sent: the upload was cancelled")
            progress.attempts += 1
            started = time.monotonic()
            status: int | None = None
            timed_out = False
            retry_after: float | None = None
            try:
                response = self._session.request(
                    request.method, url, params=request.params, data=request.body,
                    headers=headers, timeout=(min(self.timeout, 15.0), self.timeout),
                    allow_redirects=False, auth=_BearerAuth(token))
            except requests.exceptions.SSLError as error:
                raise UnreachableError(
                    f"{endpoint}: TLS failed ({self._redact(str(error))[:300]}); check "
                    "server.url and the system's certificates", endpoint=endpoint, status=None,
                    attempts=progress.attempts, maybe_committed=progress.committed) from None
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as error:
                # Only a failed connect proves the server never saw the request.
                cause = getattr(error.args[0] if error.args else None, "reason", None)
                lost = not (isinstance(error, requests.exceptions.ConnectTimeout)
                            or isinstance(cause, ConnectTimeoutError))
                # A read timeout means the server has the request and is slow: say so,
                # rather than "cannot reach", so the user raises server.timeout.
                timed_out = isinstance(error, requests.exceptions.ReadTimeout)
                reason = (f"no answer within {self.timeout:g} s" if timed_out
                          else self._connection_reason(error))
                logger.debug("%s %s -> %s after %.3f s", request.method, request.path,
                             type(error).__name__, time.monotonic() - started)
            except requests.RequestException as error:
                raise ApiError(f"{endpoint}: the request could not be made ({type(error).__name__}"
                               f": {self._redact(str(error))[:300]}); {URL_HINT}",
                               endpoint=endpoint, attempts=progress.attempts) from None
            else:
                status = response.status_code
                progress.answered = True
                logger.debug("%s %s -> %d in %.3f s (try %d, %d bytes sent)", request.method,
                             request.path, status, time.monotonic() - started,
                             progress.attempts, len(request.body or b""))
                if status < 300:
                    return response
                if status not in RETRY_STATUSES:
                    raise refusal(status, response.text, endpoint=endpoint,
                                  redact=self._redact, signing_in=token is None,
                                  attempts=progress.attempts,
                                  after_lost_answer=progress.committed,
                                  location=response.headers.get("Location"),
                                  reason=response.reason or "")
                lost = status in MAYBE_COMMITTED_STATUSES
                reason = f"HTTP {status}"
                if status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
            progress.committed = progress.committed or lost
            failures += 1
            if failures >= self.retry.attempts:
                raise self._exhausted(endpoint, status, progress, reason, timed_out)
            delay = self.retry.delay(failures, retry_after, self._rng)
            logger.info("%s failed (%s, try %d of %d); retrying in %.2f s", endpoint, reason,
                        failures, self.retry.attempts, delay)
            self._notify(RetryEvent(endpoint, failures, self.retry.attempts, status, reason,
                                    delay, lost))
            if not request.cancellable:
                time.sleep(delay)
            elif self._cancelled.wait(delay):
                raise CancelledError(f"{endpoint} was not retried: the upload was cancelled")

    def _notify(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)

    def _connection_reason(self, error: requests.RequestException) -> str:
        """Return the gist of a connection failure (``Connection refused``), redacted."""
        text = self._redact(str(error))
        # urllib3 wraps the OS's words in three layers of reprs; the errno text is the news.
        found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
        if found:
            return found.group(1).strip()
        return f"{type(error).__name__}: {text[:300]}"

    def _exhausted(self, endpoint: str, status: int | None, progress: _Progress,
                   reason: str, timed_out: bool = False) -> TransientError:
        common: dict[str, Any] = {"endpoint": endpoint, "status": status,
                                  "attempts": progress.attempts,
                                  "maybe_committed": progress.committed}
        if timed_out:
            return TransientError(
                f"{endpoint}: the server at {self.base_url} did not answer within "
                f"{self.timeout:g} s ({progress.attempts} tries); it is overloaded or the "
                "link is slow: raise server.timeout, or lower upload.workers or "
                "upload.chunk_bytes, or run again later", **common)
        if not progress.answered:
            return UnreachableError(
                f"cannot reach {self.base_url} ({endpoint}, {progress.attempts} tries, last: "
                f"{reason}); check server.url and the network, then run again", **common)
        return TransientError(
            f"{endpoint} failed {progress.attempts} times (last: {reason}); the server is "
            "overloaded or down: run again later, or with fewer workers", **common)

    def _json(self, answer: tuple[requests.Response, _Progress], endpoint: str) -> Any:
        try:
            return answer[0].json()
        except ValueError:
            raise self._bad_body(answer[0], endpoint, "no JSON") from None

    def _id(self, body: Any, endpoint: str) -> Id:
        value = lookup(body, "id")
        if not is_id(value):
            raise UnexpectedResponseError(f"{endpoint}: the answer has no usable id "
                                          f"({self._redact(repr(body))[:200]}); {URL_HINT}",
                                          endpoint=endpoint, status=200)
        return value

    def _bad_body(self, response: requests.Response, endpoint: str, what: str
                  ) -> UnexpectedResponseError:
        excerpt = self._redact(response.text[:200])
        return UnexpectedResponseError(f"{endpoint}: the answer holds {what} (HTTP "
                                       f"{response.status_code}, body {excerpt!r}); {URL_HINT}",
                                       endpoint=endpoint, status=response.status_code)
