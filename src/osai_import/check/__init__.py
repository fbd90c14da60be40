"""The check stage: every record validated before anything is sent, each problem under a code.

``checker`` checks one record (``imageinfo`` reads its header, ``rules`` and ``names``
hold the rules); ``stream`` checks a whole source in two passes; ``summary`` counts;
``report`` writes and prints what a check found; ``plan`` is the check as a run uses it.
The codes themselves are in ``osai_import.codes``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

# Names this package held when it was one module, check.py; they still import (with a
# DeprecationWarning) so that code written against the old layout keeps working.
_MOVED: dict[str, str] = {
    "CODES": "osai_import.codes",
    "CheckSummary": "osai_import.check.summary",
    "CheckedItem": "osai_import.check.checker",
    "Checker": "osai_import.check.checker",
    "NamePlan": "osai_import.check.names",
    "ProblemSpool": "osai_import.check.report",
    "print_summary": "osai_import.check.report",
    "write_report": "osai_import.check.report",
    "run_check": "osai_import.check.stream",
}

# Hidden from type checkers, which would otherwise accept any name imported from here.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        home = _MOVED.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        warnings.warn(
            f"osai_import.check.{name} is deprecated: import it from {home}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), name)
