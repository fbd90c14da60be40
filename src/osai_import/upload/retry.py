"""The retry policy of the OSAI client: which failures to retry, and how long to wait."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

# Answers that mean "not now" rather than "no": a proxy, a restart or an overload.
RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

# Answers a server may send after it did the work: a 500 from the application, or a 502/504
# from a proxy that gave up waiting while the application went on. 408, 429 and 503 are
# sent before any work is done.
MAYBE_COMMITTED_STATUSES: frozenset[int] = frozenset({500, 502, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Say how often to retry a failed request and how long to wait between tries.

    ``attempts`` counts every try, the first included (1 = never retry). Waits follow
    exponential backoff with full jitter: before try ``n + 1`` the client sleeps a random
    time in ``[0, min(cap, base * 2 ** (n - 1))]``. A ``Retry-After`` header (seconds or
    an HTTP date) replaces that wait, capped at ``retry_after_cap`` so a hostile or broken
    server cannot park a run for hours (plus a jitter of up to ``base``).
    """

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, not {self.attempts}")
        if self.base < 0 or self.cap < 0 or self.retry_after_cap < 0:
            raise ValueError("RetryPolicy waits must not be negative")

    def backoff(self, failures: int, rng: random.Random | None = None) -> float:
        """Return the wait before the next try after ``failures`` failed tries (>= 1)."""
        ceiling = min(self.cap, self.base * 2 ** min(max(failures - 1, 0), 62))
        return (rng or random).uniform(0, ceiling)

    def delay(
        self, failures: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Return the wait before the next try: the server's ``Retry-After`` or the backoff.

        A little jitter (up to ``base``) goes on top of ``Retry-After`` so that workers
        throttled together do not all come back in the same instant.
        """
        if retry_after is not None:
            jitter = (rng or random).uniform(0, self.base)
            return min(max(retry_after, 0.0), self.retry_after_cap) + jitter
        return self.backoff(failures, rng)


@dataclass(frozen=True)
class RetryEvent:
    """Describe one failed try that the client is about to retry.

    ``endpoint`` is ``"METHOD /path"``; ``attempt`` is the number of the try that failed
    (1-based) out of ``attempts``; ``status`` is the HTTP status or None when no answer
    came; ``reason`` is a short human text (secrets removed); ``delay`` is the wait before
    the next try in seconds. ``maybe_committed`` is True when the server may have done the
    work although its answer was lost (a 500/502/504, a timeout or a connection dropped
    after the request was sent): a retried chunk may then be stored twice.
    ``reauth`` is True when the bearer token was refused (a 401, or a 403 that may mean
    "expired") and the client signed in again.
    """

    endpoint: str
    attempt: int
    attempts: int
    status: int | None
    reason: str
    delay: float
    maybe_committed: bool
    reauth: bool = False


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, or None when absent or bad.

    Accepts both forms of RFC 9110: delay-seconds (``"120"``, also ``"1.5"`` as some
    servers send) and an HTTP date; a date in the past means "now" (0).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # NaN and infinity parse as floats but are no waits.
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        # RFC 9110 dates are always GMT; a date without a zone is malformed.
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
