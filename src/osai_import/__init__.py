"""osai-import: upload image datasets of any layout to ONESTEP AI.

This module is the public plugin API: everything a plugin needs is importable from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osai_import.base import (
        Annotation,
        ConfigPath,
        Encoder,
        PluginOptions,
        Reader,
        ReaderOptions,
    )
    from osai_import.errors import (
        ConfigError,
        ItemError,
        OsaiImportError,
        PluginError,
        SourceError,
    )
    from osai_import.hookspecs import hookimpl
    from osai_import.records import Box, ImageRecord, Problem, Severity

__version__ = "0.1.0"

# Every submodule import runs this file first, so the API loads on first use: commands that
# need none of it (`--help`, the local server) then start without pydantic and pluggy.
_HOMES: dict[str, str] = {
    "Annotation": "osai_import.base",
    "ConfigPath": "osai_import.base",
    "Encoder": "osai_import.base",
    "PluginOptions": "osai_import.base",
    "Reader": "osai_import.base",
    "ReaderOptions": "osai_import.base",
    "ConfigError": "osai_import.errors",
    "ItemError": "osai_import.errors",
    "OsaiImportError": "osai_import.errors",
    "PluginError": "osai_import.errors",
    "SourceError": "osai_import.errors",
    "hookimpl": "osai_import.hookspecs",
    "Box": "osai_import.records",
    "ImageRecord": "osai_import.records",
    "Problem": "osai_import.records",
    "Severity": "osai_import.records",
}


# Hidden from type checkers, which would otherwise accept any name imported from here.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "Annotation",
    "Box",
    "ConfigError",
    "ConfigPath",
    "Encoder",
    "ImageRecord",
    "ItemError",
    "OsaiImportError",
    "PluginError",
    "PluginOptions",
    "Problem",
    "Reader",
    "ReaderOptions",
    "Severity",
    "SourceError",
    "__version__",
    "hookimpl",
]
