"""Recognise JPEG and PNG files by their bytes and read their size from the header."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """Say why a file that looks like a JPEG or PNG cannot be read."""


@dataclass(frozen=True)
class ImageInfo:
    """What the server keeps about an image file besides its bytes."""

    format: str  # "jpeg" or "png"
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """Return "jpeg" or "png" when the bytes start with that signature, else None."""
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_PNG):
        return "png"
    return None


def read_header(data: bytes, kind: str) -> ImageInfo:
    """Read width and height with Pillow without decoding pixels; raise ImageError if unreadable."""
    try:
        # Image.open parses only up to the frame header (JPEG SOF, PNG IHDR); pixels stay
        # undecoded, which keeps validation of a chunk fast.
        with Image.open(io.BytesIO(data), formats=[kind.upper()]) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:
        raise ImageError(f"declares too many pixels to be accepted ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"has a {kind.upper()} signature but its header cannot be read "
                         f"({error})") from None
    if width <= 0 or height <= 0:
        raise ImageError(f"declares an empty size {width}x{height}")
    return ImageInfo(format=kind, width=width, height=height)
