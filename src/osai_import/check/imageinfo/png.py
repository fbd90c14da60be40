"""Read a PNG header: its size, the offset of its image data, its channels and orientation."""

from __future__ import annotations

import re
import struct
import sys
import zlib
from functools import cache
from pathlib import Path

from osai_import.check.imageinfo.tiff import tiff_orientation
from osai_import.check.imageinfo.window import Window, truncated_header
from osai_import.errors import ItemError
from osai_import.location import SourcePath

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The mode Pillow opens each PNG bit depth and colour type in, and its channels as
# ``_depth`` counts them (16-bit grey with alpha opens as RGBA); a palette counts 3, or 4
# with a tRNS chunk.
_PNG_MODES: dict[tuple[int, int], tuple[str, int]] = {
    (1, 0): ("1", 1),
    (2, 0): ("L", 1),
    (4, 0): ("L", 1),
    (8, 0): ("L", 1),
    (16, 0): ("I;16", 1),
    (8, 2): ("RGB", 3),
    (16, 2): ("RGB", 3),
    (1, 3): ("P", 3),
    (2, 3): ("P", 3),
    (4, 3): ("P", 3),
    (8, 3): ("P", 3),
    (8, 4): ("LA", 2),
    (16, 4): ("RGBA", 4),
    (8, 6): ("RGBA", 4),
    (16, 6): ("RGBA", 4),
}
# The shortest payload Pillow accepts for the chunks whose handlers check a length.
_PNG_MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
_PNG_CHUNK_NAME = re.compile(rb"[A-Za-z0-9_]{4}")
# Past these the chunks before the image data are odd enough to leave to Pillow.
_PNG_MAX_HEADER_BYTES = 1 << 20
_PNG_MAX_CHUNKS = 1000


def png_dimensions(path: Path | SourcePath, head: bytes, size: int) -> tuple[int, int, int]:
    # IHDR must be the first chunk, at a fixed offset: the size is known without Pillow.
    if len(head) < 24:
        raise truncated_header(path, "PNG")
    if head[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ItemError(
            "image.unreadable",
            f"{path}: a PNG signature without an IHDR header chunk; re-save the image",
        )
    width, height = struct.unpack(">II", head[16:24])
    if size < 33:
        raise truncated_header(path, "PNG")
    return width, height, 33


def png_facts(reader: Window) -> tuple[int, int] | None:
    """Return depth and EXIF orientation from the chunks before the image data.

    None means a chunk Pillow could refuse or read otherwise than plainly (a bad
    checksum, text, an ICC profile, animation, any odd length): the caller then asks
    Pillow, so its answer or its error stands.
    """
    if _pillow_loads_truncated():
        return None  # Pillow then skips checks that this reading keeps
    ihdr = reader.read(12, 21)
    if len(ihdr) < 21 or not _png_checksum_ok(ihdr[:4], ihdr[4:17], ihdr[17:]):
        return None
    known = _PNG_MODES.get((ihdr[12], ihdr[13]))
    if known is None or ihdr[15]:  # a mode Pillow lacks, or a filter method it refuses
        return None
    mode, depth = known
    pos = 33
    exif: bytes | None = None
    for _ in range(_PNG_MAX_CHUNKS):
        head = reader.read(pos, 8)
        if len(head) < 8:
            return None
        length = int.from_bytes(head[:4], "big")
        name = head[4:]
        if name == b"IDAT":
            break
        if pos + length > _PNG_MAX_HEADER_BYTES or not _PNG_CHUNK_NAME.fullmatch(name):
            return None
        body = reader.read(pos + 8, length + 4)
        data = body[:length]
        if len(body) < length + 4 or not _png_checksum_ok(name, data, body[length:]):
            return None
        if name == b"tRNS":
            if mode == "P":
                depth = 4
            elif mode != "LA" and mode != "RGBA" and length < (6 if mode == "RGB" else 2):
                return None
        elif name == b"eXIf":
            exif = data
        elif name == b"tEXt":
            # Pillow files a text chunk under its keyword in the image info, where these two
            # keywords would stand for the EXIF block and the transparency.
            if data.split(b"\0", 1)[0] in (b"exif", b"transparency"):
                return None
        elif name in _PNG_MIN_LENGTH:
            if length < _PNG_MIN_LENGTH[name]:
                return None
        elif name != b"PLTE" and _pillow_reads(name):
            return None  # a chunk Pillow reads in a way not repeated here
        pos += 12 + length
    else:
        return None
    if exif is None:
        return depth, 1
    orientation = tiff_orientation(exif)
    return None if orientation is None else (depth, orientation)


def _pillow_loads_truncated() -> bool:
    """Tell whether Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set in this process.

    Pillow is imported only when a header needs it: a flag nobody could set yet is off.
    """
    image_file = sys.modules.get("PIL.ImageFile")
    return bool(getattr(image_file, "LOAD_TRUNCATED_IMAGES", False))


@cache
def _pillow_reads(name: bytes) -> bool:
    """Tell whether Pillow's PNG plugin reads chunk ``name`` in a way of its own."""
    from PIL import PngImagePlugin  # only for a chunk the lists above do not know

    return hasattr(PngImagePlugin.PngStream, f"chunk_{name.decode()}")


def _png_checksum_ok(name: bytes, data: bytes, crc: bytes) -> bool:
    return zlib.crc32(data, zlib.crc32(name)) == int.from_bytes(crc, "big")
