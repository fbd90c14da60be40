"""Turn an UploadChunk form into staged images, or a 400 naming each bad field."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from osai_import.emulator.form import Form, UploadedFile
from osai_import.emulator.images import ImageError, read_header, sniff
from osai_import.emulator.problems import Problem, invalid
from osai_import.emulator.store import StagedImage
from osai_import.emulator.voc import VocError, decode_base64, parse_voc

# ASP.NET binds both jQuery-style `imagesMetadata[0][name]` and `imagesMetadata[0].name`,
# and matches names without regard to case.
_METADATA_KEY = re.compile(r"^imagesmetadata\[(\d+)\](?:\[([a-z0-9_]+)\]|\.([a-z0-9_]+))$")
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_INT32 = range(-(2**31), 2**31)
_FILES_FIELD = "imagesfiles"
# A client must get all problems of a chunk at once, but not megabytes of them.
_MAX_ERRORS = 100


class ReadId(Protocol):
    """Turn the id a client sent for a dataset, category or session into the stored one."""

    def __call__(self, kind: str, value: object, field: str, *,
                 required: bool = True) -> int | None: ...


def read_int_id(kind: str, value: object, field: str, *, required: bool = True) -> int | None:
    """Read an integer id from a form value."""
    return parse_int(value if isinstance(value, str) else None, field, required=required)


@dataclass
class Chunk:
    """A chunk that passed every check not needing the database."""

    dataset_id: int
    session_id: int
    images: list[StagedImage]
    skipped: list[dict[str, Any]] = field(default_factory=list)


def parse_int(value: str | None, field_name: str, *, required: bool) -> int | None:
    """Bind an int as ASP.NET does; empty counts as absent."""
    if value is None or not value.strip():
        if required:
            raise invalid(field_name, f"The {field_name} field is required.")
        return None
    if not _INTEGER.match(value) or int(value) not in _INT32:
        raise invalid(field_name, f"The value {value!r} is not valid for {field_name}.")
    return int(value)


def parse_bool(value: str | None, field_name: str) -> bool:
    """Bind a bool as ASP.NET does (True/true/FALSE...); absent means false."""
    if value is None or not value.strip():
        return False
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise invalid(field_name, f"The value {value!r} is not valid for {field_name}.")
    return text == "true"


def validate_chunk(form: Form, *, skip_unsupported: bool,
                   read_id: ReadId = read_int_id) -> Chunk:
    """Check a chunk's form completely; raise a 400 Problem listing what is wrong."""
    top: dict[str, str] = {}
    metadata: dict[int, dict[str, str]] = {}
    for key, value in form.values:
        lowered = key.lower()
        match = _METADATA_KEY.match(lowered)
        if match:
            entry = metadata.setdefault(int(match.group(1)), {})
            # The first value wins when a key repeats, as in ASP.NET scalar binding.
            entry.setdefault(match.group(2) or match.group(3), value)
        else:
            top.setdefault(lowered, value)
    dataset_id = read_id("dataset", top.get("datasetid"), "datasetId")
    session_id = read_id("session", top.get("datasetuploadid"), "datasetUploadId")
    assert dataset_id is not None and session_id is not None
    files = [part for part in form.files if part.field.lower() == _FILES_FIELD]
    _check_shape(metadata, files)

    errors: dict[str, list[str]] = {}
    images: list[StagedImage] = []
    skipped: list[dict[str, Any]] = []
    for index in range(len(files)):
        try:
            image = _stage(index, metadata[index], files[index], skip_unsupported, read_id)
        except Problem as problem:
            for key, messages in problem.errors.items():
                if len(errors) < _MAX_ERRORS:
                    errors.setdefault(key, []).extend(messages)
            continue
        if image is None:
            skipped.append({"index": index, "name": files[index].filename,
                            "reason": "not a JPEG or PNG image"})
        else:
            images.append(image)
    if errors:
        raise Problem(400, errors=errors)
    return Chunk(dataset_id, session_id, images, skipped)


