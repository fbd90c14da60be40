"""Long waits say what they wait for; short ones and bursts stay quiet."""

from __future__ import annotations

import io

from rich.console import Console

from osai_import.run.progress import RetryNotices
from osai_import.upload.retry import RetryEvent


def _event(delay: float, attempt: int = 2) -> RetryEvent:
    return RetryEvent("POST /Users/SignIn", attempt, 9, 503, "HTTP 503", delay, False)


def _notices(enabled: bool = True) -> tuple[RetryNotices, io.StringIO]:
    out = io.StringIO()
    return RetryNotices(Console(file=out, width=200), enabled, every=60.0), out


def test_a_long_pause_is_shown_with_the_call_the_try_and_the_reason() -> None:
    notices, out = _notices()
    notices.show(_event(4.0))
    assert out.getvalue().strip() == (
        "waiting 4.0 s to retry POST /Users/SignIn (try 2 of 9 failed: HTTP 503)")


def test_short_pauses_and_a_burst_are_not_shown() -> None:
    notices, out = _notices()
    notices.show(_event(0.2))
    assert out.getvalue() == ""
    notices.show(_event(2.0, attempt=3))
    notices.show(_event(2.0, attempt=4))  # within `every` of the last line
    assert out.getvalue().count("waiting") == 1 and "try 3 of 9" in out.getvalue()


def test_quiet_shows_nothing() -> None:
    notices, out = _notices(enabled=False)
    notices.show(_event(10.0))
    assert out.getvalue() == ""
