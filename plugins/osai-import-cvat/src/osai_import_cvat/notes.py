"""Problems of one image, gathered by code: one ``Problem`` per code, listing the first few.

An image with forty skipped polylines gets one warning naming five of them and counting
the rest, not forty warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osai_import import Problem, Severity

SHOWN = 5
"""Details listed per problem; the rest are counted."""

# code -> (severity, what several of them are, what to do)
CODES: dict[str, tuple[Severity, str, str]] = {
    "cvat.image_missing": (
        Severity.ERROR, "images without a file",
        "put the image there, or point `source.images` at the images",
    ),
    "cvat.bad_image": (
        Severity.ERROR, "<image> elements with unreadable attributes",
        "fix the attribute, or export the task from CVAT again",
    ),
    "cvat.bad_shape": (
        Severity.ERROR, "shapes with unreadable attributes",
        "fix the attribute, or delete the shape",
    ),
    "cvat.no_label": (
        Severity.ERROR, "annotations without a label",
        "give them a label in CVAT and export again",
    ),
    "cvat.shape_refused": (
        Severity.ERROR, "shapes of a kind set to `error`",
        "set the kind to `box` or `skip` under `source.shapes`",
    ),
    "cvat.shape_skipped": (
        Severity.WARNING, "shapes of a kind set to `skip`, not uploaded",
        "set the kind to `box` under `source.shapes` to upload their bounds",
    ),
    "cvat.rotated": (
        Severity.WARNING, "rotated boxes, uploaded as the bounds of the rotated rectangle",
        "check them: the box is larger than the rotated object",
    ),
    "cvat.empty_shape": (
        Severity.WARNING, "shapes with nothing to bound (no painted pixel, no visible point)",
        "delete them in CVAT",
    ),
    "cvat.several_tags": (
        Severity.ERROR, "images with several different tags",
        "keep one tag per image, or set `source.tags: first` or `skip`",
    ),
    "cvat.tag_skipped": (
        Severity.WARNING, "tags not used as the category (`tags: skip`)",
        "set `source.tags: category` to use them",
    ),
    "cvat.unknown_element": (
        Severity.WARNING, "elements this reader does not know, left out",
        "check that the file is a CVAT for images / video 1.1 export",
    ),
    "cvat.name_outside": (
        Severity.WARNING, "image names leading outside the images folder",
        "the image was looked for inside the images folder instead",
    ),
    "cvat.frame_missing": (
        Severity.ERROR, "frames with shapes but no image file",
        "add the frames' images, or check `source.images` and `source.frames`",
    ),
    "cvat.mixed_forms": (
        Severity.ERROR, "tracks in a CVAT for images file, not read",
        "export the task in one format: CVAT for images or CVAT for video",
    ),
}


@dataclass
class Notes:
    """The problems found for one image (or one source), kept as details by code."""

    where: str
    subject: str = ""
    """The image the problems are about, named in every message ("" for the source)."""
    found: dict[str, list[str]] = field(default_factory=dict)
    severities: dict[str, Severity] = field(default_factory=dict)

    def add(self, code: str, detail: str, severity: Severity | None = None) -> None:
        """Note one ``detail`` (``line 12: <polyline> 'lane'``) under ``code``."""
        self.found.setdefault(code, []).append(detail)
        if severity is not None:
            self.severities[code] = severity

    def problems(self, item: str = "") -> list[Problem]:
        """Return one Problem per code, in the order the codes were first met."""
        out: list[Problem] = []
        for code, details in self.found.items():
            severity, plural, advice = CODES[code]
            severity = self.severities.get(code, severity)
            about = f" (image {self.subject!r})" if self.subject else ""
            if len(details) == 1:
                message = f"{self.where}:{details[0]}{about}; {advice}"
            else:
                shown = "; ".join(f"line {d}" for d in details[:SHOWN])
                more = f"; and {len(details) - SHOWN} more" if len(details) > SHOWN else ""
                message = (
                    f"{self.where}: {len(details)} {plural}{about}: {shown}{more}; {advice}"
                )
            out.append(Problem(code, severity, message, item))
        return out
