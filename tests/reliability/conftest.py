"""Fixtures of the reliability suites: a live local server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from osai_import.emulator import LocalServer
from tests.reliability.support import LEDGER, SOAK, new_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """Run a server on a fresh data folder, with the test token and quick Retry-After."""
    running = new_server(tmp_path / "server")
    yield running
    running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many images the finished runs planned, and how many of them were lost."""
    if LEDGER.runs:
        terminalreporter.write_line(
            f"reliability: {LEDGER.runs} finished runs checked against the server, "
            f"{LEDGER.planned} images planned, {LEDGER.lost} lost, {LEDGER.extra_copies} extra "
            f"copies (each flagged in its run's report as possibly duplicated)"
        )
    if SOAK:
        terminalreporter.write_line(
            f"soak: {SOAK['kills']} runs SIGKILLed, then one to the end: {SOAK['planned']} images "
            f"planned, {SOAK['stored']} stored, {SOAK['lost']} lost, {SOAK['copies']} extra "
            f"copies, {SOAK['flagged']} images flagged possibly duplicated, "
            f"{SOAK['unflagged']} copies unflagged"
        )
