"""Every problem code osai-import itself emits, with its one-line meaning.

A problem code is stable: reports, scripts and the docs rely on it. ``CODES`` are the
codes of the check step (``docs/check.md``); ``UPLOAD_CODES`` those of items the upload
stage could not deliver (``docs/run.md``); tests keep both tables in step with the docs.
Readers add their own codes (documented with each reader); they pass through unchanged.

This module sits beside ``records`` and ``errors`` rather than inside ``check/`` because
both the check and the upload stage emit codes, and the upload stage must not import
the check stage.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "image.missing": "the image file does not exist",
    "image.unreadable": "the file cannot be read, or its header is corrupt",
    "image.empty": "the file is empty (0 bytes)",
    "image.unsupported": "not a JPEG or PNG by its bytes",
    "image.truncated": "the file ends early (no JPEG EOI marker / PNG IEND chunk)",
    "image.too_large": "the header claims more pixels than check.max_pixels",
    "image.extension_mismatch": "the name's extension does not match the bytes; fixed",
    "image.exif_orientation": "the EXIF orientation is not the default",
    "image.size_mismatch": "the size the source states differs from the file's header",
    "box.exif_frame": "boxes given in the EXIF-rotated frame, converted to the stored frame",
    "box.outside": "a box leaves the image (clipped, dropped or refused by policy)",
    "box.empty": "a box with zero or negative width or height; dropped",
    "box.no_label": "a box without a label",
    "label.invalid": "a category or box label with control characters",
    "name.invalid": "the remote name is empty, has path separators or control characters",
    "name.collision": "two images would get the same remote name (error or disambiguated)",
    "record.duplicate": "the same item appears more than once in the source",
}

UPLOAD_CODES: dict[str, str] = {
    "image.unreadable": "the image could not be read when its chunk was built",
    "image.missing": "the image was removed after the check",
    "image.changed": "the path no longer holds the file the check saw; not sent",
    "annotation.encode": "the annotation encoder failed on the item",
    "server.too_large": "the server refused the image alone as too large (HTTP 413)",
    "server.rejected": "the server refused the image alone (HTTP 400)",
    "server.skipped": "the server answered that it skipped the image",
    "server.error": "the server failed (HTTP 500) on every chunk holding the image",
}
