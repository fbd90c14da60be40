"""osai-import: upload image datasets of any layout to ONESTEP AI.

This module is the public plugin API: everything a plugin needs is importable from here.
"""

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
