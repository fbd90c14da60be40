"""The options of the `csv` reader, checked together so a contradiction is one clear line."""

from __future__ import annotations

import codecs
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from osai_import import ConfigPath, ReaderOptions

BOX_COLUMNS = {
    "xyxy": ("xmin_column", "ymin_column", "xmax_column", "ymax_column"),
    "xywh": ("x_column", "y_column", "width_column", "height_column"),
}
"""The options naming the four box columns, per ``box_format``."""
Column = Annotated[str, Field(min_length=1)] | Annotated[int, Field(ge=0)]
"""A column: its name in the header, or its 0-based number."""


class CsvOptions(ReaderOptions):
    """Options of the `csv` reader; ``path`` is the CSV file."""

    images: ConfigPath | None = Field(
        default=None, description="image root (default: the CSV's folder)"
    )
    format: Literal["rows", "onehot"] = Field(
        default="rows", description="`rows`: labels in cells; `onehot`: one 0/1 column per class"
    )
    header: bool = Field(default=True, description="the first row names the columns")
    delimiter: str = Field(default=",", description="one character, `tab`, or `auto`")
    encoding: str = Field(default="utf-8-sig", description="text encoding of the file")
    decimal: Literal[".", ","] = Field(default=".", description="decimal mark of numbers")
    image_column: Column = "image"
    label_column: Column = "label"
    category_column: Column | None = None
    box_format: Literal["xyxy", "xywh"] = "xyxy"
    xmin_column: Column = "xmin"
    ymin_column: Column = "ymin"
    xmax_column: Column = "xmax"
    ymax_column: Column = "ymax"
    x_column: Column = "x"
    y_column: Column = "y"
    width_column: Column = "width"
    height_column: Column = "height"
    bbox_column: Column | None = Field(default=None, description="one cell with four numbers")
    image_width_column: Column | None = None
    image_height_column: Column | None = None
    extensions: list[str] = Field(
        default_factory=lambda: ["jpg", "jpeg", "png"],
        description="tried in turn when an image cell names a file without its extension",
    )

    @field_validator("delimiter")
    @classmethod
    def _check_delimiter(cls, value: str) -> str:
        value = {"tab": "\t", "\\t": "\t"}.get(value, value)
        if value != "auto" and (len(value) != 1 or value in '"\r\n'):
            raise ValueError(f"delimiter must be one character, `tab` or `auto`, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _check_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; try utf-8, utf-8-sig, cp1252 or latin-1"
            ) from None
        return value

    @field_validator("extensions")
    @classmethod
    def _check_extensions(cls, value: list[str]) -> list[str]:
        return [ext.strip().lstrip(".") for ext in value if ext.strip().lstrip(".")]

    @model_validator(mode="after")
    def _check_columns(self) -> CsvOptions:
        given = self.model_fields_set
        if self.decimal == "," and self.delimiter == ",":
            raise ValueError("decimal `,` needs another delimiter, such as `;`")
        other = "xywh" if self.box_format == "xyxy" else "xyxy"
        wrong = [name for name in BOX_COLUMNS[other] if name in given]
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)} apply to box_format: {other}, not {self.box_format}"
            )
        if self.bbox_column is not None and any(n in given for n in BOX_COLUMNS[self.box_format]):
            raise ValueError("give either bbox_column or the four box columns, not both")
        if self.format == "onehot":
            if not self.header:
                raise ValueError(
                    "format: onehot takes its class names from the header; set header: true"
                )
            cells = {"label_column", "category_column", "bbox_column", *BOX_COLUMNS["xyxy"]}
            extra = sorted(given & (cells | set(BOX_COLUMNS["xywh"])))
            if extra:
                raise ValueError(
                    f"format: onehot reads classes from 0/1 columns; remove {', '.join(extra)}"
                )
        if not self.header:
            if "image_column" not in given:
                raise ValueError("with header: false, give image_column as a 0-based column number")
            named = [n for n in sorted(given) if n.endswith("_column") and _named(self, n)]
            if named:
                raise ValueError(
                    f"with header: false, columns are 0-based numbers; fix {', '.join(named)}"
                )
        return self


def _named(options: CsvOptions, option: str) -> bool:
    return isinstance(getattr(options, option), str)
