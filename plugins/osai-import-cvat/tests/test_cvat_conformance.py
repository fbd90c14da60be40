"""The cvat reader against osai-import's reader conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osai_import.testing import BrokenSource, ReaderConformance, make_image
from osai_import_cvat import CvatReader

IMAGES = [("a.jpg", 40, 30), ("b.png", 32, 32), ("sub/c.jpg", 20, 40), ("d.jpg", 16, 16)]

SHAPES = {
    "a.jpg": '<box label="cat" xtl="2.5" ytl="3" xbr="20" ybr="25.25" occluded="1"/>'
    '<polygon label="dog" points="1,1;10,2;5,9"/>',
    "b.png": '<mask label="dog" rle="5, 3, 4, 4, 64" left="2" top="4" width="10" height="8"/>',
    "sub/c.jpg": '<ellipse label="cat" cx="10" cy="20" rx="5" ry="8"/><tag label="outdoor"/>',
    "d.jpg": "",
}


def write_sample(root: Path, bad: str = "") -> Path:
    """Write annotations.xml + images/ as CVAT exports a task, with one image per kind."""
    root.mkdir(parents=True, exist_ok=True)
    images = []
    for index, (name, width, height) in enumerate(IMAGES):
        make_image(root / "images" / name, width, height)
        shapes = bad if bad and name == "d.jpg" else SHAPES[name]
        images.append(
            f'  <image id="{index}" name="{name}" width="{width}" height="{height}">\n'
            f"    {shapes}\n  </image>\n"
        )
    (root / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        "  <meta><task><mode>annotation</mode><labels><label><name>cat</name></label>"
        "<label><name>dog</name></label></labels></task></meta>\n" + "".join(images)
        + "</annotations>\n",
        encoding="utf-8",
    )
    return root


class TestCvatConformance(ReaderConformance):
    reader_class = CvatReader

    @pytest.fixture
    def reader_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(write_sample(tmp_path / "cvat"))}

    @pytest.fixture(params=["bad coordinate", "missing image", "two tags", "refused kind"])
    def broken_source(self, request: pytest.FixtureRequest, tmp_path: Path) -> BrokenSource:
        bad = {
            "bad coordinate": '<box label="cat" xtl="x" ytl="1" xbr="5" ybr="5"/>',
            "missing image": "",
            "two tags": '<tag label="indoor"/><tag label="outdoor"/>',
            "refused kind": '<cuboid label="cat" xtl1="1" ytl1="1" xbl1="1" ybl1="5" xtr1="5" '
            'ytr1="1" xbr1="5" ybr1="5" xtl2="2" ytl2="2" xbl2="2" ybl2="6" xtr2="6" ytr2="2" '
            'xbr2="6" ybr2="6"/>',
        }[request.param]
        root = write_sample(tmp_path / "broken", bad)
        options: dict[str, Any] = {"path": str(root)}
        if request.param == "missing image":
            (root / "images" / "d.jpg").unlink()
        if request.param == "refused kind":
            options["shapes"] = {"cuboid": "error"}
        # The line of d.jpg's <image> element, or of its shape just below it.
        line = 14 if request.param == "missing image" else 15
        return BrokenSource(options, f"annotations.xml:{line}")
