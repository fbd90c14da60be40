"""Read what the check step needs from an image file's header, without decoding pixels.

``inspect_image`` identifies JPEG and PNG by their bytes (never by the file name), reads
width, height, channels and EXIF orientation from the header with Pillow, refuses
headers that claim more pixels than allowed before Pillow sees them, and detects a
truncated file from its last bytes. Every failure is an ``ItemError`` whose ``code`` is
one of the stable ``image.*`` problem codes documented in ``docs/check.md``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, JpegImagePlugin, PngImagePlugin

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
_ORIENTATION_TAG = 0x0112

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
    invalid); ``size`` is the file size in bytes.
    """

    format: str
    width: int
    height: int
    depth: int
    orientation: int
    size: int

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
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ItemError(
            "image.missing",
            f"{path}: the image file does not exist; fix the path in the source or restore "
            "the file",
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ItemError("image.unreadable", f"{path}: is {what}, not an image file; fix the path")
    if st.st_size == 0:
        raise ItemError(
            "image.empty", f"{path}: the file is empty (0 bytes); replace it with the real image"
        )
    try:
        with open(path, "rb") as handle:
            return _inspect_open(path, handle, st.st_size, max_pixels)
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: OSError) -> ItemError:
    reason = exc.strerror or str(exc)
    return ItemError(
        "image.unreadable", f"{path}: cannot read the file ({reason}); check its permissions"
    )


def _inspect_open(path: Path, handle: BinaryIO, size: int, max_pixels: int) -> ImageInfo:
    head = handle.read(32)
    kind = sniff_format(head)
    if kind not in SUPPORTED_FORMATS:
        looks = f"looks like {kind}" if kind != "unknown" else "is of an unknown type"
        raise ItemError(
            "image.unsupported",
            f"{path}: not a JPEG or PNG by its bytes (the file {looks}); OSAI accepts only "
            "JPEG and PNG: convert it or leave it out of the source",
        )
    if kind == "png":
        width, height, data_start = _png_dimensions(path, handle, head, size)
    else:
        width, height, data_start = _jpeg_dimensions(path, handle, size)
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
    if not _has_end_marker(handle, kind, size, data_start):
        marker = "EOI marker" if kind == "jpeg" else "IEND chunk"
        raise ItemError(
            "image.truncated",
            f"{path}: the {kind.upper()} file is truncated (no {marker}: the end of the file is "
            "missing); copy or download it again",
        )
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
    return ImageInfo(
        format=kind,
        width=width,
        height=height,
        depth=_depth(image),
        orientation=_orientation(image),
        size=size,
    )


def _png_dimensions(path: Path, handle: BinaryIO, head: bytes, size: int) -> tuple[int, int, int]:
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


def _jpeg_dimensions(path: Path, handle: BinaryIO, size: int) -> tuple[int, int, int]:
    """Walk the JPEG segments up to the first scan; return width, height and the scan offset."""
    handle.seek(2)
    junk = segments = 0
    dims: tuple[int, int] | None = None
    while True:
        if junk > _JPEG_MAX_JUNK or segments > _JPEG_MAX_SEGMENTS:
            raise ItemError(
                "image.unreadable",
                f"{path}: no usable JPEG header (junk or thousands of empty segments where the "
                "frame header is expected); re-save the image",
            )
        byte = handle.read(1)
        if not byte:
            raise _truncated_header(path, "JPEG")
        if byte != b"\xff":
            junk += 1
            continue
        code = 0xFF
        while code == 0xFF:  # fill bytes before a marker
            byte = handle.read(1)
            if not byte:
                raise _truncated_header(path, "JPEG")
            code = byte[0]
            if code == 0xFF:
                junk += 1
                if junk > _JPEG_MAX_JUNK:
                    break
        segments += 1
        if code in (0x00, 0xFF) or code in _JPEG_STANDALONE:
            continue
        if code in (0xD8, 0xD9):
            raise ItemError(
                "image.unreadable",
                f"{path}: the JPEG ends or restarts before any image data; re-save the image",
            )
        raw = handle.read(2)
        if len(raw) < 2:
            raise _truncated_header(path, "JPEG")
        length = struct.unpack(">H", raw)[0]
        if length < 2:
            raise ItemError(
                "image.unreadable", f"{path}: a JPEG segment has an invalid length; re-save it"
            )
        start = handle.tell()
        if code in _JPEG_SOF and dims is None:
            frame = handle.read(5)
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
            return dims[0], dims[1], end
        handle.seek(start + length - 2)


def _truncated_header(path: Path, kind: str) -> ItemError:
    return ItemError(
        "image.truncated",
        f"{path}: the {kind} file ends inside its header (truncated); copy or download it again",
    )


def _has_end_marker(handle: BinaryIO, kind: str, size: int, data_start: int) -> bool:
    """Tell whether the file holds its end marker: at the very end (cheap) or earlier."""
    marker = _PNG_IEND if kind == "png" else _JPEG_EOI
    if size >= len(marker):
        handle.seek(size - len(marker))
        if handle.read(len(marker)) == marker:
            return True
    # Data after the end marker (camera padding, appended videos) is legal: look for the
    # marker itself. Compressed data never holds it, so the scan stops at the real end.
    handle.seek(data_start)
    keep = b""
    while True:
        block = handle.read(_SCAN_BLOCK)
        if not block:
            return False
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
