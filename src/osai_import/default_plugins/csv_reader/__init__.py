"""The built-in `csv` reader: a CSV manifest, one row per image or one row per box.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers; ``reader`` builds the records, ``text`` reads the file's rows and columns,
``options`` holds the options.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import.default_plugins.csv_reader.reader import CsvReader

_HOMES = {
    "CsvReader": "osai_import.default_plugins.csv_reader.reader",
}

__all__ = ["CsvReader", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES)


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the built-in `csv` reader."""
    register(defer("csv", "osai_import.default_plugins.csv_reader.reader:CsvReader"))
