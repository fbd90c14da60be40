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
import re
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin

from osai_import.errors import ItemError

SUPPORTED_FORMATS = ("jpeg", "png")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EOI = b"\xff\xd9"
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
_SCAN_BLOCK = 1 << 20
# One read of this much holds the whole header of nearly every file (and all of a small one).
_WINDOW = 1 << 16
_ORIENTATION_TAG = 0x0112
_X_RESOLUTION_TAG = 0x011A
_RESOLUTION_UNIT_TAG = 0x0128

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
# Bytes per value of each TIFF field type Pillow decodes.
_TIFF_UNIT = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8
}
_TIFF_SHORT, _TIFF_LONG, _TIFF_RATIONAL = 3, 4, 5

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

    @property
    def transposed(self) -> bool:
        """Return True when the EXIF orientation swaps width and height on display."""
        return self.orientation in (5, 6, 7, 8)


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hex digest of a file's bytes, read in blocks by ``hashlib.file_digest``."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def sniff_format(head: bytes) -> str:
    """Name the file type its first bytes announce: 'jpeg', 'png', or what else it looks like."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    for prefix, name in _OTHER_SIGNATURES:
        if head.startswith(prefix):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"):
            return "heif"
        return "mp4/quicktime video"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and struct.unpack("<I", head[14:18])[0] in (12, 40, 52, 56, 64, 108, 124)
    ):
        return "bmp"
    return _sniff_text(head)


_OTHER_SIGNATURES = (
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"%PDF", "pdf"),
    (b"8BPS", "psd"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"\xff\x0a", "jpeg xl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpeg xl"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg 2000"),
    (b"\xff\x4f\xff\x51", "jpeg 2000"),
    (b"PK\x03\x04", "zip archive"),
    (b"\x1f\x8b", "gzip archive"),
)


def _sniff_text(head: bytes) -> str:
    text = head.removeprefix(b"\xef\xbb\xbf")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still text.
        if exc.start < len(text) - 3:
            return "unknown"
        decoded = text[: exc.start].decode("utf-8")
    if decoded and all(ch.isprintable() or ch in "\t\r\n" for ch in decoded):
        return "xml/html/svg text" if decoded.lstrip().startswith("<") else "text"
    return "unknown"


def inspect_image(path: str | os.PathLike[str], max_pixels: int) -> ImageInfo:
    """Read a JPEG or PNG file's header; raise ItemError with an ``image.*`` code otherwise."""
    if not isinstance(path, Path):
        path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ItemError(
            "image.missing",
            f"{path}: the image file does not exist; fix the path in the source or restore "
            "the file",
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    # Only a regular file is opened: opening a FIFO blocks, and opening a device can act.
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ItemError("image.unreadable", f"{path}: is {what}, not an image file; fix the path")
    if st.st_size == 0:
        raise ItemError(
            "image.empty", f"{path}: the file is empty (0 bytes); replace it with the real image"
        )
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        return _inspect_open(path, _Reader(fd, st.st_size), st.st_size, max_pixels,
                             st.st_mtime_ns)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(fd)


def _unreadable(path: Path, exc: OSError) -> ItemError:
    reason = exc.strerror or str(exc)
    return ItemError(
        "image.unreadable", f"{path}: cannot read the file ({reason}); check its permissions"
    )


class _Reader:
    """Positioned reads of an open file, served from one cached block where they fit.

    The first read fetches ``_WINDOW`` bytes, which hold the whole header of nearly every
    file, so parsing it costs one system call; the descriptor's offset is never moved.
    """

    __slots__ = ("_base", "_data", "_eof", "fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self._base = 0
        self._data = b""
        self._eof = False

    def read(self, pos: int, count: int) -> bytes:
        """Return ``count`` bytes from ``pos``: fewer at the end of the file, none past it."""
        start = pos - self._base
        data = self._data
        if start >= 0 and (start + count <= len(data) or self._eof):
            return data[start : start + count]
        want = max(count, _WINDOW)
        data = _pread(self.fd, want, pos, self.size)
        self._base, self._data, self._eof = pos, data, len(data) < want
        return data[:count]


def _pread(fd: int, count: int, pos: int, size: int) -> bytes:
    """Read ``count`` bytes from ``pos``, fewer only at the end of the file."""
    data = os.pread(fd, count, pos)
    if len(data) == count or not data or pos + len(data) == size:
        return data  # all of it, or up to the end (the size from stat saves a call to see it)
    parts = [data]
    got = len(data)
    while got < count:
        more = os.pread(fd, count - got, pos + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _inspect_open(
    path: Path, reader: _Reader, size: int, max_pixels: int, mtime_ns: int
) -> ImageInfo:
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
        width, height, data_start = _png_dimensions(path, head, size)
    else:
        width, height, data_start, segments = _jpeg_dimensions(path, reader, size)
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
        facts = _png_facts(reader)
    else:
        facts = None if segments is None else _jpeg_facts(reader, segments)
    if facts is None:
        facts = _pillow_facts(path, reader.fd, kind)
    depth, orientation = facts
    return ImageInfo(
        format=kind,
        width=width,
        height=height,
        depth=depth,
        orientation=orientation,
        size=size,
        mtime_ns=mtime_ns,
    )


def _pillow_facts(path: Path, fd: int, kind: str) -> tuple[int, int]:
    """Return depth and orientation as Pillow reads them; its errors mean a corrupt header."""
    with open(fd, "rb", closefd=False) as handle:
        handle.seek(0)
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


def _png_dimensions(path: Path, head: bytes, size: int) -> tuple[int, int, int]:
    # IHDR must be the first chunk, at a fixed offset: the size is known without Pillow.
    if len(head) < 24:
        raise _truncated_header(path, "PNG")
    if head[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ItemError(
            "image.unreadable",
            f"{path}: a PNG signature without an IHDR header chunk; re-save the image",
        )
    width, height = struct.unpack(">II", head[16:24])
    if size < 33:
        raise _truncated_header(path, "PNG")
    return width, height, 33


def _jpeg_dimensions(
    path: Path, reader: _Reader, size: int
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
                raise _truncated_header(path, "JPEG")
            pos += 1
            if quad[0] != 0xFF:
                junk += 1
                continue
            code = 0xFF
            while code == 0xFF:  # fill bytes before a marker
                byte = reader.read(pos, 1)
                if not byte:
                    raise _truncated_header(path, "JPEG")
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
            raise _truncated_header(path, "JPEG")
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
                raise _truncated_header(path, "JPEG")
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
                raise _truncated_header(path, "JPEG")
            clean = same_in_pillow and junk == 0
            return dims[0], dims[1], end, seen if clean else None
        pos = start + length - 2


def _truncated_header(path: Path, kind: str) -> ItemError:
    return ItemError(
        "image.truncated",
        f"{path}: the {kind} file ends inside its header (truncated); copy or download it again",
    )


def _has_end_marker(reader: _Reader, kind: str, size: int, data_start: int) -> bool:
    """Tell whether the file holds its end marker: at the very end (cheap) or earlier."""
    marker = _PNG_IEND if kind == "png" else _JPEG_EOI
    if size >= len(marker) and reader.read(size - len(marker), len(marker)) == marker:
        return True
    # Data after the end marker (camera padding, appended videos) is legal: look for the
    # marker itself. Compressed data never holds it, so the scan stops at the real end.
    pos = data_start
    keep = b""
    while True:
        block = _pread(reader.fd, _SCAN_BLOCK, pos, reader.size)
        if not block:
            return False
        pos += len(block)
        window = keep + block
        if marker in window:
            return True
        keep = window[-(len(marker) - 1) :]


def _jpeg_facts(reader: _Reader, segments: list[tuple[int, int, int]]) -> tuple[int, int] | None:
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
    orientation = _tiff_orientation(exif[6:])
    return None if orientation is None else (layers, orientation)


def _quantization_tables_fit(payload: bytes) -> bool:
    """Tell whether a DQT payload is whole tables: 64 values of 1 or 2 bytes after a byte."""
    pos = 0
    while pos < len(payload):
        pos += 65 if payload[pos] < 16 else 129
        if pos > len(payload):
            return False
    return True


def _png_facts(reader: _Reader) -> tuple[int, int] | None:
    """Return depth and EXIF orientation from the chunks before the image data.

    None means a chunk Pillow could refuse or read otherwise than plainly (a bad
    checksum, text, an ICC profile, animation, any odd length): the caller then asks
    Pillow, so its answer or its error stands.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
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
        elif name != b"PLTE" and hasattr(PngImagePlugin.PngStream, f"chunk_{name.decode()}"):
            return None  # a chunk Pillow reads in a way not repeated here
        pos += 12 + length
    else:
        return None
    if exif is None:
        return depth, 1
    orientation = _tiff_orientation(exif)
    return None if orientation is None else (depth, orientation)


def _png_checksum_ok(name: bytes, data: bytes, crc: bytes) -> bool:
    return zlib.crc32(data, zlib.crc32(name)) == int.from_bytes(crc, "big")


def _tiff_orientation(tiff: bytes) -> int | None:
    """Return the orientation in an EXIF block's first IFD, 1 when absent or out of range.

    None means the block is not plainly well-formed (a tag twice, an entry or value past
    its end, an odd type) or holds the tags Pillow reads while opening in a form it could
    choke or warn on: the caller then asks Pillow.
    """
    if len(tiff) < 8 or tiff.startswith(b"Exif\0\0"):
        return None
    if tiff.startswith(b"II*\0"):
        order = "<"
    elif tiff.startswith(b"MM\0*"):
        order = ">"
    else:
        return None
    (ifd,) = struct.unpack_from(order + "L", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    entries_end = ifd + 2 + 12 * count
    if entries_end + 4 > len(tiff):  # the entries and the next-IFD offset
        return None
    orientation = 1
    tags: set[int] = set()
    out_of_line = 0
    entries = struct.iter_unpack(order + "HHL4s", tiff[ifd + 2 : entries_end])
    for tag, kind, values, inline in entries:
        unit = _TIFF_UNIT.get(kind)
        if tag in tags or unit is None:
            return None
        tags.add(tag)
        size = values * unit
        if size > 4:
            (offset,) = struct.unpack(order + "L", inline)
            out_of_line += size
            if offset + size > len(tiff) or out_of_line > len(tiff):
                return None
        if tag == _ORIENTATION_TAG:
            if values != 1 or kind not in (_TIFF_SHORT, _TIFF_LONG):
                return None
            (value,) = struct.unpack_from(order + ("H" if kind == _TIFF_SHORT else "L"), inline)
            orientation = value if 1 <= value <= 8 else 1
        elif (tag == _X_RESOLUTION_TAG and (values, kind) != (1, _TIFF_RATIONAL)) or (
            tag == _RESOLUTION_UNIT_TAG and (values, kind) != (1, _TIFF_SHORT)
        ):
            return None  # Pillow reads the resolution while opening a JPEG
    return orientation


def _depth(image: Image.Image) -> int:
    if image.mode == "P":
        # A palette expands to RGB, or RGBA when the palette carries transparency.
        return 4 if "transparency" in image.info else 3
    if image.mode.startswith("I;16"):
        return 1
    return _MODE_DEPTH.get(image.mode) or Image.getmodebands(image.mode)


def _orientation(image: Image.Image) -> int:
    # Only the EXIF block read with the header counts: asking Pillow's PNG plugin for EXIF
    # stored after the image data would decode the whole image.
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
        value = exif.get(_ORIENTATION_TAG)
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as viewers do
        return 1
    if isinstance(value, tuple) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
