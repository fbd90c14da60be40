"""Header inspection on real files: formats by bytes, sizes, depth, EXIF, truncation, bombs."""

from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from osai_import.check import imageinfo
from osai_import.check.imageinfo import file_digest, inspect_image
from osai_import.check.imageinfo.sniff import sniff_format
from osai_import.check.imageinfo.window import FileWindow
from osai_import.errors import ItemError
from tests.support import make_image

BIG = 10**9


def noisy_jpeg(path: Path, width: int = 256, height: int = 192, **save: object) -> Path:
    """Write a JPEG whose entropy-coded data is large (random pixels compress badly)."""
    rng = random.Random(7)
    image = Image.frombytes(
        "RGB", (width, height), bytes(rng.randrange(256) for _ in range(width * height * 3))
    )
    image.save(path, "JPEG", quality=95, **save)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width: int, height: int, *, iend: bool = True) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )
    return data + (png_chunk(b"IEND", b"") if iend else b"")


def code_of(path: Path, max_pixels: int = BIG) -> str:
    with pytest.raises(ItemError) as caught:
        inspect_image(path, max_pixels)
    assert str(path) in str(caught.value)  # every message names the file
    return caught.value.code


def test_jpeg_and_png_headers(tmp_path: Path) -> None:
    jpeg = inspect_image(make_image(tmp_path / "a.jpg", 40, 30), BIG)
    assert (jpeg.format, jpeg.width, jpeg.height, jpeg.depth, jpeg.orientation) == (
        "jpeg",
        40,
        30,
        3,
        1,
    )
    assert jpeg.size == (tmp_path / "a.jpg").stat().st_size
    png = inspect_image(make_image(tmp_path / "b.png", 7, 9), BIG)
    assert (png.format, png.width, png.height, png.depth) == ("png", 7, 9, 3)


def test_format_comes_from_bytes_not_name(tmp_path: Path) -> None:
    png_named_jpg = make_image(tmp_path / "a.jpg", 10, 12, fmt="PNG")
    assert inspect_image(png_named_jpg, BIG).format == "png"
    jpg_named_png = make_image(tmp_path / "b.png", 10, 12, fmt="JPEG")
    assert inspect_image(jpg_named_png, BIG).format == "jpeg"
    no_extension = make_image(tmp_path / "c", 3, 4, fmt="PNG")
    assert (inspect_image(no_extension, BIG).width, inspect_image(no_extension, BIG).height) == (
        3,
        4,
    )


@pytest.mark.parametrize(
    ("mode", "fmt", "depth", "extra"),
    [
        ("L", "JPEG", 1, {}),
        ("CMYK", "JPEG", 4, {}),
        ("RGBA", "PNG", 4, {}),
        ("LA", "PNG", 2, {}),
        ("I;16", "PNG", 1, {}),
        ("P", "PNG", 3, {}),
        ("P", "PNG", 4, {"transparency": 0}),
        ("1", "PNG", 1, {}),
    ],
)
def test_depth_by_mode(
    tmp_path: Path, mode: str, fmt: str, depth: int, extra: dict[str, object]
) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new(mode, (6, 5)).save(path, fmt, **extra)
    assert inspect_image(path, BIG).depth == depth


def test_missing_empty_and_folder(tmp_path: Path) -> None:
    assert code_of(tmp_path / "nope.jpg") == "image.missing"
    (tmp_path / "zero.jpg").write_bytes(b"")
    assert code_of(tmp_path / "zero.jpg") == "image.empty"
    (tmp_path / "dir.jpg").mkdir()
    assert code_of(tmp_path / "dir.jpg") == "image.unreadable"


