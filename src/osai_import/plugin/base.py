"""The classes a plugin subclasses: Reader (a source layout), Encoder (an annotation format)."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

from osai_import.records import ImageRecord, Problem


def _resolve_against_config(value: Path, info: ValidationInfo) -> Path:
    # Relative paths in a config mean "relative to the config file", not to the shell's
    # working directory, so the same config runs from anywhere.
    base = (info.context or {}).get("base_dir")
    value = Path(value).expanduser()
    if base is not None and not value.is_absolute():
        value = Path(base) / value
    return value


ConfigPath = Annotated[Path, AfterValidator(_resolve_against_config)]
"""A path option: relative values resolve against the config file's folder."""


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
    def parse_options(cls, raw: dict[str, Any], base_dir: Path | None = None) -> PluginOptions:
        """Validate raw config options; relative ``ConfigPath`` values resolve against base_dir."""
        return cls.Options.model_validate(raw, context={"base_dir": base_dir})


class ReaderOptions(PluginOptions):
    """Options every reader takes: ``path``, its file or root folder."""

    path: ConfigPath


class Reader(_Described, ABC):
    """A source layout: turns a folder or a manifest into a lazy stream of ImageRecord.

    Subclasses set ``name`` (the config's ``source.type``), a docstring whose first line
    describes them, and an ``Options`` model (a ``ReaderOptions`` subclass). ``records()``
    must be lazy (yield as it reads), deterministic (same input, same order) and raise only
    ``OsaiImportError`` subclasses whose message names the file and line or item. A bad
    item that can still be named is yielded with a ``Problem`` instead of stopping the read.
    """

    Options: ClassVar[type[PluginOptions]] = ReaderOptions

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    @abstractmethod
    def records(self) -> Iterator[ImageRecord]:
        """Yield every image of the source, lazily, in a deterministic order."""

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