def _check_shape(metadata: dict[int, dict[str, str]], files: list[UploadedFile]) -> None:
    """Raise unless indices run 0..n-1 and there is exactly one file per entry."""
    if not metadata and not files:
        raise invalid("imagesMetadata", "The chunk holds no image: send at least one "
                      "imagesMetadata entry with its imagesFiles part.")
    indices = sorted(metadata)
    missing = sorted(set(range(len(indices))) - set(indices))
    if missing:
        raise invalid("imagesMetadata", "Indices must be contiguous from 0: got "
                      f"{_listing(indices)}, missing {_listing(missing)}.")
    if len(files) != len(indices):
        raise invalid("imagesFiles", f"{len(files)} imagesFiles parts for {len(indices)} "
                      "imagesMetadata entries: send exactly one file per entry, in index order.")


def _stage(index: int, entry: dict[str, str], upload: UploadedFile,
           skip_unsupported: bool, read_id: ReadId) -> StagedImage | None:
    """Validate image ``index``; None when it is unsupported and may be skipped."""
    prefix = f"imagesMetadata[{index}]"
    errors: dict[str, list[str]] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    # Kept exactly as sent (ASP.NET does not trim); only a blank name is refused.
    name = entry.get("name", "")
    if not name.strip():
        fail(f"{prefix}.name", f"The name field of image {index} is required.")
    elif not _same_name(upload.filename, name):
        fail(f"imagesFiles[{index}]", f"File part {index} is named {upload.filename!r} but "
             f"{prefix}.name is {name!r}: send the files in index order, each named as its "
             "metadata.")
    annotation_type = category = None
    try:
        annotation_type = parse_int(entry.get("annotationtype"), f"{prefix}.annotationType",
                                    required=False)
    except Problem as problem:
        errors.update(problem.errors)
    try:
        category = read_id("category", entry.get("classifycategoryid"),
                           f"{prefix}.classifyCategoryId", required=False)
    except Problem as problem:
        errors.update(problem.errors)
    annotation, objects = _annotation(index, name, entry, annotation_type, fail)

    kind = sniff(upload.data)
    info = None
    if kind is None and not skip_unsupported:
        fail(f"imagesFiles[{index}]", f"Image {index} ({upload.filename!r}) is not a JPEG or "
             f"PNG image by its bytes (it starts with {upload.data[:8].hex(' ') or 'nothing'}); "
             "send JPEG or PNG, or pass skipUnsupportedImages=true to drop such files.")
    elif kind is not None:
        try:
            info = read_header(upload.data, kind)
        except ImageError as error:
            fail(f"imagesFiles[{index}]", f"Image {index} ({upload.filename!r}) {error}.")
    if errors:
        raise Problem(400, errors=errors)
    if info is None:
        return None
    return StagedImage(
        index=index, name=name, data=upload.data, sha256=hashlib.sha256(upload.data).hexdigest(),
        format=info.format, width=info.width, height=info.height,
        classify_category_id=category, annotation_type=annotation_type,
        annotation=annotation, objects=objects)


def _annotation(index: int, name: str, entry: dict[str, str], annotation_type: int | None,
                fail: Any) -> tuple[bytes | None, list[Any]]:
    """Decode and parse the annotation of one image; report problems through ``fail``."""
    text = entry.get("annotation", "")
    if not text.strip():
        # OSAI's own example sends an empty annotation and no type for a bare image.
        return None, []
    key = f"imagesMetadata[{index}].annotationType"
    if "annotationtype" not in entry or not entry["annotationtype"].strip():
        fail(key, f"Image {index} ({name!r}) has an annotation but no annotationType: "
             "send 0 (Pascal VOC).")
        return None, []
    if annotation_type is None:
        return None, []  # its parse error is reported already
    if annotation_type != 0:
        fail(key, f"Image {index} ({name!r}) has annotationType {annotation_type}; only 0 "
             "(Pascal VOC XML) is accepted.")
        return None, []
    try:
        data = decode_base64(text)
        objects = parse_voc(data)
    except VocError as error:
        fail(f"imagesMetadata[{index}].annotation",
             f"The annotation of image {index} ({name!r}) {error}.")
        return None, []
    return data, list(objects)


def _same_name(part_filename: str, metadata_name: str) -> bool:
    """Tell whether a file part is the image its metadata names.

    Backslashes are left out of the comparison: requests sends them raw in the quoted
    filename and the multipart parser reads them as escapes, so they cannot round-trip.
    """
    return part_filename.replace("\\", "") == metadata_name.replace("\\", "")


def _listing(numbers: list[int]) -> str:
    """Show a list of indices briefly."""
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (", ..." if len(numbers) > 10 else "")
