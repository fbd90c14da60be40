"""The classes a plugin subclasses: Reader (a source layout), Encoder (an annotation format)."""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
)

from osai_import.location import SourcePath
from osai_import.records import ImageRecord, Problem


def _resolve_against_config(value: Path, info: ValidationInfo) -> Path:
    # Relative paths in a config mean "relative to the config file", not to the shell's
    # working directory, so the same config runs from anywhere.
    base = (info.context or {}).get("base_dir")
    value = Path(value).expanduser()
    if base is not None and not value.is_absolute():
        value = Path(base) / value
    return value


def _locate(value: Any, info: ValidationInfo) -> Path | SourcePath:
    """Return where a source path option points: local, in an archive, or in a bucket.

    The config step puts its locator (``osai_import.source.locate``) in the validation
    context; without one (a plugin's own tests, say) every path is local.
    """
    if isinstance(value, SourcePath):
        return value
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError("must be a path: a non-empty string")
    context = info.context or {}
    locator = context.get("locate")
    if locator is not None:
        found: Path | SourcePath = locator(value, context.get("base_dir"))
        return found
    return _resolve_against_config(Path(value), info)


LocalPath = Annotated[Path, AfterValidator(_resolve_against_config)]
"""A path option that must be on this machine: relative values resolve against the
config file's folder."""

ConfigPath = Annotated[
    Path | SourcePath,
    PlainValidator(_locate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "path"}),
]
"""A source path option: a local path (relative values resolve against the config
file's folder) or, for a reader with ``any_storage``, a ``SourcePath`` in an archive
(``export.zip/train``) or a bucket (``s3://bucket/photos``)."""


class PluginOptions(BaseModel):
    """Base of every reader's and encoder's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Annotation(NamedTuple):
    """An encoded annotation file: OSAI's ``annotationType`` and the file's bytes."""

    type: int
    data: bytes


def _first_doc_line(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class _Described:
    name: ClassVar[str]
    Options: ClassVar[type[PluginOptions]] = PluginOptions

    @classmethod
    def description(cls) -> str:
        """Return the one-line description: the first line of the class docstring."""
        return _first_doc_line(cls)

    @classmethod
    def parse_options(
        cls, raw: dict[str, Any], base_dir: Path | None = None,
        locate: Callable[[Any, Path | None], Path | SourcePath] | None = None,
    ) -> PluginOptions:
        """Validate raw config options; relative ``ConfigPath`` values resolve against base_dir.

        ``locate`` turns a ``ConfigPath`` into a local ``Path`` or a ``SourcePath`` (the
        config step passes ``osai_import.source.locate.locate``); without it every path
        is local.
        """
        return cls.Options.model_validate(raw, context={"base_dir": base_dir, "locate": locate})


class ReaderOptions(PluginOptions):
    """Options every reader takes: ``path``, its file or root folder.

    ``storage_options`` is the source's ``storage_options:`` from the config (empty when
    it has none): pass it to ``osai_import.locate`` for a URL found inside the source's
    own files (an image at ``s3://...`` in a task list), so that it is read with the
    same endpoint and credentials as the source. It may hold secrets: never log it.
    """

    path: ConfigPath
    _storage_options: dict[str, Any] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        """Keep the source's storage options from the validation context."""
        if isinstance(context, dict):
            self._storage_options = dict(context.get("storage_options") or {})

    @property
    def storage_options(self) -> Mapping[str, Any]:
        """Return the source's ``storage_options`` (read-only)."""
        return MappingProxyType(self._storage_options)


@dataclass(frozen=True)
class Detection:
    """What a reader makes of a path: how well it matches, the sources it would read, why.

    ``confidence`` runs from 0 (not this layout) to 1 (certainly this layout). The scale
    every reader keeps to, so that verdicts compare: 0.9 and above, the layout's own marker
    (a COCO JSON with ``images``, ``annotations`` and ``categories``; a ``data.yaml``
    with ``names``); 0.5 to 0.9, strong structural evidence; below 0.5, possible but
    weak; 0, it does not match. ``sources`` holds the options (without ``type``) of each
    source the reader would read at the path (several for the splits of an export); path
    values are ``Path`` or ``SourcePath``. ``reasons`` says why it matches or why it does
    not, one short sentence each, naming the files it looked at.
    """

    confidence: float
    reasons: tuple[str, ...] = ()
    sources: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Detection.confidence must be in 0..1, not {self.confidence!r}")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "sources", tuple(dict(s) for s in self.sources))


class Reader(_Described, ABC):
    """A source layout: turns a folder or a manifest into a lazy stream of ImageRecord.

    Subclasses set ``name`` (the config's ``source.type``), a docstring whose first line
    describes them, and an ``Options`` model (a ``ReaderOptions`` subclass). A reader
    that reads its files only through the methods ``SourcePath`` shares with
    ``pathlib.Path`` (and the helpers of ``osai_import``) sets ``any_storage = True``:
    its ``ConfigPath`` options may then lead into archives and buckets; without it, such
    a path is refused when the config is checked. ``records()``
    must be lazy (yield as it reads), deterministic (same input, same order) and raise only
    ``OsaiImportError`` subclasses whose message names the file and line or item. A bad
    item that can still be named is yielded with a ``Problem`` instead of stopping the read.
    """

    Options: ClassVar[type[PluginOptions]] = ReaderOptions
    any_storage: ClassVar[bool] = False

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    @abstractmethod
    def records(self) -> Iterator[ImageRecord]:
        """Yield every image of the source, lazily, in a deterministic order."""

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection | None:
        """Say how well this reader matches ``path`` (a folder or a file), cheaply.

        Used by ``osai-import detect`` and ``osai-import init``. Look at a bounded number
        of files (``osai_import.survey`` lists a folder tree up to a limit) and read only
        small parts of them: a folder of a million images must be judged in a second.
        Never raise for what is found (a broken file is a reason, with a low confidence);
        return a ``Detection`` whose ``sources`` read as is when it matches. The default
        returns None: the reader cannot tell.
        """
        return None

    def source_problems(self) -> Sequence[Problem]:
        """Return problems of the last read that concern no single image.

        Called once ``records()`` is exhausted. An annotation that points at an image the
        source does not list belongs here: it cannot ride on any record.
        """
        return ()


class Encoder(_Described, ABC):
    """An annotation format: turns one ImageRecord into one annotation file for OSAI.

    ``encode`` runs in upload workers, possibly in several threads at once: it must not
    keep per-record state. Records reach it with ``width``/``height``/``depth`` filled in.
    """

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    @abstractmethod
    def encode(self, record: ImageRecord) -> Annotation | None:
        """Return the annotation for ``record``, or None when it needs none."""
