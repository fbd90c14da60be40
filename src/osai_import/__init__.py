"""osai-import: upload image datasets of any layout to ONESTEP AI.

This module is the public plugin API: everything a plugin needs is importable from here,
and plugins (the built-in ones included) import nothing else of osai-import. Besides the
contract (``hookimpl``, ``Reader``, ``Encoder``, the records and the errors) it offers the
helpers readers share: ``parse_voc`` (the safe Pascal VOC parser), ``VocAhead`` and
``parse_voc_batch`` (VOC files parsed ahead in a helper process), ``is_inside`` (keep a
source's paths inside its folder), ``SourcePath`` (a file in an archive or a bucket,
used as a ``pathlib.Path``), ``read_all`` (many small files at once, fetched in
parallel from a bucket), ``locate`` (a path or URL found in a source's own files, turned
into a ``Path`` or a ``SourcePath``) and ``embedded_image`` (an image stored as base64
text inside a JSON file), and for readers that detect their layout ``survey`` (a bounded
look at a folder tree) and ``IMAGE_SUFFIXES``. docs/plugin-hooks.md documents each.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osai_import.errors import (
        ConfigError,
        ItemError,
        OsaiImportError,
        PluginError,
        SourceError,
    )
    from osai_import.location import SourcePath, SourceStat
    from osai_import.plugin.base import (
        Annotation,
        ConfigPath,
        Detection,
        Encoder,
        LocalPath,
        PluginOptions,
        Reader,
        ReaderOptions,
    )
    from osai_import.plugin.spec import hookimpl
    from osai_import.records import Box, ImageRecord, Problem, Severity
    from osai_import.source.embedded import embedded_image
    from osai_import.source.files import read_all
    from osai_import.source.locate import locate
    from osai_import.source.parse_ahead import VocAhead, VocResult, parse_voc_batch
    from osai_import.source.paths import is_inside
    from osai_import.source.survey import IMAGE_SUFFIXES, Survey, survey
    from osai_import.source.voc import VocAnnotation, parse_voc

from osai_import.version import __version__

# Every submodule import runs this file first, so the API loads on first use: commands that
# need none of it (`--help`, the local server) then start without pydantic and pluggy.
_HOMES: dict[str, str] = {
    "Annotation": "osai_import.plugin.base",
    "ConfigPath": "osai_import.plugin.base",
    "Encoder": "osai_import.plugin.base",
    "PluginOptions": "osai_import.plugin.base",
    "Reader": "osai_import.plugin.base",
    "ReaderOptions": "osai_import.plugin.base",
    "ConfigError": "osai_import.errors",
    "ItemError": "osai_import.errors",
    "OsaiImportError": "osai_import.errors",
    "PluginError": "osai_import.errors",
    "SourceError": "osai_import.errors",
    "hookimpl": "osai_import.plugin.spec",
    "Box": "osai_import.records",
    "ImageRecord": "osai_import.records",
    "Problem": "osai_import.records",
    "Severity": "osai_import.records",
    "VocAnnotation": "osai_import.source.voc",
    "parse_voc": "osai_import.source.voc",
    "VocAhead": "osai_import.source.parse_ahead",
    "VocResult": "osai_import.source.parse_ahead",
    "parse_voc_batch": "osai_import.source.parse_ahead",
    "is_inside": "osai_import.source.paths",
    "SourcePath": "osai_import.location",
    "SourceStat": "osai_import.location",
    "read_all": "osai_import.source.files",
    "embedded_image": "osai_import.source.embedded",
    "locate": "osai_import.source.locate",
    "survey": "osai_import.source.survey",
    "Survey": "osai_import.source.survey",
    "IMAGE_SUFFIXES": "osai_import.source.survey",
    "Detection": "osai_import.plugin.base",
    "LocalPath": "osai_import.plugin.base",
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
    "IMAGE_SUFFIXES",
    "Annotation",
    "Box",
    "ConfigError",
    "ConfigPath",
    "Detection",
    "Encoder",
    "ImageRecord",
    "ItemError",
    "LocalPath",
    "OsaiImportError",
    "PluginError",
    "PluginOptions",
    "Problem",
    "Reader",
    "ReaderOptions",
    "Severity",
    "SourceError",
    "SourcePath",
    "SourceStat",
    "Survey",
    "VocAhead",
    "VocAnnotation",
    "VocResult",
    "__version__",
    "embedded_image",
    "hookimpl",
    "is_inside",
    "locate",
    "parse_voc",
    "parse_voc_batch",
    "read_all",
    "survey",
]
