"""The ``yolo`` reader: stream a YOLO dataset's images with their boxes in pixels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from pydantic import Field

from osai_import import (
    Box,
    ConfigPath,
    Detection,
    ImageRecord,
    Problem,
    Reader,
    ReaderOptions,
    Severity,
    SourceError,
    SourcePath,
    is_inside,
    read_all,
)
from osai_import_yolo.detection import detect_yolo
from osai_import_yolo.imagesize import image_size
from osai_import_yolo.labels import Labels, NormalBox, parse_labels
from osai_import_yolo.layout import Layout, Source, detect
from osai_import_yolo.paths import (
    Dir,
    is_image_name,
    label_folder,
    lines_in,
    locate,
    read_lines,
    relative_key,
    written_path,
)

# Text files tools leave among labels that are not labels (LabelImg writes classes.txt).
NOT_LABELS = frozenset({"classes.txt", "README.txt", "readme.txt", "notes.txt"})


class YoloOptions(ReaderOptions):
    """Options of the ``yolo`` reader."""

    path: ConfigPath = Field(
        description="the dataset's root folder, or its dataset YAML / obj.data file; it may be "
        "in an archive or a bucket (`export.zip/dataset`, `s3://bucket/yolo`)"
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


# Images of a dataset in an archive or a bucket go by batches of this many: their label
# files are fetched together (``read_all``) and their sizes read by _SIZERS threads at once,
# where one image after another would wait for a request each.
_BATCH = 256
_SIZERS = 16


class _Item(NamedTuple):
    """An image found: its split, key, path and label file, and a problem found on the way."""

    split: str
    key: str
    path: Dir
    label: Dir | None
    problem: Problem | None


class YoloReader(Reader):
    """Read a YOLO, Darknet or Ultralytics dataset: labels/*.txt of normalized `class cx cy w h`.

    Reads ``images/`` + ``labels/`` (with or without split folders), Darknet's ``obj.data``
    with its ``train.txt`` lists and ``obj_train_data/``, and Ultralytics' ``data.yaml``.
    Keys are image paths relative to the dataset root, so ``images/train/1.jpg`` and
    ``images/val/1.jpg`` are two items. Boxes are converted to pixels with the size read
    from each image file: ``xmin = (cx - w / 2) * width`` and so on. The dataset may be
    in an archive or a bucket.
    """

    name = "yolo"
    Options = YoloOptions
    any_storage: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Say how well ``path`` holds a YOLO dataset (see ``osai_import_yolo.detection``)."""
        return detect_yolo(path)

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: YoloOptions = options

    def records(self) -> Iterator[ImageRecord]:
        """Yield every image of every split, split by split, folders and files sorted by name."""
        given = self.opts.path
        layout = detect(
            given if isinstance(given, SourcePath) else Path(given),
            names=self.opts.names,
            splits=self.opts.splits,
            allow_outside=self.opts.allow_outside_root,
        )
        pending = list(layout.notes)
        held: ImageRecord | None = None
        built = (
            self._stored(layout, pending)
            if isinstance(layout.root, SourcePath)
            else (self._record(layout, item) for item in self._all(layout, pending))
        )
        for record in built:
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

    def _all(self, layout: Layout, pending: list[Problem]) -> Iterator[_Item]:
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
                yield _Item(split, key, path, label, problem)

    def _walked(
        self, layout: Layout, source: Source, pending: list[Problem]
    ) -> Iterator[tuple[Dir, Dir | None, Problem | None]]:
        assert source.folder is not None
        files = layout.files
        if not files.is_dir(source.folder):
            raise SourceError(f"{source.folder}: no such folder; check the dataset's layout")
        for folder, names in files.walk_images(source.folder, recursive=source.recursive):
            labels_dir = label_folder(folder, layout.root)
            label_files = files.text_names(labels_dir)
            beside = label_files if labels_dir == folder else files.text_names(folder)
            stems = {os.path.splitext(f)[0] + ".txt" for f in names}
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
            for file in names:
                txt = os.path.splitext(file)[0] + ".txt"
                label = (
                    labels_dir / txt
                    if txt in label_files
                    else (folder / txt if txt in beside else None)
                )
                yield folder / file, label, None

    def _listed(
        self, layout: Layout, source: Source, pending: list[Problem]
    ) -> Iterator[tuple[Dir, Dir | None, Problem | None]]:
        assert source.listing is not None
        files = layout.files
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
                files=files,
            )
            if found is None or not files.is_file(found):
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
                    if files.is_file(d / txt)
                ),
                None,
            )
            yield found, label, None

    def _record(self, layout: Layout, item: _Item) -> ImageRecord:
        """Build a local image's record: its label file read, its size read if it has boxes."""
        label_key = relative_key(item.label, layout.root) if item.label else None
        parsed: Labels | None = None
        if item.label is not None:
            where = label_key or str(item.label)
            parsed = self._labels(layout, read_lines(item.label, where), where)
        size = image_size(item.path) if parsed is not None and parsed.boxes else None
        return self._finished(item, label_key, parsed, size)

    def _stored(self, layout: Layout, pending: list[Problem]) -> Iterator[ImageRecord]:
        """Yield the records of a dataset in an archive or a bucket, a batch at a time.

        Each item takes the notes found up to it (``pending``), so that every note rides
        on the record it rides on when the dataset is read locally, one image at a time.
        """
        batch: list[tuple[_Item, list[Problem]]] = []
        failure: SourceError | None = None
        with ThreadPoolExecutor(_SIZERS, thread_name_prefix="osai-yolo-size") as pool:
            try:
                for item in self._all(layout, pending):
                    batch.append((item, pending[:]))
                    pending.clear()
                    if len(batch) >= _BATCH:
                        yield from self._batch(layout, batch, pool)
                        batch = []
            except SourceError as exc:
                failure = exc  # the images found before a folder failed still come first
            trailing = pending[:]
            pending.clear()
            yield from self._batch(layout, batch, pool)
            pending.extend(trailing)  # for the last record, as records() does locally
        if failure is not None:
            raise failure

    def _batch(
        self, layout: Layout, batch: list[tuple[_Item, list[Problem]]], pool: ThreadPoolExecutor
    ) -> Iterator[ImageRecord]:
        """Yield a stored batch's records: label files fetched, then sizes read, at once."""
        labels = list(dict.fromkeys(item.label for item, _notes in batch if item.label))
        fetched = dict(zip(labels, read_all(labels), strict=True))
        keys: list[str | None] = []
        parsed: list[Labels | None] = []
        for item, _notes in batch:
            label_key = relative_key(item.label, layout.root) if item.label else None
            keys.append(label_key)
            if item.label is None:
                parsed.append(None)
                continue
            where = label_key or str(item.label)
            parsed.append(self._labels(layout, lines_in(fetched[item.label], where), where))
        sized = list(
            dict.fromkeys(
                item.path for (item, _notes), found in zip(batch, parsed, strict=True)
                if found is not None and found.boxes
            )
        )
        sizes = dict(zip(sized, pool.map(image_size, sized), strict=True))
        for (item, notes), label_key, found in zip(batch, keys, parsed, strict=True):
            size = sizes.get(item.path) if found is not None and found.boxes else None
            yield _with(self._finished(item, label_key, found, size), notes)

    def _labels(self, layout: Layout, lines: Iterator[tuple[int, str]], where: str) -> Labels:
        return parse_labels(
            lines,
            where,
            layout.names,
            layout.names_where,
            tolerance=self.opts.clamp_tolerance,
            polygons=self.opts.polygons,
        )

    def _finished(
        self,
        item: _Item,
        label_key: str | None,
        parsed: Labels | None,
        size: tuple[int, int] | Exception | None,
    ) -> ImageRecord:
        """Return an image's record from its label file's boxes and problems, and its size."""
        problems: list[Problem] = [item.problem] if item.problem else []
        boxes: list[Box] = []
        width = height = None
        if parsed is not None:
            problems.extend(parsed.problems)
            if parsed.boxes:
                if isinstance(size, tuple):
                    width, height = size
                    boxes = [_pixels(b, width, height) for b in parsed.boxes]
                else:
                    problems.append(
                        Problem(
                            "yolo.image_size",
                            Severity.ERROR,
                            f"{item.key}: cannot read the image's size to place the boxes of "
                            f"{label_key} ({type(size).__name__}: {size}); replace the image",
                        )
                    )
        extras = {"split": item.split, "label_file": label_key}
        return ImageRecord(
            key=item.key,
            path=item.path,
            name=item.path.name,
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
    folders = [_normal(s.folder) for s in sources if s.folder is not None]
    recursive = {_normal(s.folder) for s in sources if s.folder is not None and s.recursive}
    return any(
        a != b and (b in recursive and _below(a, b)) for a in folders for b in folders
    ) or len(folders) != len(set(folders))


def _normal(folder: Dir) -> Dir:
    return folder if isinstance(folder, SourcePath) else Path(os.path.normpath(folder))


def _below(path: Dir, folder: Dir) -> bool:
    """Tell whether ``path`` lies strictly below ``folder`` (both normalized)."""
    if isinstance(path, SourcePath) and isinstance(folder, SourcePath):
        return is_inside(folder, path)
    if isinstance(path, Path) and isinstance(folder, Path):
        return folder in path.parents
    return False
