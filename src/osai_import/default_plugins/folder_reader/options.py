"""The options of the `folder` reader."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator

from osai_import import ReaderOptions
from osai_import.default_plugins.folder_reader.patterns import PathTemplate

CATEGORY_MODES = ("parent", "path", "none")


class FolderOptions(ReaderOptions):
    """Options of the `folder` reader; ``path`` is the root folder."""

    category: str = Field(
        default="parent",
        description="`parent` (the image's folder name), `path` (its folder path from the "
        "root, joined with `/`), `none`, or a path template such as {split}/{category}/{file}",
    )
    recursive: bool = Field(default=True, description="read sub-folders too")
    extensions: list[str] = Field(
        default_factory=lambda: ["jpg", "jpeg", "png"],
        min_length=1,
        description="image file extensions, any case",
    )
    include: list[str] = Field(
        default_factory=list, description="globs; only matching paths are read"
    )
    exclude: list[str] = Field(
        default_factory=list, description="globs; matching paths are skipped"
    )
    annotations: Literal["sidecar", "none"] = Field(
        default="sidecar", description="`sidecar`: read a same-stem .xml beside each image"
    )
    follow_symlinks: bool = Field(default=False, description="read symlinked files and folders")

    @field_validator("category")
    @classmethod
    def _check_category(cls, value: str) -> str:
        value = value.strip()
        if value in CATEGORY_MODES:
            return value
        if "{" not in value:
            close = difflib.get_close_matches(value, CATEGORY_MODES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"{hint}category must be `parent`, `path`, `none` or a path template such "
                f"as {{split}}/{{category}}/{{file}}, got {value!r}"
            )
        PathTemplate.parse(value)
        return value

    @field_validator("extensions")
    @classmethod
    def _check_extensions(cls, value: list[str]) -> list[str]:
        cleaned = [ext.strip().lstrip(".").lower() for ext in value]
        if not all(cleaned):
            raise ValueError("an extension is empty; write them like `jpg`, `png`")
        return cleaned
