"""The rows test_variants records, printed as one table at the end of the test session."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One variant's run: how it ended and what it cost in requests and time."""

    case: str
    exit: int
    stored: int
    planned: int
    requests: int
    necessary: int  # 0: not counted (the run stops by design)
    bytes_ratio: float  # chunk bytes sent over those of a run with no variant
    seconds: float
    note: str


ROWS: list[Row] = []


def render(rows: list[Row]) -> list[str]:
    """Format the rows as fixed-width lines, one per case, under a header."""
    width = max([len("variant"), *(len(row.case) for row in rows)])
    lines = [f"{'variant':<{width}}  exit  stored/planned  requests (necessary)  bytes  "
             "seconds  note"]
    for row in rows:
        lines.append(
            f"{row.case:<{width}}  {row.exit:>4}  {row.stored:>6}/{row.planned:<7}"
            f"  {row.requests:>8} ({row.necessary or '-':>3})     {row.bytes_ratio:>5.2f}x"
            f"  {row.seconds:>7.2f}"
            f"  {row.note}"
        )
    return lines
