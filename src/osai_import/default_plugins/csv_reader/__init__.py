"""The built-in `csv` reader: a CSV manifest, one row per image or one row per box.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers; ``reader`` builds the records, ``text`` reads the file's rows and columns,
``options`` holds the options.
"""

from __future__ import annotations

from collections.abc import Callable

from osai_import import Reader, hookimpl
from osai_import.default_plugins.csv_reader.reader import CsvReader

__all__ = ["CsvReader", "register_readers"]


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the built-in `csv` reader."""
    register(CsvReader)