def test_unsupported_files_say_what_they_look_like(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n")
    with pytest.raises(ItemError, match="looks like text") as caught:
        inspect_image(text, BIG)
    assert caught.value.code == "image.unsupported"
    gif = tmp_path / "anim.png"
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    with pytest.raises(ItemError, match="looks like gif"):
        inspect_image(gif, BIG)
    webp = tmp_path / "w.jpg"
    Image.new("RGB", (4, 4)).save(webp, "WEBP")
    assert code_of(webp) == "image.unsupported"
    junk = tmp_path / "junk.png"
    junk.write_bytes(bytes(range(256)))
    with pytest.raises(ItemError, match="unknown type"):
        inspect_image(junk, BIG)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"GIF89a\x01\x00", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "heif"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00", "avif"),
        (b"II*\x00\x08\x00", "tiff"),
        (b"%PDF-1.7", "pdf"),
        (b"BM" + b"\x00" * 12 + struct.pack("<I", 40), "bmp"),
        (b"BMW is a car brand", "text"),
        (b"\xef\xbb\xbf<svg xmlns=", "xml/html/svg text"),
        ("caf\u00e9 \u00e9t\u00e9".encode(), "text"),
    ],
)
def test_sniff_format(head: bytes, kind: str) -> None:
    assert sniff_format(head) == kind


@pytest.mark.parametrize("progressive", [False, True])
def test_truncated_jpeg_is_detected(tmp_path: Path, progressive: bool) -> None:
    data = noisy_jpeg(tmp_path / "full.jpg", progressive=progressive).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ItemError, match="EOI") as caught:
        inspect_image(cut, BIG)
    assert caught.value.code == "image.truncated"
    head_only = tmp_path / "head.jpg"
    head_only.write_bytes(data[:40])
    assert code_of(head_only) == "image.truncated"


def test_truncated_png_is_detected(tmp_path: Path) -> None:
    png = make_image(tmp_path / "full.png", 64, 64).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(png[:-12])  # without its IEND chunk
    assert code_of(cut) == "image.truncated"
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(png[:20])
    assert code_of(tiny) == "image.truncated"


def test_data_after_the_end_marker_is_accepted(tmp_path: Path) -> None:
    # Camera padding and appended videos (motion photos) follow the real end marker.
    jpeg = noisy_jpeg(tmp_path / "a.jpg")
    with jpeg.open("ab") as out:
        out.write(b"\x00" * 300 + b"ftypmp42 appended video bytes" * 1000)
    assert inspect_image(jpeg, BIG).width == 256
    png = make_image(tmp_path / "b.png", 9, 9)
    with png.open("ab") as out:
        out.write(b"trailing garbage")
    assert inspect_image(png, BIG).height == 9


def test_exif_thumbnail_end_marker_does_not_hide_truncation(tmp_path: Path) -> None:
    # The EXIF block can embed a whole thumbnail JPEG, with its own EOI, before the scan.
    thumb_path = tmp_path / "thumb.jpg"
    Image.new("RGB", (8, 8), (9, 9, 9)).save(thumb_path, "JPEG")
    exif = Image.Exif()
    exif[0x0112] = 1
    data = noisy_jpeg(
        tmp_path / "a.jpg", exif=exif.tobytes() + thumb_path.read_bytes()
    ).read_bytes()
    assert data.count(b"\xff\xd9") >= 2
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) - 500])
    assert code_of(cut) == "image.truncated"


def test_png_header_claiming_enormous_size_is_refused_without_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(crafted_png(100_000, 100_000))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ItemError, match="100000x100000") as caught:
            inspect_image(bomb, 178_956_970)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == "image.too_large"
    # A hang guard, not a speed target: decoding 10^10 pixels would take minutes.
    assert time.perf_counter() - started < 20.0
    assert peak < 5_000_000


def test_jpeg_header_claiming_enormous_size_is_refused(tmp_path: Path) -> None:
    data = bytearray(make_image(tmp_path / "a.jpg", 32, 24).read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(bytes(data))
    assert code_of(bomb, 178_956_970) == "image.too_large"


def test_max_pixels_is_inclusive(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.png", 20, 10)
    assert inspect_image(path, 200).width == 20
    assert code_of(path, 199) == "image.too_large"


@pytest.mark.parametrize("orientation", [2, 3, 6, 8])
def test_exif_orientation_in_jpeg(tmp_path: Path, orientation: int) -> None:
    info = inspect_image(make_image(tmp_path / "r.jpg", 30, 20, exif_orientation=orientation), BIG)
    assert (info.orientation, info.width, info.height) == (orientation, 30, 20)
    assert info.transposed is (orientation in (5, 6, 7, 8))


def test_exif_orientation_in_png_and_invalid_values(tmp_path: Path) -> None:
    assert inspect_image(make_image(tmp_path / "r.png", exif_orientation=8), BIG).orientation == 8
    assert inspect_image(make_image(tmp_path / "bad.jpg", exif_orientation=9), BIG).orientation == 1
    assert inspect_image(make_image(tmp_path / "none.jpg"), BIG).orientation == 1


def test_corrupt_headers_are_unreadable(tmp_path: Path) -> None:
    png = bytearray(make_image(tmp_path / "a.png").read_bytes())
    png[29] ^= 0xFF  # the IHDR checksum
    bad_crc = tmp_path / "crc.png"
    bad_crc.write_bytes(bytes(png))
    assert code_of(bad_crc) == "image.unreadable"
    no_ihdr = tmp_path / "noihdr.png"
    no_ihdr.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"a\0b") + png_chunk(b"IEND", b"")
    )
    assert code_of(no_ihdr) == "image.unreadable"
    zero = tmp_path / "zero.png"
    zero.write_bytes(crafted_png(0, 10))
    assert code_of(zero) == "image.unreadable"


