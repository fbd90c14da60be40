"""An in-house layout as a local plugin: one JSON file per image, in our own schema.

A config loads this file with ``plugins: [./inhouse_layout.py]`` (the path is relative to
the config); no packaging, no install. The layout, as our inspection stations write it::

    <day>/board-0001.jpg
    <day>/board-0001.json   {"schema": "acme-inspect/2",
                             "image": {"file": "board-0001.jpg", "width": 96, "height": 64},
                             "station": "line-3", "verdict": "defect",
                             "findings": [{"kind": "scratch", "bbox": [x, y, w, h],
                                           "confidence": "sure"}]}

``bbox`` is ``[left, top, width, height]`` in pixels. The verdict becomes the image's
category, each finding a box labelled with its kind; an ``unsure`` finding is marked
difficult (or left out, by option). docs/writing-plugins.md explains every part.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from osai_import import (
    Box,
    Detection,
    ImageRecord,
    ItemError,
    Problem,
    Reader,
    ReaderOptions,
    Severity,
    SourceError,
    SourcePath,
    hookimpl,
    survey,
)

__version__ = "2.0"
SCHEMA = "acme-inspect/2"
MAX_JSON_BYTES = 4 * 1024 * 1024


class Finding(BaseModel):
    """One finding of an inspection: a kind and a box."""

    model_config = ConfigDict(extra="ignore")
    kind: str = Field(min_length=1)
    bbox: tuple[float, float, float, float]
    confidence: Literal["sure", "unsure"] = "sure"

    @field_validator("bbox")
    @classmethod
    def _has_area(
        cls, bbox: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        if bbox[2] <= 0 or bbox[3] <= 0:
            raise ValueError("width and height must be positive")
        return bbox


class ImageInfo(BaseModel):
    """The image an inspection file describes."""

    file: str = Field(min_length=1, pattern=r"^[^/\\]+$")
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Inspection(BaseModel):
    """One JSON file of our schema (unknown fields are ignored: newer stations add some)."""

    model_config = ConfigDict(extra="ignore")
    schema_: Literal["acme-inspect/2"] = Field(alias="schema")
    image: ImageInfo
    station: str
    verdict: Literal["ok", "defect"]
    findings: list[Finding] = []


class InhouseOptions(ReaderOptions):
    """Options of the ``inhouse-json`` reader."""

    category: Literal["verdict", "none"] = Field(
        default="verdict", description="the image's category: its verdict (ok/defect), or none"
    )
    unsure: Literal["difficult", "skip"] = Field(
        default="difficult", description="unsure findings: boxes marked difficult, or left out"
    )


class InhouseReader(Reader):
    """Read ACME inspection exports: one JSON file per image (schema acme-inspect/2)."""

    name = "inhouse-json"
    Options = InhouseOptions

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Recognise our exports by the `schema` of a few JSON files (for detect and init)."""
        if not path.is_dir():
            return Detection(0.0, ("a file; this reader reads an export folder",))
        listing = survey(path, limit=2000)
        files = listing.named("*.json")[:5]  # a few files tell: every file has the schema
        if not files:
            return Detection(0.0, (f"no .json file among {len(listing.files)} files listed",))
        ours = 0
        for relative in files:
            try:
                with listing.path(relative).open("rb") as stream:
                    head = stream.read(4096)
            except OSError:
                continue
            ours += f'"schema": "{SCHEMA}"'.encode() in head.replace(b'":"', b'": "')
        if not ours:
            return Detection(0.0, (f"none of {len(files)} JSON files has schema {SCHEMA}",))
        return Detection(0.95, (f"{ours} of {len(files)} JSON files have schema {SCHEMA}",),
                         ({"path": path},))

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per JSON file, folders and files in name order."""
        options: InhouseOptions = self.options  # type: ignore[assignment]
        root = Path(options.path)
        if not root.is_dir():
            raise SourceError(f"{root}: no such folder; set source.path to the export folder")
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # a sorted, repeatable walk
            for name in sorted(f for f in files if f.endswith(".json")):
                if (Path(folder) / name).is_file():  # never a FIFO or a broken link
                    yield self._record(root, Path(folder) / name, options)

    def _record(self, root: Path, path: Path, options: InhouseOptions) -> ImageRecord:
        where = path.relative_to(root).as_posix()
        key = where.removesuffix(".json")
        try:
            doc = _load(path, where)
        except ItemError as exc:
            # The item can still be named, so it is reported rather than stopping the run.
            image = path.with_suffix(".jpg")
            return ImageRecord(
                key=key,
                path=image,
                name=image.name,
                problems=(Problem(exc.code, Severity.ERROR, str(exc)),),
            )
        boxes = [
            Box(
                f.kind,
                f.bbox[0],
                f.bbox[1],
                f.bbox[0] + f.bbox[2],
                f.bbox[1] + f.bbox[3],
                difficult=f.confidence == "unsure",
            )
            for f in doc.findings
            if not (f.confidence == "unsure" and options.unsure == "skip")
        ]
        return ImageRecord(
            key=key,
            path=path.parent / doc.image.file,
            name=doc.image.file,
            category=doc.verdict if options.category == "verdict" else None,
            boxes=tuple(boxes),
            width=doc.image.width,
            height=doc.image.height,
            extras={"station": doc.station},
        )


def _load(path: Path, where: str) -> Inspection:
    """Parse one inspection file; raise ItemError naming the file and the field."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ItemError(
            "inhouse.invalid",
            f"{where}: larger than {MAX_JSON_BYTES} bytes; not an inspection file",
        )
    try:
        data: Any = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise ItemError(
            "inhouse.invalid",
            f"{where}{f':{line}' if line else ''}: not JSON ({exc}); fix or re-export the file",
        ) from None
    try:
        return Inspection.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise ItemError(
            "inhouse.invalid",
            f"{where}: {field}: {first['msg']} (schema {SCHEMA}); fix or re-export the file",
        ) from None


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``inhouse-json`` reader."""
    register(InhouseReader)
