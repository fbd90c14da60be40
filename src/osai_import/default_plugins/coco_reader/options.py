"""The options of the `coco` reader."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from osai_import import ConfigPath, ReaderOptions


class CocoOptions(ReaderOptions):
    """Options of the `coco` reader (``path`` is the COCO JSON file)."""

    images: ConfigPath | None = Field(
        default=None,
        description="folder that `file_name` values are relative to (default: the JSON "
        "file's folder)",
    )
    drop_empty: bool = Field(
        default=False, description="leave out images that end up with no box"
    )
    iscrowd: Literal["skip", "box", "difficult"] = Field(
        default="skip",
        description="annotations with iscrowd=1: leave them out, keep them as boxes, or keep "
        "them as boxes marked difficult",
    )
    image_category: Literal["none", "single", "largest"] = Field(
        default="none",
        description="image-level category: none; the label shared by all the image's boxes "
        "(`single`); or the label of its largest box (`largest`)",
    )
