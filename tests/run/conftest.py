"""Print the variant matrix (tests/run/test_variants.py) after the test summary."""

from __future__ import annotations

import pytest

from tests.run.variant_table import ROWS, render


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Write one line per variant run: exit code, images stored, requests made."""
    if not ROWS:
        return
    terminalreporter.section("upload under OSAI's variants")
    for line in render(ROWS):
        terminalreporter.write_line(line)
