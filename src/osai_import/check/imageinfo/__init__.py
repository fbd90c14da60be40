"""Read what the check step needs from an image file's header, without decoding pixels.

``inspect_image`` identifies JPEG and PNG by their bytes (never by the file name), reads
width, height, channels and EXIF orientation from the header, refuses headers that
claim more pixels than allowed before Pillow sees them, and detects a truncated file
from its last bytes. A plainly well-formed header is read here alone; one with anything
unusual in it is opened with Pillow, so every file gets the answer (or the error) Pillow
gives. Every failure is an ``ItemError`` whose ``code`` is one of the stable ``image.*``
problem codes documented in ``docs/check.md``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from osai_import.check.imageinfo.jpeg import JPEG_EOI, jpeg_dimensions, jpeg_facts
from osai_import.check.imageinfo.png import PNG_IEND, png_dimensions, png_facts
from osai_import.check.imageinfo.sniff import SUPPORTED_FORMATS, sniff_format
from osai_import.check.imageinfo.tiff import ORIENTATION_TAG
from osai_import.check.imageinfo.window import BytesWindow, FileWindow, Window
from osai_import.errors import ItemError
from osai_import.location import SourcePath
from osai_import.source.files import Facts, facts_of, open_image, read_blob

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["SUPPORTED_FORMATS", "ImageInfo", "file_digest", "inspect_image", "sniff_format"]

_SCAN_BLOCK = 1 << 20

_MODE_DEPTH = {
    "1": 1,
    "L": 1,
    "I": 1,
    "F": 1,
    "LA": 2,
    "La": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "CMYK": 4,
    "PA": 4,
}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header of a JPEG or PNG file says about it.

    ``width``/``height`` are the stored pixel dimensions (before EXIF rotation);
    ``depth`` is the number of channels (1 grey, 3 colour incl. palette, 4 with alpha or
    CMYK); ``orientation`` is the EXIF orientation (1, the default, when absent or
    invalid); ``size`` is the file size in bytes and ``mtime_ns`` its modification time.
    """

    format: str
    width: int
    height: int
    depth: int
    orientation: int
    size: int
    mtime_ns: int = 0
    facts: Facts | None = None  # what the upload checks the file against before sending

    @property
    def transposed(self) -> bool:
        """Return True when the EXIF orientation swaps width and height on display."""
        return self.orientation in (5, 6, 7, 8)


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hex digest of a file's bytes, read in blocks by ``hashlib.file_digest``."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def inspect_image(path: str | os.PathLike[str] | SourcePath, max_pixels: int) -> ImageInfo:
    """Read a JPEG or PNG file's header; raise ItemError with an ``image.*`` code otherwise.

    An image in an archive or a bucket is read whole (its digest is what the upload
    checks it against); a local file only as far as its header and end marker.
    """
    if isinstance(path, SourcePath):
        data, blob = read_blob(path)
        return _inspect_open(path, BytesWindow(data), max_pixels, blob)
    if not isinstance(path, Path):
        path = Path(path)
    fd, st, link = open_image(path)
    try:
        return _inspect_open(path, FileWindow(fd, st.st_size), max_pixels, facts_of(st, link))
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(fd)


def _unreadable(path: Path, exc: OSError) -> ItemError:
    reason = exc.strerror or str(exc)
    return ItemError(
        "image.unreadable", f"{path}: cannot read the file ({reason}); check its permissions"
    )


