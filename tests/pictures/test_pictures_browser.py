"""The shared drawing module in a real Chromium: boxes land on their pixels, filters hide."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from osai_import.pictures import (
    DrawnBox,
    DrawnProblem,
    Figure,
    figure_html,
    filters_html,
    page_html,
    thumbnail,
)
from tests.browser import drawn, screenshot, select, tolerance


def _image(width: int, height: int, *, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _data_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def test_thumbnail_keeps_the_stored_frame_and_drops_exif() -> None:
    data, width, height = thumbnail(_image(1200, 300, orientation=6), side=480)
    assert (width, height) == (1200, 300)
    with Image.open(io.BytesIO(data)) as small:
        # Orientation 6 would show the photo turned; the thumbnail keeps stored pixels.
        assert small.size == (480, 120)
        assert small.getexif().get(0x0112) is None


def test_boxes_are_drawn_at_their_pixels_and_filters_hide(chromium: Any, tmp_path: Path) -> None:
    figures = [
        Figure("wide.jpg", _data_uri(_image(1600, 400)), 1600, 400,
               [DrawnBox("car", 100, 50, 700, 350), DrawnBox("traffic light", 1500, 0, 1600, 90)],
               category="street"),
        Figure("tall.jpg", _data_uri(_image(300, 900)), 300, 900,
               [DrawnBox("person", 10.5, 20.25, 290, 880)], category="people",
               problems=[DrawnProblem("box.clipped", "warning", "one box was clipped")]),
        Figure("empty.jpg", _data_uri(_image(64, 64)), 64, 64, [], category="street"),
    ]
    body = filters_html(["street", "people", "car", "person", "traffic light"], ["box.clipped"])
    body += '<div class="grid">' + "".join(figure_html(f) for f in figures) + "</div>"
    page = tmp_path / "page.html"
    page.write_text(page_html("boxes", body), encoding="utf-8")
    chromium.get(page.as_uri())

    shown = {f.name: f for f in drawn(chromium)}
    assert set(shown) == {"wide.jpg", "tall.jpg", "empty.jpg"}
    for figure in figures:
        seen = shown[figure.name]
        assert (seen.width, seen.height) == (figure.width, figure.height)
        assert seen.scale > 0
        assert [r.label for r in seen.rects] == [b.label for b in figure.boxes]
        for box, rect in zip(figure.boxes, seen.rects, strict=True):
            for edge in ("xmin", "ymin", "xmax", "ymax"):
                assert abs(getattr(rect, edge) - getattr(box, edge)) <= tolerance(seen), (
                    figure.name, box, rect)
    screenshot(chromium, "pictures-all")

    # A label with a space is one filter value.
    select(chromium, "filter-category", "traffic%20light")
    assert {f.name for f in drawn(chromium) if not f.hidden} == {"wide.jpg"}
    select(chromium, "filter-category", "street")
    assert {f.name for f in drawn(chromium) if not f.hidden} == {"wide.jpg", "empty.jpg"}
    select(chromium, "filter-category", "")
    select(chromium, "filter-problem", "box.clipped")
    assert {f.name for f in drawn(chromium) if not f.hidden} == {"tall.jpg"}
    select(chromium, "filter-problem", "-")
    assert {f.name for f in drawn(chromium) if not f.hidden} == {"wide.jpg", "empty.jpg"}
    assert "2 of 3 shown" in chromium.page_source
