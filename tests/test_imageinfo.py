"""Header inspection on real files: formats by bytes, sizes, depth, EXIF, truncation, bombs."""

from __future__ import annotations

import hashlib
import random
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image

from osai_import.errors import ItemError
from osai_import.imageinfo import file_digest, inspect_image, sniff_format
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