def test_hostile_jpeg_headers_fail_fast(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0\x00\x02" + b"\x01" * 5_000_000 + b"\xff\xd9")
    many = tmp_path / "many.jpg"
    many.write_bytes(b"\xff\xd8" + b"\xff\xfe\x00\x02" * 1_000_000 + b"\xff\xd9")
    no_frame = tmp_path / "noframe.jpg"
    no_frame.write_bytes(
        b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 100 + b"\xff\xd9"
    )
    started = time.perf_counter()
    assert code_of(junk) == "image.unreadable"
    assert code_of(many) == "image.unreadable"
    assert code_of(no_frame) == "image.unreadable"
    # A hang guard, not a speed target: a segment-by-segment walk must not run away.
    assert time.perf_counter() - started < 20.0


def test_file_digest_matches_hashlib(tmp_path: Path) -> None:
    path = noisy_jpeg(tmp_path / "a.jpg")
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_digest(path, "md5") == hashlib.md5(path.read_bytes()).hexdigest()


# --- the header reading agrees with Pillow's -------------------------------------------
# A plainly well-formed header is read without Pillow, anything odd by Pillow. Each case
# checks that the answer (or error, and any warning) is the one Pillow's own reading of
# the file gives, and the well-formed ones that Pillow was not needed.


def tiff_block(order: str, entries: list[tuple[int, int, int, bytes]], tail: bytes = b"") -> bytes:
    """A TIFF header and one IFD of (tag, type, count, 4-byte value) entries, then ``tail``."""
    end = "<" if order == "II" else ">"
    head = (b"II*\0" if order == "II" else b"MM\0*") + struct.pack(end + "L", 8)
    ifd = struct.pack(end + "H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(end + "HHL", tag, kind, count) + value
    return head + ifd + b"\0\0\0\0" + tail


def short(order: str, value: int) -> bytes:
    return struct.pack("<H" if order == "II" else ">H", value) + b"\0\0"


def long(order: str, value: int) -> bytes:
    return struct.pack("<L" if order == "II" else ">L", value)


def jpeg_with_segment(path: Path, marker: int, payload: bytes) -> Path:
    data = make_image(path, 40, 30).read_bytes()
    segment = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def png_with_chunk(path: Path, kind: bytes, data: bytes, mode: str = "RGB") -> Path:
    Image.new(mode, (7, 9)).save(path, "PNG")
    png = path.read_bytes()
    path.write_bytes(png[:33] + png_chunk(kind, data) + png[33:])  # right after IHDR
    return path


def pillow_reading(path: Path) -> tuple[int, int] | str:
    """Depth and orientation as Pillow's parsers give them, or the error code."""
    kind = "png" if path.read_bytes().startswith(b"\x89PNG") else "jpeg"
    fd = os.open(path, os.O_RDONLY)
    try:
        return imageinfo._pillow_facts(path, FileWindow(fd, os.fstat(fd).st_size), kind)
    except ItemError as exc:
        return exc.code
    finally:
        os.close(fd)


def reading(path: Path) -> tuple[int, int] | str:
    try:
        info = inspect_image(path, BIG)
    except ItemError as exc:
        return exc.code
    return info.depth, info.orientation


def _pillow_not_needed(*args: object) -> tuple[int, int]:
    raise AssertionError("a well-formed header was handed to Pillow")


def agrees_with_pillow(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, alone: bool
) -> tuple[int, int] | str:
    """Read ``path`` as inspect_image does; ``alone``: without Pillow's parsers."""
    with warnings.catch_warnings(record=True) as pillows:
        warnings.simplefilter("always")
        expected = pillow_reading(path)
    with monkeypatch.context() as patch, warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        if alone:
            patch.setattr(imageinfo, "_pillow_facts", _pillow_not_needed)
        found = reading(path)
    assert found == expected
    assert [str(w.message) for w in ours] == [str(w.message) for w in pillows]
    return found


@pytest.mark.parametrize("order", ["II", "MM"])
@pytest.mark.parametrize("container", ["jpeg", "png"])
@pytest.mark.parametrize(
    ("value", "orientation"), [(1, 1), (3, 3), (5, 5), (6, 6), (8, 8), (0, 1), (9, 1)]
)
def test_exif_orientation_in_both_byte_orders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
    container: str,
    value: int,
    orientation: int,
) -> None:
    for kind, raw in ((3, short(order, value)), (4, long(order, value))):  # SHORT and LONG
        block = tiff_block(order, [(0x0112, kind, 1, raw)])
        if container == "jpeg":
            path = jpeg_with_segment(tmp_path / f"{kind}.jpg", 0xE1, b"Exif\0\0" + block)
        else:
            path = png_with_chunk(tmp_path / f"{kind}.png", b"eXIf", block)
        assert agrees_with_pillow(path, monkeypatch, alone=True) == (3, orientation)


@pytest.mark.parametrize("order", ["II", "MM"])
def test_exif_with_other_tags_and_out_of_line_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    model = b"A camera model name\0"
    rational = long(order, 300) + long(order, 1)
    entries = [
        (0x0110, 2, len(model), long(order, 8 + 2 + 4 * 12 + 4)),
        (0x0112, 3, 1, short(order, 6)),
        (0x011A, 5, 1, long(order, 8 + 2 + 4 * 12 + 4 + len(model))),
        (0x0128, 3, 1, short(order, 2)),
    ]
    block = tiff_block(order, entries, model + rational)
    jpeg = jpeg_with_segment(tmp_path / "a.jpg", 0xE1, b"Exif\0\0" + block)
    assert agrees_with_pillow(jpeg, monkeypatch, alone=True) == (3, 6)
    png = png_with_chunk(tmp_path / "a.png", b"eXIf", block)
    assert agrees_with_pillow(png, monkeypatch, alone=True) == (3, 6)


@pytest.mark.parametrize("order", ["II", "MM"])
@pytest.mark.parametrize(
    "entries",
    [
        [(0x0112, 3, 2, 6)],  # two values where one is expected
        [(0x0112, 1, 1, 6)],  # a BYTE
        [(0x0112, 3, 1, 6), (0x0112, 3, 1, 3)],  # the tag twice
        [(0x0112, 99, 1, 6)],  # a type Pillow does not know
        [(0x0110, 2, 40, 0), (0x0112, 3, 1, 6)],  # a value past the block's end
        [(0x011A, 1, 1, 5), (0x0128, 3, 1, 2), (0x0112, 3, 1, 6)],  # a BYTE resolution
    ],
)
def test_odd_exif_blocks_read_as_pillow_reads_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
    entries: list[tuple[int, int, int, int]],
) -> None:
    block = tiff_block(order, [(tag, kind, n, short(order, v)) for tag, kind, n, v in entries])
    jpeg = jpeg_with_segment(tmp_path / "a.jpg", 0xE1, b"Exif\0\0" + block)
    agrees_with_pillow(jpeg, monkeypatch, alone=False)
    png = png_with_chunk(tmp_path / "a.png", b"eXIf", block)
    agrees_with_pillow(png, monkeypatch, alone=False)


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"II*\0",  # cut inside the header
        b"II*\0\x08\0\0\0\x05\0",  # entries promised, not there
        b"MM\0+\0\x08\0\0",  # BigTIFF
        b"Exif\0\0" + tiff_block("II", [(0x0112, 3, 1, short("II", 6))]),  # the prefix twice
        b"not a TIFF header at all",
    ],
)
def test_broken_exif_blocks_read_as_pillow_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: bytes
) -> None:
    jpeg = jpeg_with_segment(tmp_path / "a.jpg", 0xE1, b"Exif\0\0" + block)
    agrees_with_pillow(jpeg, monkeypatch, alone=False)
    png = png_with_chunk(tmp_path / "a.png", b"eXIf", block)
    agrees_with_pillow(png, monkeypatch, alone=False)


