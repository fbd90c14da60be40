"""One HTTP call to OSAI, whole: its tries, their deadlines, and what each failure means.

``Transport.send`` makes one request as many times as the retry policy allows, each try
within ``timeout`` seconds start to end (``deadline.py``'s watchdog shuts a connection
down when it passes, or when ``cancel()`` ends the calls in flight). It knows nothing of
endpoints or sign-in: the client (``client.py``) builds the requests and hands it the
bearer token. Only an answer that looks like the API's counts as a success: a 2xx web
page is a failed try, retried, since a proxy or a captive portal sent it. Errors carry
the server's words redacted, never the request.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from osai_import.errors import (
    ApiError,
    CancelledError,
    ForeignAnswerError,
    TransientError,
    UnreachableError,
)
from osai_import.upload.answers import Body, read_body
from osai_import.upload.deadline import (
    CANCELLED,
    CONNECTING,
    NOT_SENT,
    SENT,
    Watchdog,
    WatchedAdapter,
)
from osai_import.upload.multipart import ChunkBody, ItemStreamError
from osai_import.upload.refusals import URL_HINT, Redactor, refusal
from osai_import.upload.retry import (
    MAYBE_COMMITTED_STATUSES,
    RETRY_STATUSES,
    RetryEvent,
    RetryPolicy,
    parse_retry_after,
)
from osai_import.upload.warm import preconnect

# The client's logger: one name for every request line a user filters a --debug log by.
logger = logging.getLogger("osai_import.upload.client")
_MAX_CONNECT = 15.0  # a connect that takes longer than this will not succeed
# Tries, and the longest pause between them, for a refused connection or an unknown host
# while nothing at server.url has answered yet in this run: that is a wrong URL or a
# server not started far more often than a blip, and the user should hear it in seconds.
_FIRST_CONTACT_TRIES = 2
_FIRST_CONTACT_PAUSE = 1.0


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
class Progress:
    """The tries of one call so far, kept across a sign-in that interrupts them."""

    attempts: int = 0
    committed: bool = False
    answered: bool = False
    # A try reached the server and its connection ended without an answer.
    dropped: bool = False


@dataclass
class Request:
    method: str
    path: str
    endpoint: str
    body: bytes | ChunkBody | None = None
    content_type: str | None = None
    params: dict[str, str] | None = None
    cancellable: bool = True
    acks: frozenset[int] | None = None  # the 2xx statuses that acknowledge it; None: any
    # Refusals handed back as answers (their body unread as the API's), not raised.
    passthrough: frozenset[int] = frozenset()
    attempts: int | None = None  # this call's tries at most, when not the policy's
    # Tries at most that end with the connection dropped after it reached the server: a
    # server may refuse a request too large for it so, and the caller can act on that.
    max_drops: int | None = None


@dataclass(frozen=True)
class Reply:
    """A successful answer: the response, its body read once."""

    response: requests.Response
    body: Body


@dataclass
class Failure:
    """Why the last try failed, for the message once the tries run out."""

    status: int | None = None
    reason: str = ""
    timed_out: bool = False
    content_type: str | None = None  # of a foreign answer, shown redacted
    title: str | None = None
    foreign: bool = False
    unreachable: str | None = None  # "refused" or "unknown host": no server was found


class Transport:
    """Send requests to one server through a pool of keep-alive connections; thread-safe."""

    def __init__(self, base_url: str, redact: Redactor, *, timeout: float, retry: RetryPolicy,
                 pool_size: int, user_agent: str,
                 on_retry: Callable[[RetryEvent], None] | None, grace: float,
                 settle: float) -> None:
        """Make a transport; the client checks the arguments (see ``OsaiClient``)."""
        self.base_url, self.redact = base_url, redact
        self.timeout, self.retry, self.on_retry = timeout, retry, on_retry
        self.grace, self.settle = grace, settle
        self._cancelled = threading.Event()
        self._cancelled_at = float("inf")
        self._answered = False  # some call got an HTTP answer from the server in this run
        self._watchdog = Watchdog()
        self._rng = random.Random()
        self._session = requests.Session()
        adapter = WatchedAdapter(pool_connections=pool_size, pool_maxsize=pool_size,
                                 max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def warm(self, connections: int) -> Callable[[], None]:
        """Start opening ``connections`` connections; return what hands them to the pool."""
        return preconnect(self._session, self.base_url, connections,
                          min(self.timeout, _MAX_CONNECT))

    def cancel(self) -> None:
        """End the cancellable calls in flight and later ones (``OsaiClient.cancel``)."""
        if not self._cancelled.is_set():
            self._cancelled_at = time.monotonic()
            self._cancelled.set()
        self._watchdog.cancel(self._cancelled_at + self.grace, self.settle)


    def send(self, request: Request, token: str | None, progress: Progress) -> Reply:
        """Make one call, retrying what is retryable; ``token`` None is the sign-in itself."""
        headers = {"Content-Type": request.content_type} if request.content_type else {}
        url, endpoint = self.base_url + request.path, request.endpoint
        failures = drops = 0
        failure = Failure()
        while True:
            if request.cancellable and self._cancelled.is_set():
                raise CancelledError(f"{endpoint} was not sent: the upload was cancelled",
                                     endpoint=endpoint, maybe_committed=progress.committed)
            budget = self._budget(request, progress, failure)
            progress.attempts += 1
            started = time.monotonic()
            failure = Failure()
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
            elif isinstance(error, ItemStreamError):
                # A file of the body failed while it was sent: the body was cut short, so
                # this try stored nothing; trying again would read the same file.
                error.maybe_committed = progress.committed
                raise error
            elif error is not None:
                lost = self._connection_failure(request, error, failure, progress, started,
                                                budget)
                if flight.reached and not failure.timed_out:
                    progress.dropped = True
                    drops += 1
            else:
                assert response is not None
                status = response.status_code
                failure.status = status
                progress.answered = self._answered = True
                logger.debug("%s %s -> %d in %.3f s (try %d, %d bytes sent)", request.method,
                             request.path, status, time.monotonic() - started,
                             progress.attempts, len(request.body or b""))
                if status in request.passthrough:
                    return Reply(response, Body())
                if status < 300:
                    body = read_body(response.headers.get("Content-Type"), response.content)
                    if body.foreign is None and (request.acks is None or status in request.acks):
                        return Reply(response, body)
                    # A proxy's or a portal's page: the request may or may not have gone on.
                    self._foreign(response, body, failure)
                    lost = True
                else:
                    if status not in RETRY_STATUSES:
                        raise refusal(status, response.text, endpoint=endpoint,
                                      redact=self.redact, signing_in=token is None,
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
            first_contact = failure.unreachable is not None and not self._answered
            if first_contact:
                attempts = min(attempts, _FIRST_CONTACT_TRIES)
            if failures >= attempts or (request.max_drops is not None
                                        and drops >= request.max_drops):
                raise self._exhausted(endpoint, progress, failure)
            delay = self.retry.delay(failures, retry_after, self._rng)
            if first_contact:
                delay = min(delay, _FIRST_CONTACT_PAUSE)
            logger.info("%s failed (%s, try %d of %d); retrying in %.2f s", endpoint,
                        failure.reason, failures, attempts, delay)
            self.notify(RetryEvent(endpoint, failures, attempts, failure.status,
                                    failure.reason, delay, lost))
            self._pause(request, delay, progress, failure)

    def _budget(self, request: Request, progress: Progress, failure: Failure) -> float:
        """Return the seconds the next try may take: ``timeout``, less in a cancel's grace."""
        if request.cancellable or not self._cancelled.is_set():
            return self.timeout
        left = self._cancelled_at + self.grace - time.monotonic()
        if left <= 0:
            raise self._graceless(request.endpoint, progress, failure)
        return min(self.timeout, left)

    def _pause(self, request: Request, delay: float, progress: Progress,
               failure: Failure) -> None:
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

    def _connection_failure(self, request: Request, error: Exception, failure: Failure,
                            progress: Progress, started: float, budget: float) -> bool:
        """Sort out a try that got no answer; return whether it may have been carried out."""
        endpoint = request.endpoint
        if isinstance(error, requests.exceptions.SSLError):
            raise UnreachableError(
                f"{endpoint}: TLS failed ({self.redact.excerpt(str(error), 300)}); check "
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
            if isinstance(cause, NameResolutionError):
                failure.unreachable = "unknown host"
            elif isinstance(cause, NewConnectionError) and isinstance(
                    cause.__cause__, ConnectionRefusedError):
                failure.unreachable = "refused"
            logger.debug("%s %s -> %s after %.3f s", request.method, request.path,
                         type(error).__name__, time.monotonic() - started)
            return lost
        if isinstance(error, requests.RequestException):
            raise ApiError(f"{endpoint}: the request could not be made ({type(error).__name__}"
                           f": {self.redact.excerpt(str(error), 300)}); {URL_HINT}",
                           endpoint=endpoint, attempts=progress.attempts) from None
        raise error

    def _foreign(self, response: requests.Response, body: Body, failure: Failure) -> None:
        """Describe a 2xx that is no answer of the API's in ``failure``, redacted and short."""
        status = response.status_code
        kind = body.foreign or f"HTTP {status}, which the API does not answer here"
        failure.foreign = True
        failure.content_type = self.redact.excerpt(
            response.headers.get("Content-Type") or "no content type", 60)
        failure.title = None if body.title is None else self.redact.excerpt(body.title, 80)
        shown = [f"HTTP {status}", failure.content_type]
        if failure.title:
            shown.append(f"page title {failure.title!r}")
        failure.reason = f"{kind} ({', '.join(shown)})"

    def notify(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)

    def _connection_reason(self, error: Exception) -> str:
        """Return the gist of a connection failure (``Connection refused``), redacted."""
        text = self.redact(str(error))
        # urllib3 wraps the OS's words in three layers of reprs; the errno text is the news.
        found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
        if found:
            return found.group(1).strip()
        return f"{type(error).__name__}: {text[:300]}"

    def _exhausted(self, endpoint: str, progress: Progress, failure: Failure
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
        if failure.unreachable is not None and not self._answered:
            return UnreachableError(self._not_found(endpoint, progress, failure), **common)
        if not progress.answered:
            return UnreachableError(
                f"cannot reach {self.base_url} ({endpoint}, {progress.attempts} tries, last: "
                f"{failure.reason}); check server.url and the network, then run again", **common)
        return TransientError(
            f"{endpoint} failed {progress.attempts} times (last: {failure.reason}); the server "
            "is overloaded or down: run again later, or with fewer workers", **common)

    def _not_found(self, endpoint: str, progress: Progress, failure: Failure) -> str:
        """Return the message for a server that was never found: refused, or no such host."""
        host = urllib.parse.urlsplit(self.base_url).netloc
        if failure.unreachable == "unknown host":
            what = (f"the host in server.url is unknown ({failure.reason}): check its "
                    "spelling, then the network and DNS")
        else:
            what = (f"nothing listens at {host} ({failure.reason}): check server.url's host "
                    "and port, and that the server is running")
        return (f"cannot reach {self.base_url} ({endpoint}, {progress.attempts} tries): "
                f"{what}; then run again")

    def _graceless(self, endpoint: str, progress: Progress, failure: Failure
                   ) -> TransientError:
        """Return the error of a call the cancel's grace ran out on."""
        last = f", last: {failure.reason}" if failure.reason else ""
        return TransientError(
            f"{endpoint}: given up {self.grace:g} s after the upload was cancelled "
            f"({progress.attempts} tries{last}); the server did not answer in time",
            endpoint=endpoint, status=failure.status, attempts=progress.attempts,
            maybe_committed=progress.committed)
