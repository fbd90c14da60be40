"""Check one record: its image header, its name, its labels and its boxes, under the policy.

``Checker.check`` turns an ``ImageRecord`` into a ``CheckedItem``: sizes from the header,
boxes in the stored pixel frame and per the ``check:`` policy, the name in NFC and
settled against the stream's ``NamePlan``, and every problem under its stable code
(``osai_import.codes``). It keeps no state, so one instance serves many threads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from osai_import.check.imageinfo import ImageInfo, inspect_image
from osai_import.check.names import NamePlan
from osai_import.check.rules import (
    check_boxes,
    clean_label,
    fixed_extension,
    invalid_name_reason,
    label_problem,
    normalize,
    to_stored_frame,
)
from osai_import.config.models import CheckConfig
from osai_import.errors import ItemError
from osai_import.records import Box, ImageRecord, Problem, Severity
from osai_import.source.files import Facts

_ORIENTATION_WORDS = {
    2: "mirrored left-right",
    3: "rotated 180°",
    4: "mirrored top-bottom",
    5: "mirrored and rotated 90° counter-clockwise",
    6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise",
    8: "rotated 90° counter-clockwise",
}


@dataclass(frozen=True)
class CheckedItem:
    """A record after checking: sizes from the header, boxes per policy, name NFC.

    ``record`` is ready for the encoder and the upload (its ``problems`` are still the
    reader's own); ``problems`` holds every problem of the item, the reader's included;
    ``size`` is the file's size in bytes (0 when it is missing).
    """

    record: ImageRecord
    problems: tuple[Problem, ...]
    size: int
    mtime_ns: int | None = None  # the file's, when its header was read
    facts: Facts | None = None  # the file the check read, which the upload must send

    @property
    def ok(self) -> bool:
        """Return True when no problem is an error (the item can be uploaded)."""
        return all(p.severity is not Severity.ERROR for p in self.problems)


class _PathRefused(Exception):
    """The reader already refused this item's path: do not open it."""


class Checker:
    """Check one record at a time; stateless, so one instance serves many threads."""

    def __init__(self, policy: CheckConfig) -> None:
        self.policy = policy

    def check(self, record: ImageRecord, *, names: NamePlan | None = None) -> CheckedItem:
        """Check a record; with ``names`` (a filled NamePlan) also settle its remote name."""
        item = record.key
        problems = [p if p.item else replace(p, item=item) for p in record.problems]
        name = normalize(record.name)
        if names is not None:
            name, collision = names.resolve(record)
            if collision is not None:
                problems.append(collision)
            repeats = names.repeats(record)
            refused = any(p.severity is Severity.ERROR for p in problems)
            if repeats > 1 and not refused:
                # The journal tracks items by key: two items under one key would share one
                # state, and a rerun could take one for the other and never send it.
                problems.append(
                    Problem(
                        "record.duplicate",
                        Severity.ERROR,
                        f"the source lists this item {repeats} times (same key, under other "
                        "names), so no one can tell which entry its labels belong to; give "
                        "every entry its own id or path",
                        item,
                    )
                )
        reason = invalid_name_reason(name)
        if reason:
            problems.append(
                Problem(
                    "name.invalid",
                    Severity.ERROR,
                    f"the remote name {name!r} {reason}; rename the file (or fix the name in the "
                    "source)",
                    item,
                )
            )
        category = self._category(record, problems)
        # An item the reader already refused (a path outside the dataset, an image it could
        # not find, an annotation it could not read) is not uploaded whatever its image
        # holds, and its `path` may point somewhere harmless: opening it would only add a
        # second, confusing error (`image.missing` after `labelme.image_missing`).
        path_refused = any(
            p.severity is Severity.ERROR and p.code.startswith("path.") for p in problems
        ) or any(p.severity is Severity.ERROR for p in record.problems)
        try:
            if path_refused:
                raise _PathRefused
            info = inspect_image(record.path, self.policy.max_pixels)
        except (ItemError, _PathRefused) as exc:
            if isinstance(exc, ItemError):
                problems.append(Problem(exc.code, Severity.ERROR, str(exc), item))
            boxes, box_problems = check_boxes(
                record.boxes, None, None, self.policy.boxes_outside, item
            )
            checked = replace(record, name=name, category=category, boxes=boxes)
            return CheckedItem(checked, tuple(problems + box_problems), _size_or_zero(record))
        boxes = self._frame(record, info, problems)
        self._orientation(record, info, bool(boxes), problems)
        new_name = fixed_extension(name, info.format)
        if new_name is not None:
            problems.append(
                Problem(
                    "image.extension_mismatch",
                    Severity.WARNING,
                    f"{record.path} holds {info.format.upper()} data but its name {name!r} says "
                    f"otherwise; it is uploaded as {new_name!r}. Rename the file to match",
                    item,
                )
            )
            name = new_name
        boxes, box_problems = check_boxes(
            boxes, info.width, info.height, self.policy.boxes_outside, item
        )
        checked = replace(
            record,
            name=name,
            category=category,
            boxes=boxes,
            width=info.width,
            height=info.height,
            depth=info.depth,
        )
        return CheckedItem(
            checked, tuple(problems + box_problems), info.size, info.mtime_ns, info.facts
        )

    @staticmethod
    def _category(record: ImageRecord, problems: list[Problem]) -> str | None:
        if record.category is None:
            return None
        category = clean_label(record.category) or None
        if category is not None and label_problem(category):
            problems.append(
                Problem(
                    "label.invalid",
                    Severity.ERROR,
                    f"the category {category!r} {label_problem(category)}; fix it in the source",
                    record.key,
                )
            )
        return category

    @staticmethod
    def _frame(record: ImageRecord, info: ImageInfo, problems: list[Problem]) -> tuple[Box, ...]:
        """Compare the size the source states with the header; return boxes in the stored frame."""
        stated_w, stated_h = record.width, record.height
        if (stated_w is None or stated_w == info.width) and (
            stated_h is None or stated_h == info.height
        ):
            return record.boxes
        if info.transposed and (stated_w, stated_h) == (info.height, info.width):
            # The source measured the upright image, so its boxes are in that frame too.
            if record.boxes:
                message = (
                    f"the source gives {stated_w}x{stated_h}, the size of the image as shown "
                    f"after its EXIF orientation {info.orientation}, while {record.path} "
                    f"stores {info.width}x{info.height} pixels: its boxes were converted to the "
                    "stored pixel frame that OSAI receives. Check a few of them on the platform"
                )
                problems.append(Problem("box.exif_frame", Severity.WARNING, message, record.key))
            return tuple(
                to_stored_frame(box, info.orientation, info.width, info.height)
                for box in record.boxes
            )
        severity = Severity.ERROR if record.boxes else Severity.WARNING
        consequence = (
            "its boxes may be scaled for another image; fix the size or the boxes in the "
            "source, or replace the image with the one that was annotated"
            if record.boxes
            else "the header's size is used; fix the size in the source"
        )
        problems.append(
            Problem(
                "image.size_mismatch",
                severity,
                f"the source says {_dim(stated_w)}x{_dim(stated_h)} but {record.path} is "
                f"{info.width}x{info.height} pixels: {consequence}",
                record.key,
            )
        )
        return record.boxes

    def _orientation(
        self, record: ImageRecord, info: ImageInfo, has_boxes: bool, problems: list[Problem]
    ) -> None:
        if info.orientation == 1:
            return
        shown = _ORIENTATION_WORDS.get(info.orientation, f"orientation {info.orientation}")
        if not has_boxes:
            problems.append(
                Problem(
                    "image.exif_orientation",
                    Severity.WARNING,
                    f"{record.path} has EXIF orientation {info.orientation} (viewers show it "
                    f"{shown}); it is uploaded unchanged, which is harmless without boxes",
                    record.key,
                )
            )
            return
        error = self.policy.exif_orientation == "error"
        problems.append(
            Problem(
                "image.exif_orientation",
                Severity.ERROR if error else Severity.WARNING,
                f"{record.path} has EXIF orientation {info.orientation} (viewers show it {shown}); "
                f"its boxes are taken in the stored {info.width}x{info.height} pixel frame, as "
                "most annotation tools write them. If they were drawn on the upright image, "
                "re-save the image upright without the EXIF tag (e.g. with `exiftran -ai`)"
                + ("" if error else "; set check.exif_orientation: error to refuse such images"),
                record.key,
            )
        )


def _dim(value: int | None) -> str:
    return "?" if value is None else str(value)


def _size_or_zero(record: ImageRecord) -> int:
    try:
        return record.path.stat().st_size if record.path.is_file() else 0
    except OSError:
        return 0
