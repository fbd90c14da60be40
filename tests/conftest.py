"""Settings for the whole test session."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

# A shell that starts a job in the background makes it ignore SIGINT, and a process keeps
# an ignored signal ignored across exec. Tests stop real runs with SIGINT as a user's
# Ctrl-C does: with a handler here (not "ignore"), every child starts with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium driven by selenium, shared by the session's browser tests."""
    from tests.browser import chromium_driver

    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()