def test_two_exif_segments_read_as_pillow_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = b"Exif\0\0" + tiff_block("II", [(0x0112, 3, 1, short("II", 6))])
    path = jpeg_with_segment(tmp_path / "a.jpg", 0xE1, first)
    data = path.read_bytes()
    second = b"Exif\0\0" + tiff_block("MM", [(0x0112, 3, 1, short("MM", 3))])
    segment = b"\xff\xe1" + struct.pack(">H", len(second) + 2) + second
    path.write_bytes(data[:2] + segment + data[2:])
    agrees_with_pillow(path, monkeypatch, alone=False)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({}, (3, 1)),
        ({9: 1}, (1, 1)),  # one component: grey
        ({9: 4}, (4, 1)),  # four: CMYK
        ({9: 2}, "image.unreadable"),  # Pillow opens 1, 3 or 4 components only
        ({4: 12}, "image.unreadable"),  # 12-bit samples
    ],
)
def test_jpeg_depth_from_the_frame_header(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    patch: dict[int, int],
    expected: tuple[int, int] | str,
) -> None:
    path = make_image(tmp_path / "a.jpg", 40, 30)
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    for offset, value in patch.items():
        data[sof + offset] = value
    path.write_bytes(bytes(data))
    alone = not isinstance(expected, str)
    assert agrees_with_pillow(path, monkeypatch, alone=alone) == expected