def _inspect_open(
    path: Path | SourcePath, reader: Window, max_pixels: int, file_facts: Facts
) -> ImageInfo:
    size = file_facts.size
    head = reader.read(0, 32)
    kind = sniff_format(head)
    if kind not in SUPPORTED_FORMATS:
        looks = f"looks like {kind}" if kind != "unknown" else "is of an unknown type"
        raise ItemError(
            "image.unsupported",
            f"{path}: not a JPEG or PNG by its bytes (the file {looks}); OSAI accepts only "
            "JPEG and PNG: convert it or leave it out of the source",
        )
    segments: list[tuple[int, int, int]] | None = None
    if kind == "png":
        width, height, data_start = png_dimensions(path, head, size)
    else:
        width, height, data_start, segments = jpeg_dimensions(path, reader, size)
    if width <= 0 or height <= 0:
        raise ItemError(
            "image.unreadable",
            f"{path}: the header states a size of {width}x{height} pixels; re-save the image",
        )
    if width * height > max_pixels:
        raise ItemError(
            "image.too_large",
            f"{path}: the header claims {width}x{height} = {width * height:,} pixels, more than "
            f"check.max_pixels ({max_pixels:,}); it was not decoded (possible decompression "
            "bomb). Downscale the image, or raise check.max_pixels if you trust it",
        )
    if not _has_end_marker(reader, kind, size, data_start):
        marker = "EOI marker" if kind == "jpeg" else "IEND chunk"
        raise ItemError(
            "image.truncated",
            f"{path}: the {kind.upper()} file is truncated (no {marker}: the end of the file is "
            "missing); copy or download it again",
        )
    if kind == "png":
        facts = png_facts(reader)
    else:
        facts = None if segments is None else jpeg_facts(reader, segments)
    if facts is None:
        facts = _pillow_facts(path, reader, kind)
    depth, orientation = facts
    return ImageInfo(
        format=kind,
        width=width,
        height=height,
        depth=depth,
        orientation=orientation,
        size=size,
        mtime_ns=file_facts.mtime_ns,
        facts=file_facts,
    )


def _pillow_facts(path: Path | SourcePath, reader: Window, kind: str) -> tuple[int, int]:
    """Return depth and orientation as Pillow reads them; its errors mean a corrupt header."""
    # Imported here: a plainly well-formed header never needs Pillow, and importing it
    # is a tenth of the start-up of a short command.
    from PIL import JpegImagePlugin, PngImagePlugin

    with reader.stream() as handle:
        try:
            image = (
                PngImagePlugin.PngImageFile(handle)
                if kind == "png"
                else JpegImagePlugin.JpegImageFile(handle)
            )
        except (SyntaxError, ValueError, EOFError, OSError, struct.error) as exc:
            # Pillow reports a chunk cut short or a bad checksum as one of these.
            raise ItemError(
                "image.unreadable",
                f"{path}: the {kind.upper()} header is corrupt ({exc}); re-save the image",
            ) from None
        return _depth(image), _orientation(image)


def _has_end_marker(reader: Window, kind: str, size: int, data_start: int) -> bool:
    """Tell whether the file holds its end marker: at the very end (cheap) or earlier."""
    marker = PNG_IEND if kind == "png" else JPEG_EOI
    if size >= len(marker) and reader.read(size - len(marker), len(marker)) == marker:
        return True
    # Data after the end marker (camera padding, appended videos) is legal: look for the
    # marker itself. Compressed data never holds it, so the scan stops at the real end.
    pos = data_start
    keep = b""
    while True:
        block = reader.scan(pos, _SCAN_BLOCK)
        if not block:
            return False
        pos += len(block)
        window = keep + block
        if marker in window:
            return True
        keep = window[-(len(marker) - 1) :]


def _depth(image: Image.Image) -> int:
    if image.mode == "P":
        # A palette expands to RGB, or RGBA when the palette carries transparency.
        return 4 if "transparency" in image.info else 3
    if image.mode.startswith("I;16"):
        return 1
    from PIL import Image

    return _MODE_DEPTH.get(image.mode) or Image.getmodebands(image.mode)


def _orientation(image: Image.Image) -> int:
    # Only the EXIF block read with the header counts: asking Pillow's PNG plugin for EXIF
    # stored after the image data would decode the whole image.
    raw = image.info.get("exif")
    if not raw:
        return 1
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(raw)
        value = exif.get(ORIENTATION_TAG)
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as viewers do
        return 1
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
