"""The ``source:`` options of the ``cvat`` reader, with their defaults and meanings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from osai_import import ConfigPath, PluginOptions, ReaderOptions

Policy = Literal["box", "skip", "error"]
"""What a shape kind becomes: its bounding box, nothing (a warning), or an error for the image."""

SHAPE_KINDS = ("box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid", "skeleton")
"""Every shape element of CVAT 1.1 that can become a box."""


class ShapePolicies(PluginOptions):
    """How each CVAT shape kind becomes a box: ``box``, ``skip`` (with a warning) or ``error``.

    Regions (boxes, polygons, masks, ellipses, cuboids) become their bounding box; lines
    and point sets do not outline an object, so they are skipped unless asked for.
    """

    box: Policy = Field(default="box", description="<box>: kept as drawn (rotated: its bounds)")
    polygon: Policy = Field(default="box", description="<polygon>: the bounds of its points")
    polyline: Policy = Field(
        default="skip", description="<polyline>: a line, not a region; `box` takes its bounds"
    )
    points: Policy = Field(
        default="skip", description="<points>: key points, not a region; `box` takes their bounds"
    )
    mask: Policy = Field(default="box", description="<mask>: the bounds of its painted pixels")
    ellipse: Policy = Field(default="box", description="<ellipse>: its exact bounds")
    cuboid: Policy = Field(default="box", description="<cuboid>: the bounds of its 8 corners")
    skeleton: Policy = Field(
        default="skip",
        description="<skeleton>: a pose; `box` takes the bounds of its visible points",
    )


class CvatOptions(ReaderOptions):
    """Options of the ``cvat`` reader (``path`` is the XML file or the export holding it)."""

    path: ConfigPath = Field(
        description="annotations.xml, or the folder, zip, tar or bucket prefix holding it "
        "(CVAT's export zip works as it is)",
    )
    images: ConfigPath | None = Field(
        default=None,
        description="where the images are (a folder, a zip, a bucket prefix); default: "
        "images/ beside the XML, else the XML's folder",
    )
    shapes: ShapePolicies = Field(
        default_factory=ShapePolicies,
        description="per shape kind: box, skip (a warning) or error",
    )
    tags: Literal["category", "first", "skip"] = Field(
        default="category",
        description="<tag>: the image's category (several different tags are an error, "
        "cvat.several_tags), the first tag (the others are warned about), or none (warning)",
    )
    subsets: list[str] | None = Field(
        default=None,
        description="read only images and tracks of these subsets (a project export's "
        "Train, Validation...); default: all",
    )
    frames: Literal["auto", "number", "order"] = Field(
        default="auto",
        description="CVAT for video: how a frame number finds its image. number: "
        "frame_000042.png is frame 42 (video tasks); order: the images in name order are "
        "the task's frames (image tasks); auto: by the task's <mode>",
    )
