"""The ``labelme`` reader's options: where the files are, and what each shape type becomes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from osai_import import ConfigPath, PluginOptions, ReaderOptions

Policy = Literal["box", "skip", "error"]
"""What a shape type becomes: its bounding box, left out with a warning, or an error."""

KNOWN_TYPES = (
    "rectangle",
    "polygon",
    "circle",
    "line",
    "linestrip",
    "point",
    "points",
    "mask",
    "oriented_rectangle",
)
"""The shape types LabelMe writes (3.x to 6.x); any other is ``other``."""


class ShapePolicies(PluginOptions):
    """What each LabelMe shape type becomes (``box``, ``skip`` or ``error``)."""

    rectangle: Policy = Field(default="box", description="two opposite corners")
    polygon: Policy = Field(
        default="box", description="the bounds of its vertices (a shape without shape_type "
        "is a polygon, as LabelMe 3.x wrote them)"
    )
    circle: Policy = Field(default="box", description="the circle's bounding square")
    oriented_rectangle: Policy = Field(default="box", description="the bounds of its 4 corners")
    mask: Policy = Field(
        default="box", description="the bounds of the mask's non-zero pixels, placed at the "
        "mask rectangle's top-left point"
    )
    line: Policy = Field(
        default="skip", description="a line has no area; `box` gives the bounds of its ends"
    )
    linestrip: Policy = Field(
        default="skip", description="a polyline has no area; `box` gives its vertices' bounds"
    )
    point: Policy = Field(
        default="skip", description="a point has no area; `box` needs `point_size`"
    )
    points: Policy = Field(
        default="skip", description="a set of points; `box` gives their bounds (each point "
        "a square of `point_size` when set)"
    )
    other: Policy = Field(
        default="error", description="any other shape_type; `box` gives its points' bounds"
    )

    def of(self, shape_type: str) -> Policy:
        """Return the policy of ``shape_type`` (``other`` for a type LabelMe does not write)."""
        field = shape_type if shape_type in KNOWN_TYPES else "other"
        policy: Policy = getattr(self, field)
        return policy


class LabelmeOptions(ReaderOptions):
    """Options of the ``labelme`` reader."""

    path: ConfigPath = Field(
        description="a folder of LabelMe JSON files, or one .json file; it may be in an "
        "archive or a bucket (`export.zip/labels`, `s3://bucket/labelme`)"
    )
    recursive: bool = Field(default=True, description="read the JSON files of sub-folders too")
    exclude: list[str] = Field(
        default_factory=list,
        description="glob patterns of JSON files to leave out, relative to `path` "
        "(`*/coco_*.json`, `meta.json`)",
    )
    shapes: ShapePolicies = Field(
        default_factory=ShapePolicies,
        description="per shape type: `box` (its bounding box), `skip` (left out, with a "
        "warning), or `error` (the image is not uploaded)",
    )
    point_size: float | None = Field(
        default=None,
        gt=0,
        description="side in pixels of the square box a point becomes (needed for "
        "`shapes.point: box`)",
    )
    groups: Literal["merge", "separate"] = Field(
        default="merge",
        description="merge: shapes sharing a label and a group_id are one object, one box "
        "around all of them (as labelme2coco does); separate: a box per shape",
    )
    category: Literal["none", "flags", "folder"] = Field(
        default="none",
        description="the image-level category: none; flags (the one image flag set true); "
        "folder (the JSON file's parent folder)",
    )
    category_flags: list[str] | None = Field(
        default=None,
        description="with `category: flags`: only these flags are categories (default: "
        "every flag not named like `__ignore__`)",
    )
    labels: list[str] | None = Field(
        default=None,
        description="keep only shapes with these labels (after `rename`); the others are "
        "left out and counted in a warning",
    )
    rename: dict[str, str] = Field(
        default_factory=dict, description="label renames, `{old: new}`, applied first"
    )
    ignore_labels: list[str] = Field(
        default_factory=lambda: ["__ignore__"],
        description="labels that mark regions to ignore (LabelMe's `__ignore__`): left out",
    )
    prefer_embedded: bool = Field(
        default=False,
        description="use `imageData` even when the file `imagePath` names exists (the "
        "shapes were drawn on imageData when LabelMe re-encoded a rotated photo)",
    )
    allow_outside_root: bool = Field(
        default=False,
        description="follow an `imagePath` that leads outside the dataset folder "
        "(`../other/a.jpg`, `/home/me/a.jpg`)",
    )

    @model_validator(mode="after")
    def _point_boxes_need_a_size(self) -> LabelmeOptions:
        if self.shapes.point == "box" and self.point_size is None:
            raise ValueError(
                "shapes.point: box needs point_size (the side, in pixels, of the square "
                "each point becomes); or set shapes.point to skip or error"
            )
        return self