@pytest.mark.parametrize(
    ("marker", "payload", "alone"),
    [
        (0xDB, b"\x10" + b"\x01" * 128, True),  # a table of 16-bit values
        (0xDB, b"\x00" + b"\x01" * 40, False),  # a table cut short
        (0xE0, b"JFIF\0\x01\x02\x01\x00\x48\x00\x48\0\0", True),
        (0xE0, b"JFIF\0", False),  # too short for its version
        (0xEE, b"Adobe\0\x64\0\0\0\0\x01", True),
        (0xE2, b"ICC_PROFILE\0\x01\x01profile", True),
        (0xE2, b"ICC_PROFILE\0\x01", False),  # too short for its fragment count
        (0xED, b"Photoshop 3.0\x008BIM\x03\xed", False),
        (0xE1, b'http://ns.adobe.com/xap/1.0/\0<x tiff:Orientation="6"/>', True),
        (0xFE, b"a comment", True),
        (0xF1, b"\xff\x02", False),  # a marker Pillow reads without a length
        (0xDE, b"\x08\0", False),  # DHP, read by Pillow as a frame header
    ],
)
def test_jpeg_segments_read_as_pillow_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: int, payload: bytes, alone: bool
) -> None:
    path = jpeg_with_segment(tmp_path / "a.jpg", marker, payload)
    agrees_with_pillow(path, monkeypatch, alone=alone)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("colour", [0, 2, 3, 4, 6, 5])
def test_png_depth_from_ihdr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bits: int, colour: int
) -> None:
    ihdr = struct.pack(">IIBBBBB", 7, 9, bits, colour, 0, 0, 0)
    path = tmp_path / "a.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )
    # The bit depths PNG allows for each colour type; others are refused.
    allowed = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
    valid = bits in allowed.get(colour, ())
    found = agrees_with_pillow(path, monkeypatch, alone=valid)
    channels = {0: 1, 2: 3, 3: 3, 4: 2 if bits == 8 else 4, 6: 4}  # 16-bit LA opens as RGBA
    assert found == ((channels[colour], 1) if valid else "image.unreadable")


