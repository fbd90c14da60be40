"""Read a JPEG header: its size, the offset of its image data, its channels and orientation."""

from __future__ import annotations

import struct
from pathlib import Path

from osai_import.check.imageinfo.tiff import tiff_orientation
from osai_import.check.imageinfo.window import Window, truncated_header
from osai_import.errors import ItemError
from osai_import.location import SourcePath

JPEG_EOI = b"\xff\xd9"
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0..RST7.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Pillow skips junk between JPEG segments one byte at a time; past this much junk the
# file is not a JPEG anyone can display, and scanning on would let a hostile file stall us.
_JPEG_MAX_JUNK = 4096
# Real files have a few dozen segments before the first scan; a file with thousands of
# empty segments is built to make the walk slow.
_JPEG_MAX_SEGMENTS = 10_000

# Markers whose segments Pillow's JPEG parser and the walk below both read as "a length,
# then that many bytes": SOFn, DHT, DAC, SOS, DQT, DNL, DRI, EXP, APPn and COM. The
# others (JPG, DHP, JPGn, TEM, RSTn) are read differently, so a header holding one is
# left to Pillow.
_JPEG_SAME_IN_PILLOW = frozenset(
    {*_JPEG_SOF, 0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xDF, *range(0xE0, 0xF0), 0xFE}
)
# Application segments in which Pillow reads a field at a fixed offset, with the payload
# size below which that read fails. Photoshop resources are walked with offsets taken from
# the data, at any size (no payload reaches 65536 bytes): those are always left to Pillow.
_JPEG_APP_SHORTEST = (
    (0xE0, b"JFIF", 7),
    (0xEE, b"Adobe", 7),
    (0xE2, b"ICC_PROFILE\0", 14),
    (0xED, b"Photoshop 3.0\0", 1 << 16),
)


def jpeg_dimensions(
    path: Path | SourcePath, reader: Window, size: int
) -> tuple[int, int, int, list[tuple[int, int, int]] | None]:
    """Walk the JPEG segments up to the first scan.

    Return width, height, the scan offset and each segment as (marker, payload offset,
    length), or None instead of the segments when the walk met something Pillow's
    parser reads another way (junk or fill bytes, a marker without a length).
    """
    pos = 2
    junk = segments = 0
    dims: tuple[int, int] | None = None
    seen: list[tuple[int, int, int]] = []
    same_in_pillow = True
    while True:
        if junk > _JPEG_MAX_JUNK or segments > _JPEG_MAX_SEGMENTS:
            raise ItemError(
                "image.unreadable",
                f"{path}: no usable JPEG header (junk or thousands of empty segments where the "
                "frame header is expected); re-save the image",
            )
        # A marker and its length, read at once in the usual case of no junk before it.
        quad = reader.read(pos, 4)
        if len(quad) >= 2 and quad[0] == 0xFF and quad[1] != 0xFF:
            code = quad[1]
            pos += 2
            raw = quad[2:]
        else:
            if not quad:
                raise truncated_header(path, "JPEG")
            pos += 1
            if quad[0] != 0xFF:
                junk += 1
                continue
            code = 0xFF
            while code == 0xFF:  # fill bytes before a marker
                byte = reader.read(pos, 1)
                if not byte:
                    raise truncated_header(path, "JPEG")
                pos += 1
                code = byte[0]
                if code == 0xFF:
                    junk += 1
                    if junk > _JPEG_MAX_JUNK:
                        break
            raw = reader.read(pos, 2)
        segments += 1
        if code in (0x00, 0xFF) or code in _JPEG_STANDALONE:
            same_in_pillow = False
            continue
        if code in (0xD8, 0xD9):
            raise ItemError(
                "image.unreadable",
                f"{path}: the JPEG ends or restarts before any image data; re-save the image",
            )
        if len(raw) < 2:
            raise truncated_header(path, "JPEG")
        length = (raw[0] << 8) | raw[1]
        if length < 2:
            raise ItemError(
                "image.unreadable", f"{path}: a JPEG segment has an invalid length; re-save it"
            )
        start = pos + 2
        if code not in _JPEG_SAME_IN_PILLOW:
            same_in_pillow = False
        seen.append((code, start, length))
        if code in _JPEG_SOF and dims is None:
            frame = reader.read(start, 5)
            if len(frame) < 5:
                raise truncated_header(path, "JPEG")
            height, width = struct.unpack(">HH", frame[1:5])
            dims = (width, height)
        if code == 0xDA:
            end = start + length - 2
            if dims is None:
                raise ItemError(
                    "image.unreadable",
                    f"{path}: the JPEG has no frame header (no size) before its image data; "
                    "re-save the image",
                )
            if end > size:
                raise truncated_header(path, "JPEG")
            clean = same_in_pillow and junk == 0
            return dims[0], dims[1], end, seen if clean else None
        pos = start + length - 2


def jpeg_facts(reader: Window, segments: list[tuple[int, int, int]]) -> tuple[int, int] | None:
    """Return depth and EXIF orientation from the segments before the scan.

    None means a segment Pillow could refuse, or read otherwise than plainly: the caller
    then asks Pillow, so its answer or its error stands.
    """
    layers = 0
    exif: bytes | None = None
    for code, start, length in segments:
        size = length - 2
        if code in _JPEG_SOF:
            frame = reader.read(start, size)
            # Pillow takes the last frame header; it refuses a precision other than 8 bits
            # or a channel count other than 1, 3 or 4, and trips on a component list cut short.
            if layers or size < 6 or (size - 6) % 3 or frame[0] != 8 or frame[5] not in (1, 3, 4):
                return None
            layers = frame[5]
        elif code == 0xDB:
            if not _quantization_tables_fit(reader.read(start, size)):
                return None
        elif 0xE0 <= code <= 0xEF:
            tag = reader.read(start, min(size, 14))
            if code == 0xE1 and tag.startswith(b"Exif\0\0"):
                if exif is not None:
                    return None  # Pillow versions differ on a second EXIF segment
                exif = reader.read(start, size)
                continue
            for app, prefix, shortest in _JPEG_APP_SHORTEST:
                if code == app and tag.startswith(prefix) and size < shortest:
                    return None
    if not layers:
        return None
    if exif is None:
        return layers, 1
    orientation = tiff_orientation(exif[6:])
    return None if orientation is None else (layers, orientation)


def _quantization_tables_fit(payload: bytes) -> bool:
    """Tell whether a DQT payload is whole tables: 64 values of 1 or 2 bytes after a byte."""
    pos = 0
    while pos < len(payload):
        pos += 65 if payload[pos] < 16 else 129
        if pos > len(payload):
            return False
    return True
