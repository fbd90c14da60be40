"""Name a file's type from its first bytes, never from its name."""

from __future__ import annotations

import struct

from osai_import.check.imageinfo.png import PNG_SIGNATURE

SUPPORTED_FORMATS = ("jpeg", "png")


def sniff_format(head: bytes) -> str:
    """Name the file type its first bytes announce: 'jpeg', 'png', or what else it looks like."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(PNG_SIGNATURE):
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
