"""The ``yolo`` reader: stream a YOLO dataset's images with their boxes in pixels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import Field

from osai_import import (
    Box,
    ConfigPath,
    ImageRecord,
    Problem,
    Reader,
    ReaderOptions,
    Severity,
    SourceError,
)
from osai_import_yolo.labels import Labels, NormalBox, read_labels
from osai_import_yolo.layout import Layout, Source, detect
from osai_import_yolo.paths import (
    is_image_name,
    label_folder,
    locate,
    read_lines,
    relative_key,
    text_names,
    walk_images,
    written_path,
)

# Text files tools leave among labels that are not labels (LabelImg writes classes.txt).
NOT_LABELS = frozenset({"classes.txt", "README.txt", "readme.txt", "notes.txt"})


class YoloOptions(ReaderOptions):
    """Options of the ``yolo`` reader."""

    path: ConfigPath = Field(
        description="the dataset's root folder, or its data.yaml / obj.data file"
    )
    splits: list[str] | None = Field(
        default=None, description="read only these splits (for instance [train, val]); default: all"
    )
    names: list[str] | dict[int, str] | None = Field(
        default=None,
        description="class names, overriding obj.names / data.yaml (list: line N = class N)",
    )
    polygons: bool = Field(
        default=False,
        description="label lines with more than 4 numbers are segmentation polygons; "
        "their bounding box is uploaded",
    )
    clamp_tolerance: float = Field(
        default=1e-3,
        ge=0,
        le=0.05,
        description="normalized values at most this far outside 0..1 are "
        "clamped with a warning (yolo.clamped); farther is an error (yolo.out_of_range)",
    )
    allow_outside_root: bool = Field(
        default=False,
        description="follow paths in data.yaml, obj.data or list files that lead "
        "outside the dataset's folder",
    )


class YoloReader(Reader):
    """Read a YOLO, Darknet or Ultralytics dataset: labels/*.txt of normalized `class cx cy w h`.

    Reads ``images/`` + ``labels/`` (with or without split folders), Darknet's ``obj.data``
    with its ``train.txt`` lists and ``obj_train_data/``, and Ultralytics' ``data.yaml``.
    Keys are image paths relative to the dataset root, so ``images/train/1.jpg`` and
    ``images/val/1.jpg`` are two items. Boxes are converted to pixels with the size read
    from each image file: ``xmin = (cx - w / 2) * width`` and so on.
    """

    name = "yolo"
    Options = YoloOptions

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: YoloOptions = options

    def records(self) -> Iterator[ImageRecord]:
        """Yield every image of every split, split by split, folders and files sorted by name."""
        layout = detect(
            Path(self.opts.path),
            names=self.opts.names,
            splits=self.opts.splits,
            allow_outside=self.opts.allow_outside_root,
        )
        pending = list(layout.notes)
        held: ImageRecord | None = None
        for record in self._all(layout, pending):
            if held is not None:
                yield held
            held = _with(record, pending)
        if held is None:
            splits = ", ".join(repr(s.name) for s in layout.splits if s.name) or "the root"
            notes = "".join(f"; {p.message}" for p in pending)
            raise SourceError(
                f"{layout.root}: no images found in {splits} ({layout.kind} layout){notes}"
            )
        # Notes found after the last record still reach the report, on that record.
        yield _with(held, pending)

    def _all(self, layout: Layout, pending: list[Problem]) -> Iterator[ImageRecord]:
        sources = [(split.name, source) for split in layout.splits for source in split.sources]
        seen: set[str] | None = set() if _may_overlap([s for _, s in sources]) else None
        for split, source in sources:
            images = (
                self._listed(layout, source, pending)
                if source.listing
                else self._walked(layout, source, pending)
            )
            for path, label, problem in images:
                key = relative_key(path, layout.root)
                if seen is not None:
                    if key in seen:
                        pending.append(
                            Problem(
                                "yolo.duplicate_image",
                                Severity.WARNING,
                                f"{key} is listed again in split {split!r}; uploaded once",
                                key,
                            )
                        )
                        continue
                    seen.add(key)
                yield self._record(layout, split, key, path, label, problem)

    def _walked(
        self, layout: Layout, source: Source, pending: list[Problem]
    ) -> Iterator[tuple[Path, Path | None, Problem | None]]:
        assert source.folder is not None
        if not source.folder.is_dir():
            raise SourceError(f"{source.folder}: no such folder; check the dataset's layout")
        walk = walk_images(source.folder) if source.recursive else _top_only(source.folder)
        for folder, files in walk:
            labels_dir = label_folder(folder, layout.root)
            label_files = text_names(labels_dir)
            beside = label_files if labels_dir == folder else text_names(folder)
            stems = {os.path.splitext(f)[0] + ".txt" for f in files}
            orphans = sorted(label_files - stems - layout.known_text - NOT_LABELS)
            if orphans:
                where = relative_key(labels_dir, layout.root)
                pending.append(
                    Problem(
                        "yolo.orphan_label",
                        Severity.WARNING,
                        f"{where}: {len(orphans)} label file(s) without an image in "
                        f"{relative_key(folder, layout.root)}: {', '.join(orphans[:5])}"
                        f"{' ...' if len(orphans) > 5 else ''}; their boxes are not uploaded",
                        where,
                    )
                )
            for file in files:
                txt = os.path.splitext(file)[0] + ".txt"
                label = (
                    labels_dir / txt
                    if txt in label_files
                    else (folder / txt if txt in beside else None)
                )
                yield folder / file, label, None

    def _listed(
        self, layout: Layout, source: Source, pending: list[Problem]
    ) -> Iterator[tuple[Path, Path | None, Problem | None]]:
        assert source.listing is not None
        where = relative_key(source.listing, layout.root)
        for number, text in read_lines(source.listing, where):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            found, tried = locate(
                text,
                [source.listing.parent, layout.root],
                layout.root,
                allow_outside=self.opts.allow_outside_root,
            )
            if found is None or not found.is_file():
                parts = [p for p in written_path(text).parts if p not in ("/", "..", ".")]
                yield (
                    layout.root.joinpath(*parts),
                    None,
                    Problem(
                        "yolo.image_missing",
                        Severity.ERROR,
                        f"{where}:{number}: {text} does not exist (looked at "
                        f"{', '.join(tried)}); fix the line or add the image",
                    ),
                )
                continue
            if not is_image_name(found.name):
                pending.append(
                    Problem(
                        "yolo.not_an_image",
                        Severity.WARNING,
                        f"{where}:{number}: {text} has no image suffix; left out",
                        where,
                    )
                )
                continue
            txt = found.with_suffix(".txt").name
            label = next(
                (
                    d / txt
                    for d in (label_folder(found.parent, layout.root), found.parent)
                    if (d / txt).is_file()
                ),
                None,
            )
            yield found, label, None

    def _record(
        self,
        layout: Layout,
        split: str,
        key: str,
        path: Path,
        label: Path | None,
        problem: Problem | None,
    ) -> ImageRecord:
        problems: list[Problem] = [problem] if problem else []
        boxes: list[Box] = []
        width = height = None
        label_key = relative_key(label, layout.root) if label else None
        if label is not None:
            parsed: Labels = read_labels(
                label,
                label_key or str(label),
                layout.names,
                layout.names_where,
                tolerance=self.opts.clamp_tolerance,
                polygons=self.opts.polygons,
            )
            problems.extend(parsed.problems)
            if parsed.boxes:
                try:
                    with Image.open(path) as image:
                        width, height = image.size
                except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad file
                    problems.append(
                        Problem(
                            "yolo.image_size",
                            Severity.ERROR,
                            f"{key}: cannot read the image's size to place the boxes of "
                            f"{label_key} ({type(exc).__name__}: {exc}); replace the image",
                        )
                    )
                else:
                    boxes = [_pixels(b, width, height) for b in parsed.boxes]
        extras = {"split": split, "label_file": label_key}
        return ImageRecord(
            key=key,
            path=path,
            name=path.name,
            boxes=tuple(boxes),
            width=width,
            height=height,
            extras=extras,
            problems=tuple(problems),
        )


def _pixels(box: NormalBox, width: int, height: int) -> Box:
    """Scale a box to pixels, undoing the rounding of the label text where it shows.

    A corner within the text's own rounding error of a whole pixel is that whole pixel:
    ``0.133333`` of 15 pixels is 1.999995, and the box was drawn at 2.
    """

    def snap(value: float, error: float) -> float:
        whole = round(value)
        return float(whole) if abs(value - whole) <= error + 1e-9 else value

    ux, uy = box.ux * width, box.uy * height
    return Box(
        box.label,
        snap(box.x0 * width, ux),
        snap(box.y0 * height, uy),
        snap(box.x1 * width, ux),
        snap(box.y1 * height, uy),
    )


def _top_only(folder: Path) -> Iterator[tuple[Path, list[str]]]:
    with os.scandir(folder) as listing:
        files = sorted(e.name for e in listing if is_image_name(e.name) and e.is_file())
    if files:
        yield folder, files


def _with(record: ImageRecord, pending: list[Problem]) -> ImageRecord:
    if not pending:
        return record
    problems = (*record.problems, *pending)
    pending.clear()
    return ImageRecord(
        key=record.key,
        path=record.path,
        name=record.name,
        category=record.category,
        boxes=record.boxes,
        width=record.width,
        height=record.height,
        depth=record.depth,
        extras=dict(record.extras),
        problems=problems,
    )


def _may_overlap(sources: list[Source]) -> bool:
    """Return True when one image could come from two sources (so keys must be remembered)."""
    if any(s.listing is not None for s in sources):
        return True
    folders = [Path(os.path.normpath(s.folder)) for s in sources if s.folder is not None]
    recursive = {
        Path(os.path.normpath(s.folder)) for s in sources if s.folder is not None and s.recursive
    }
    return any(
        a != b and (b in recursive and b in a.parents) for a in folders for b in folders
    ) or len(folders) != len(set(folders))
