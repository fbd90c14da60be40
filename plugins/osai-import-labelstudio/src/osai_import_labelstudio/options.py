"""The options of the ``labelstudio`` reader, with their documented defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from osai_import import ConfigPath, ReaderOptions

Policy = Literal["box", "skip", "error"]

# The result types that have a place in the image, so a box: what each becomes is in
# the README ("Result types").
BOXABLE = ("rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels",
           "brushlabels", "labels")

# A key point has no extent: its box would be the dot Label Studio draws, rarely wanted.
DEFAULT_POLICIES: dict[str, Policy] = {
    "rectanglelabels": "box",
    "polygonlabels": "box",
    "ellipselabels": "box",
    "brushlabels": "box",
    "labels": "box",
    "keypointlabels": "skip",
}


class LabelStudioOptions(ReaderOptions):
    """Options of the ``labelstudio`` reader (``path`` is the export, or a folder of them)."""

    path: ConfigPath = Field(
        description="the export file (JSON or JSON-MIN), or a folder holding exports (every "
        "*.json in it, by name); it may be in an archive or a bucket"
    )
    images: ConfigPath | None = Field(
        default=None,
        description="the folder that relative image references, /data/upload/ and "
        "/data/local-files/?d= are read from (default: the export's folder); it may be an "
        "archive or a bucket prefix",
    )
    image_prefixes: dict[str, ConfigPath] = Field(
        default_factory=dict,
        description="image reference prefixes and the folder (or URL) each stands for, "
        "tried longest first before the defaults, e.g. {'/data/upload/': 'media/upload', "
        "'http://ls.example:8080/data/upload/': 'media/upload'}; the rest of the reference "
        "is URL-decoded and joined to the folder",
    )
    image_key: str = Field(
        default="image",
        min_length=1,
        description="the task data field holding the image: `image` reads `data.image` of "
        "a full export and `image` of a JSON-MIN one (`data.img` is taken as `img`)",
    )
    upload_names: Literal["original", "stored"] = Field(
        default="original",
        description="the remote name of an uploaded file (/data/upload/3/1a2b3c4d-cat.jpg): "
        "`original` drops the 8-hex prefix Label Studio adds (cat.jpg), `stored` keeps it",
    )
    annotation: Literal["first", "last"] = Field(
        default="first",
        description="which of a task's annotations (annotators) to use: the first or the last "
        "in the export's order, among those not cancelled and, with `completed_by`, by "
        "that user; a ground-truth one is used first when `prefer_ground_truth`",
    )
    prefer_ground_truth: bool = Field(
        default=True,
        description="use an annotation marked ground_truth when a task has one",
    )
    completed_by: int | str | None = Field(
        default=None,
        description="use only annotations by this user: a user id (number) or an email",
    )
    predictions: Literal["never", "fallback", "only"] = Field(
        default="never",
        description="use a task's first prediction: never, when it has no usable annotation "
        "(`fallback`), or instead of annotations (`only`)",
    )
    unannotated: Literal["upload", "skip"] = Field(
        default="upload",
        description="tasks with no usable annotation: upload the image without boxes, or "
        "leave it out (counted in one warning, labelstudio.unannotated)",
    )
    results: dict[str, Policy] = Field(
        default_factory=dict,
        description="per result type, `box` (its bounding box), `skip` (left out with a "
        "warning) or `error` (the image is refused); merged over the defaults: "
        "rectanglelabels, polygonlabels, ellipselabels, brushlabels, labels: box; "
        "keypointlabels: skip; any other type (textarea, rating, ...): skip",
    )
    choices_from: list[str] | None = Field(
        default=None,
        description="names (from_name) of the Choices controls that give the image's "
        "category; default: every Choices control",
    )
    multiple_choices: Literal["error", "first", "none"] = Field(
        default="error",
        description="an image with several choices: an error (labelstudio.multiple_choices), "
        "the first choice, or no category (with a warning)",
    )
    choice_fields: list[str] = Field(
        default_factory=lambda: ["choice", "choices"],
        description="JSON-MIN only: fields whose plain string value is a choice (JSON-MIN "
        "writes a single choice as a bare string, like a data field)",
    )
    missing_size: Literal["read", "error"] = Field(
        default="read",
        description="results without original_width/original_height: read the image's "
        "header for its size, or refuse the image (labelstudio.image_size)",
    )

    @field_validator("image_key")
    @classmethod
    def _data_key(cls, value: str) -> str:
        return value.removeprefix("data.") or value

    @field_validator("results")
    @classmethod
    def _policies(cls, value: dict[str, Policy]) -> dict[str, Policy]:
        for kind, policy in value.items():
            if kind == "choices":
                raise ValueError("choices are set by `multiple_choices` and `choices_from`")
            if policy == "box" and kind not in BOXABLE:
                raise ValueError(
                    f"{kind}: a result of this type has no box; use skip or error (box is for "
                    f"{', '.join(BOXABLE)})"
                )
        return value

    def policy(self, kind: str) -> Policy:
        """Return what to do with a result of type ``kind``."""
        return self.results.get(kind) or DEFAULT_POLICIES.get(kind, "skip")
