"""osai-import: upload image datasets of any layout to ONESTEP AI.

This module is the public plugin API: everything a plugin needs is importable from here,
and plugins (the built-in ones included) import nothing else of osai-import. Besides the
contract (``hookimpl``, ``Reader``, ``Encoder``, ``defer`` to register a class without
importing it and ``lazy_exports`` to keep a plugin's ``__init__`` light, the records and
the errors) it offers the helpers readers share: ``parse_voc`` (the safe Pascal VOC
parser), ``VocAhead`` and ``parse_voc_batch`` (VOC files parsed ahead in a helper
process), ``is_inside`` (keep a source's paths inside its folder), ``SourcePath`` (a
file in an archive or a bucket, used as a ``pathlib.Path``), ``read_all`` (many small
files at once, fetched in parallel from a bucket), ``locate`` (a path or URL found in a
source's own files, turned into a ``Path`` or a ``SourcePath``) and ``embedded_image``
(an image stored as base64 text inside a JSON file), and for readers that detect their
layout ``survey`` (a bounded look at a folder tree) and ``IMAGE_SUFFIXES``.
docs/plugin-hooks.md documents each.

It is also the API for code (docs/python-api.md): ``check``, ``preview``, ``upload``,
``verify`` and ``detect`` (what the commands do), ``load`` (a config validated), their
results ``CheckReport``, ``PreviewReport``, ``RunReport``, ``VerifyReport`` and
``Verdict``, the config model ``RunConfig``, and the progress events ``Planned``,
``ChunkSent``, ``AlreadyUploaded``, ``ItemFailed``, ``Retrying`` and ``Finished``.
``check``, ``preview``, ``upload``, ``verify`` and ``detect`` are the functions here,
although stage packages bear the same names: import from those with ``from
osai_import.check.x import y``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osai_import.api import CheckReport, check, detect, load, preview, upload, verify
    from osai_import.config.models import RunConfig
    from osai_import.detect.verdicts import Verdict
    from osai_import.errors import (
        AbortedError,
        AuthError,
        ConfigError,
        ItemError,
        JournalError,
        LocalFileError,
        OsaiImportError,
        PluginError,
        ServerError,
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
    from osai_import.plugin.deferred import Deferred, defer, lazy_exports
    from osai_import.plugin.spec import hookimpl
    from osai_import.preview.make import PreviewReport
    from osai_import.records import Box, ImageRecord, Problem, Severity
    from osai_import.run.events import (
        AlreadyUploaded,
        ChunkSent,
        Finished,
        ItemFailed,
        Planned,
        Retrying,
        UploadEvent,
    )
    from osai_import.run.report import RunReport
    from osai_import.source.embedded import embedded_image
    from osai_import.source.files import read_all
    from osai_import.source.locate import locate
    from osai_import.source.parse_ahead import VocAhead, VocResult, parse_voc_batch
    from osai_import.source.paths import is_inside
    from osai_import.source.survey import IMAGE_SUFFIXES, Survey, survey
    from osai_import.source.voc import VocAnnotation, parse_voc
    from osai_import.verify.report import VerifyReport

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
    "AbortedError": "osai_import.errors",
    "AuthError": "osai_import.errors",
    "JournalError": "osai_import.errors",
    "LocalFileError": "osai_import.errors",
    "ServerError": "osai_import.errors",
    "hookimpl": "osai_import.plugin.spec",
    "defer": "osai_import.plugin.deferred",
    "Deferred": "osai_import.plugin.deferred",
    "lazy_exports": "osai_import.plugin.deferred",
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
    "check": "osai_import.api",
    "upload": "osai_import.api",
    "detect": "osai_import.api",
    "load": "osai_import.api",
    "verify": "osai_import.api",
    "VerifyReport": "osai_import.verify.report",
    "preview": "osai_import.api",
    "PreviewReport": "osai_import.preview.make",
    "CheckReport": "osai_import.api",
    "RunReport": "osai_import.run.report",
    "RunConfig": "osai_import.config.models",
    "Verdict": "osai_import.detect.verdicts",
    "Planned": "osai_import.run.events",
    "ChunkSent": "osai_import.run.events",
    "AlreadyUploaded": "osai_import.run.events",
    "ItemFailed": "osai_import.run.events",
    "Retrying": "osai_import.run.events",
    "Finished": "osai_import.run.events",
    "UploadEvent": "osai_import.run.events",
}

# The API's functions share their names with stage packages (osai_import.check, .upload,
# .detect, .preview, .verify). Importing a submodule sets the package's attribute of its
# name to it; this keeps the functions there, so `osai_import.check(...)` works whatever
# was imported before. The packages stay importable by their full names (sys.modules).
_FUNCTIONS = frozenset({"check", "upload", "detect", "preview", "verify"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "AbortedError",
    "AlreadyUploaded",
    "Annotation",
    "AuthError",
    "Box",
    "CheckReport",
    "ChunkSent",
    "ConfigError",
    "ConfigPath",
    "Deferred",
    "Detection",
    "Encoder",
    "Finished",
    "ImageRecord",
    "ItemError",
    "ItemFailed",
    "JournalError",
    "LocalFileError",
    "LocalPath",
    "OsaiImportError",
    "Planned",
    "PluginError",
    "PluginOptions",
    "PreviewReport",
    "Problem",
    "Reader",
    "ReaderOptions",
    "Retrying",
    "RunConfig",
    "RunReport",
    "ServerError",
    "Severity",
    "SourceError",
    "SourcePath",
    "SourceStat",
    "Survey",
    "UploadEvent",
    "Verdict",
    "VerifyReport",
    "VocAhead",
    "VocAnnotation",
    "VocResult",
    "__version__",
    "check",
    "defer",
    "detect",
    "embedded_image",
    "hookimpl",
    "is_inside",
    "lazy_exports",
    "load",
    "locate",
    "parse_voc",
    "parse_voc_batch",
    "preview",
    "read_all",
    "survey",
    "upload",
    "verify",
]
