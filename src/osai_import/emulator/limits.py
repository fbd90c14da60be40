"""Refuse a chunk over a cap on images or bytes per request, the way the variants say."""

from __future__ import annotations

from osai_import.emulator.form import Form
from osai_import.emulator.problems import Answer, Drop, Problem, empty_response, html_response
from osai_import.emulator.variants import Variants


def too_many_bytes(variants: Variants, length: int | None) -> Exception:
    """Make the refusal of a chunk whose body is over ``variants.chunk_max_bytes``."""
    size = f"of {length} bytes " if length is not None else ""
    return _refusal(variants, "", f"The request body {size}is larger than the limit of "
                    f"{variants.chunk_max_bytes} bytes per chunk; send fewer or smaller "
                    "images per chunk.")


def check_image_count(variants: Variants, form: Form) -> None:
    """Raise the refusal of a chunk holding more images than ``variants.chunk_max_images``."""
    cap = variants.chunk_max_images
    count = sum(1 for part in form.files if part.field.lower() == "imagesfiles")
    if cap and count > cap:
        raise _refusal(variants, "imagesFiles", f"The chunk holds {count} images; at most "
                       f"{cap} are accepted per request.")


def _refusal(variants: Variants, field: str, message: str) -> Exception:
    """Refuse as ``chunk_refusal`` says, in ``chunk_refusal_detail``'s words when given."""
    how, detail = variants.chunk_refusal, variants.chunk_refusal_detail
    if how == "close":
        return Drop()
    status = 400 if how == "400" else 413
    if detail == "":
        return Answer(empty_response(status))
    message = detail or message
    if how == "413-html":
        return Answer(html_response(413, "413 Request Entity Too Large", message))
    if status == 400:
        return Problem(400, errors={field: [message]})
    return Problem(413, message)
