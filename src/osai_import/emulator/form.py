"""Read a multipart/form-data body within ASP.NET's form limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from osai_import.emulator.problems import Problem

_READ_SIZE = 256 * 1024


@dataclass
class UploadedFile:
    """One file part of a form, held in memory (a request is at most ~30 MB)."""

    field: str
    filename: str
    data: bytes


@dataclass
class Form:
    """The parts of a multipart form, in the order they arrived."""

    values: list[tuple[str, str]] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)


def read_form(
    stream: IO[bytes], content_type: str, *, max_values: int, max_value_bytes: int
) -> Form:
    """Decode the whole form from ``stream``, multipart or URL-encoded (as ASP.NET binds both).

    Form values beyond ``max_values`` or longer than ``max_value_bytes`` raise a 400
    with ASP.NET's own words (its FormOptions ValueCountLimit / ValueLengthLimit);
    the request-size limit is the stream's job (it raises RequestEntityTooLarge).
    Any other content type gets the 415 ASP.NET gives.
    """
    mimetype, options = parse_options_header(content_type)
    if mimetype == "application/x-www-form-urlencoded":
        return _read_urlencoded(stream, max_values=max_values, max_value_bytes=max_value_bytes)
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary:
        raise Problem(415, f"Content-Type {content_type or '(none)'!r} is not a form: send "
                      "multipart/form-data.")
    return _read_multipart(stream, boundary.encode("latin-1"), max_values=max_values,
                           max_value_bytes=max_value_bytes)


def _read_urlencoded(stream: IO[bytes], *, max_values: int, max_value_bytes: int) -> Form:
    """Decode an application/x-www-form-urlencoded body (a form without files)."""
    pairs = parse_qsl(stream.read().decode("utf-8", errors="replace"), keep_blank_values=True)
    if len(pairs) > max_values:
        raise _form_failure(f"Form value count limit {max_values} exceeded.")
    if any(len(value.encode()) > max_value_bytes for _, value in pairs):
        raise _form_failure(f"Form value length limit {max_value_bytes} exceeded.")
    return Form(values=pairs)


def _read_multipart(stream: IO[bytes], boundary: bytes, *, max_values: int,
                    max_value_bytes: int) -> Form:
    """Decode a multipart/form-data body part by part, enforcing the value limits early."""
    decoder = MultipartDecoder(boundary)
    form = Form()
    current: bytearray | None = None
    current_field: Field | File | None = None
    finished = False
    try:
        while not finished:
            chunk = stream.read(_READ_SIZE)
            decoder.receive_data(chunk or None)
            while True:
                event = decoder.next_event()
                if isinstance(event, NeedData):
                    break
                if isinstance(event, Epilogue):
                    finished = True
                    break
                if isinstance(event, (Field, File)):
                    current_field, current = event, bytearray()
                    if isinstance(event, Field) and _count(form) + 1 > max_values:
                        raise _form_failure(f"Form value count limit {max_values} exceeded.")
                elif isinstance(event, Data) and current is not None:
                    current.extend(event.data)
                    if isinstance(current_field, Field) and len(current) > max_value_bytes:
                        raise _form_failure(f"Form value length limit {max_value_bytes} exceeded.")
                    if not event.more_data:
                        _store(form, current_field, bytes(current))
                        current_field, current = None, None
            if not chunk and not finished:
                raise _form_failure("Unexpected end of request content.")
    except RequestEntityTooLarge:
        raise
    except ValueError as error:
        raise _form_failure(f"The multipart body is malformed ({error}).") from None
    return form


def _count(form: Form) -> int:
    """Count the form values so far (files do not count, as in ASP.NET)."""
    return len(form.values)


def _store(form: Form, part: Field | File | None, data: bytes) -> None:
    """Keep a finished part."""
    if isinstance(part, File):
        form.files.append(UploadedFile(part.name or "", part.filename, data))
    elif isinstance(part, Field):
        # ASP.NET decodes form values as UTF-8 and replaces what is not.
        form.values.append((part.name or "", data.decode("utf-8", errors="replace")))


def _form_failure(reason: str) -> Problem:
    """Make the 400 that ASP.NET MVC gives when it cannot read the form."""
    return Problem(400, f"Failed to read the request form. {reason}",
                   errors={"": [f"Failed to read the request form. {reason}"]})