@pytest.mark.parametrize(
    ("mode", "kind", "data", "alone"),
    [
        ("P", b"tRNS", b"\x00", True),  # a transparent palette entry: 4 channels
        ("P", b"tRNS", b"", True),
        ("L", b"tRNS", b"\x00\x07", True),
        ("L", b"tRNS", b"\x00", False),  # cut short
        ("RGB", b"tRNS", b"\x00\x01", False),  # cut short
        ("RGBA", b"tRNS", b"", True),
        ("RGB", b"tEXt", b"Software\0a program", True),
        ("P", b"tEXt", b"transparency\0x", False),  # a keyword Pillow files as transparency
        ("RGB", b"tEXt", b"exif\0" + tiff_block("II", [(0x0112, 3, 1, short("II", 6))]), False),
        ("RGB", b"zTXt", b"Comment\0\0" + zlib.compress(b"text"), False),
        ("RGB", b"zTXt", b"Comment\0\1" + zlib.compress(b"text"), False),  # unknown method
        ("RGB", b"iCCP", b"icc\0\0" + zlib.compress(b"not a profile"), False),
        ("RGB", b"iCCP", b"icc\0\1", False),  # unknown method
        ("RGB", b"gAMA", b"\0\0\xb1\x8f", True),
        ("RGB", b"gAMA", b"\0\0\1", False),  # cut short
        ("RGB", b"pHYs", b"\0\0\x0b\x13\0\0\x0b\x13\1", True),
        ("RGB", b"sRGB", b"", False),  # cut short
        ("RGB", b"prVt", b"a private chunk", True),
        ("RGB", b"acTL", b"\0\0\0\1\0\0\0\0", False),
        ("RGB", b"IEND", b"", False),  # the end before the image data
    ],
)
def test_png_chunks_read_as_pillow_reads_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    kind: bytes,
    data: bytes,
    alone: bool,
) -> None:
    path = png_with_chunk(tmp_path / "a.png", kind, data, mode)
    found = agrees_with_pillow(path, monkeypatch, alone=alone)
    if (mode, kind) == ("P", b"tRNS"):
        assert found == (4, 1)


def test_png_chunk_checksums_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = png_with_chunk(tmp_path / "a.png", b"prVt", b"a private chunk")
    data = bytearray(path.read_bytes())
    data[33 + 8 + 15] ^= 0xFF  # the private chunk's checksum
    path.write_bytes(bytes(data))
    assert agrees_with_pillow(path, monkeypatch, alone=False) == "image.unreadable"


def test_headers_larger_than_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Application segments bigger than one read come before the EXIF block and the frame.
    path = make_image(tmp_path / "a.jpg", 40, 30)
    data = path.read_bytes()
    filler = b"".join(b"\xff\xe9" + struct.pack(">H", 65002) + b"z" * 65000 for _ in range(3))
    exif = b"Exif\0\0" + tiff_block("MM", [(0x0112, 3, 1, short("MM", 8))])
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    path.write_bytes(data[:2] + filler + segment + data[2:])
    assert agrees_with_pillow(path, monkeypatch, alone=True) == (3, 8)
    assert inspect_image(path, BIG).size == len(data) + len(filler) + len(segment)


def test_pillows_load_truncated_images_flag_hands_pngs_to_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A program that set the flag (Pillow then skips checks) gets Pillow's own reading.
    from PIL import ImageFile

    path = png_with_chunk(tmp_path / "a.png", b"gAMA", b"\0\0\xb1\x8f")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert agrees_with_pillow(path, monkeypatch, alone=False) == (3, 1)
    with monkeypatch.context() as patch:
        patch.setattr(imageinfo, "_pillow_facts", _pillow_not_needed)
        with pytest.raises(AssertionError):
            reading(path)


def test_plain_headers_are_read_without_importing_pillow(tmp_path: Path) -> None:
    # Pillow is a tenth of a short command's start-up: a check of plain JPEGs and PNGs
    # must not import it (a fresh interpreter, so no other test's import counts).
    make_image(tmp_path / "a.jpg", 40, 30)
    png_with_chunk(tmp_path / "b.png", b"pHYs", b"\0\0\x0b\x13\0\0\x0b\x13\1")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from osai_import.check.imageinfo import inspect_image\n"
        f"for name in ('a.jpg', 'b.png'):\n"
        f"    info = inspect_image(Path({str(tmp_path)!r}) / name, 10**8)\n"
        "    print(info.format, info.width, info.height, info.depth)\n"
        "print(sorted(m for m in sys.modules if m == 'PIL' or m.startswith('PIL.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines() == ["jpeg 40 30 3", "png 7 9 3", "[]"], done.stdout
