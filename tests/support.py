"""Helpers shared by the tests: the checkout's folders, real image files made with Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT / "tests" / "data" / "realdata"
CONFIGS = ROOT / "configs"
DOCS = ROOT / "docs"


def make_image(
    path: Path,
    width: int = 32,
    height: int = 24,
    color: tuple[int, int, int] = (200, 30, 30),
    fmt: str | None = None,
    exif_orientation: int | None = None,
) -> Path:
    """Write a real JPEG or PNG (by ``fmt`` or the suffix) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or ("PNG" if path.suffix.lower() == ".png" else "JPEG")
    image = Image.new("RGB", (width, height), color)
    kwargs: dict[str, object] = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(path, fmt, **kwargs)
    return path
