"""The ``labelme`` reader: stream a folder of LabelMe JSON files as images with boxes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, ClassVar

from osai_import import (
    Detection,
    ImageRecord,
    ItemError,
    Problem,
    Reader,
    Severity,
    SourceError,
)
from osai_import_labelme.boxes import shape_boxes
from osai_import_labelme.detect import detect
from osai_import_labelme.document import Document, NotLabelme, parse_document
from osai_import_labelme.files import Dir, Read, Tree
from osai_import_labelme.images import find_image
from osai_import_labelme.options import LabelmeOptions

_SHOWN = 5  # file names listed in a source problem; the rest are counted


class LabelmeReader(Reader):
    """Read LabelMe JSON files (3.x to 6.x): shapes as boxes, images from files or imageData.

    One item per LabelMe file, keyed by the file's path relative to ``path``. The image
    is the file ``imagePath`` names, else the one embedded as ``imageData`` (decoded only
    when read). Each shape type becomes a box, is skipped with a warning, or is an error,
    by ``shapes:``. The folder may be in an archive or a bucket.
    """

    name = "labelme"
    Options = LabelmeOptions
    any_storage: ClassVar[bool] = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: LabelmeOptions = options
        self._source_problems: tuple[Problem, ...] = ()

    def source_problems(self) -> tuple[Problem, ...]:
        """Return what concerns no single image: JSON files that are not LabelMe files,
        and the shapes left out by ``labels`` and ``ignore_labels`` (complete once the
        read ends)."""
        return self._source_problems

    @classmethod
    def detect(cls, path: Dir) -> Detection:
        """Say whether ``path`` holds LabelMe files: 0.95 when every JSON file looked at has
        ``shapes`` and ``imagePath``; sources per split folder (``train/``, ``val/``)."""
        return detect(path)

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per LabelMe file, folders and files in name order."""
        given = self.opts.path
        if not given.exists():
            raise SourceError(f"{given}: no such file or folder; check `source.path`")
        if given.is_file():
            if given.suffix.lower() != ".json":
                raise SourceError(
                    f"{given}: not a .json file; give a LabelMe JSON file or the folder of them"
                )
            tree = Tree(given.parent)
            files: Iterator[Dir] = iter([tree.root / given.name])
        else:
            tree = Tree(given)
            files = tree.json_files(recursive=self.opts.recursive, exclude=self.opts.exclude)
        left_out: Counter[str] = Counter()
        others: list[str] = []
        self._source_problems = ()
        yielded = 0
        try:
            for path, data in tree.documents(files):
                record = self._record(tree, path, data, left_out, others)
                if record is not None:
                    yielded += 1
                    yield record
        finally:
            self._source_problems = tuple(_summary(tree, left_out, others))
        if not yielded:
            found = f"; {len(others)} JSON file(s) that are not LabelMe files" if others else ""
            raise SourceError(
                f"{given}: no LabelMe JSON files found{found}; check `source.path`"
                f"{'' if self.opts.recursive else ' (recursive: false reads the top folder only)'}"
            )

    def _record(
        self, tree: Tree, path: Dir, data: Read, left_out: Counter[str], others: list[str]
    ) -> ImageRecord | None:
        """Return the record of one JSON file; None when it is not a LabelMe file."""
        key = tree.key(path)
        try:
            if not isinstance(data, bytes):
                reason = data.strerror if isinstance(data, OSError) and data.strerror else data
                raise ItemError("labelme.unreadable", f"{key}: cannot read the file: {reason}")
            document = parse_document(data, key)
        except NotLabelme:
            others.append(key)
            return None
        except ItemError as exc:
            # Named by its key, refused; the check does not open a JSON file as an image.
            return ImageRecord(
                key=key,
                path=path,
                name=f"{path.stem or 'image'}.jpg",
                extras={"json": key},
                problems=(Problem(exc.code, Severity.ERROR, str(exc), key),),
            )
        image = find_image(
            tree,
            path,
            key,
            document,
            allow_outside=self.opts.allow_outside_root,
            prefer_embedded=self.opts.prefer_embedded,
        )
        made = shape_boxes(document.shapes, self.opts, key, left_out)
        problems = [*image.problems, *made.problems]
        problems += [
            Problem("labelme.bad_size", Severity.WARNING, f"{key}: {note}; the image's own "
                    "size is used", key)
            for note in document.notes
        ]
        category = self._category(key, document, problems)
        extras: dict[str, Any] = {
            "json": key,
            "version": document.version,
            "image_path": document.image_path,
            "image": image.source,
            "flags": dict(document.flags),
            "boxes": made.details,
        }
        return ImageRecord(
            key=key,
            path=image.path,
            name=image.name,
            category=category,
            boxes=tuple(made.boxes),
            width=document.width,
            height=document.height,
            extras=extras,
            problems=tuple(problems),
        )

    def _category(self, key: str, document: Document, problems: list[Problem]) -> str | None:
        """Return the image-level category by ``category:``, noting why there is none."""
        rule = self.opts.category
        if rule == "none":
            return None
        if rule == "folder":
            folder = PurePosixPath(key).parent.name
            if not folder:
                problems.append(Problem(
                    "labelme.no_category", Severity.WARNING,
                    f"{key}: is not in a sub-folder, so `category: folder` gives it none", key))
            return folder or None
        wanted = self.opts.category_flags
        true = [
            name for name, value in document.flags.items()
            if value and (name in wanted if wanted is not None else not _reserved(name))
        ]
        if len(true) == 1:
            return true[0]
        if not true:
            problems.append(Problem(
                "labelme.no_category", Severity.WARNING,
                f"{key}: no image flag is set true, so `category: flags` gives it none", key))
        else:
            problems.append(Problem(
                "labelme.several_flags", Severity.ERROR,
                f"{key}: {len(true)} image flags are true ({', '.join(map(repr, true))}); "
                "`category: flags` needs exactly one: untick the others in LabelMe, or list "
                "the flags that are categories in `category_flags`", key))
        return None


def _reserved(flag: str) -> bool:
    """Tell LabelMe's marker flags (``__ignore__``) from categories."""
    return flag.startswith("__") and flag.endswith("__")


def _summary(tree: Tree, left_out: Counter[str], others: list[str]) -> list[Problem]:
    """Return the source-level problems of a read (see ``source_problems``)."""
    problems: list[Problem] = []
    where = str(tree.root)
    if others:
        shown = ", ".join(others[:_SHOWN]) + (
            f" and {len(others) - _SHOWN} more" if len(others) > _SHOWN else "")
        problems.append(Problem(
            "labelme.not_labelme", Severity.WARNING,
            f"{where}: {len(others)} JSON file(s) are not LabelMe files (no shapes, imagePath "
            f"or imageData) and were left out: {shown}; leave them out with `exclude` to "
            "silence this", where))
    if left_out:
        counts = ", ".join(f"{label!r} ({n})" for label, n in sorted(left_out.items()))
        problems.append(Problem(
            "labelme.label_left_out", Severity.WARNING,
            f"{where}: {sum(left_out.values())} shape(s) left out by `labels` / "
            f"`ignore_labels`: {counts}", where))
    return problems




