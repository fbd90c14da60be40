"""The ``labelstudio`` reader: stream a Label Studio export's tasks as image records."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image, UnidentifiedImageError

from osai_import import (
    Detection,
    ImageRecord,
    Problem,
    Reader,
    Severity,
    SourceError,
    SourcePath,
)
from osai_import_labelstudio.detection import detect
from osai_import_labelstudio.images import Found, Images, Unmapped
from osai_import_labelstudio.options import LabelStudioOptions
from osai_import_labelstudio.results import (
    MIN_META,
    Converter,
    Outcome,
    Result,
    full_results,
    min_results,
)
from osai_import_labelstudio.stream import tasks

Location = Path | SourcePath
_LISTED = 5
# An image header larger than this is not worth reading whole for its size.
_HEADER_BYTES = 1 << 20


class LabelStudioReader(Reader):
    """Read a Label Studio export (JSON or JSON-MIN): boxes, polygons, brushes and choices.

    Tasks are streamed from the export in file order. Each task gives one record keyed
    ``task-<id>`` (``<export file>/task-<id>`` when ``path`` is a folder of exports), its
    image found from the task's reference (``/data/upload/...``, ``/data/local-files/?d=``,
    a URL, a ``data:`` URI or a relative path), its boxes converted from percent of
    ``original_width``/``original_height`` to pixels, and its category from its choices.
    """

    name = "labelstudio"
    Options = LabelStudioOptions
    any_storage: ClassVar[bool] = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: LabelStudioOptions = options
        self.convert = Converter(options)
        self._notes: list[Problem] = []
        self._left_out: list[str] = []
        self._images = Images(Path(), {}, keep_upload_prefix=False)

    @classmethod
    def detect(cls, path: Location) -> Detection:
        """Say whether ``path`` is a Label Studio export, or a folder holding some.

        Markers: a JSON list of tasks with ``data`` and ``annotations`` (or
        ``predictions``), 0.95; a JSON-MIN list of flat items with ``rectanglelabels``-style
        regions, 0.9; lower when the images the tasks refer to are not found near the
        export (a reason names the option to set). Each export is one source, proposed
        with the ``images``/``image_prefixes`` that read its images. Opens at most 16
        files, and reads the first 64 KB of each.
        """
        return detect(path)

    def source_problems(self) -> Sequence[Problem]:
        """Return the tasks left out without a record, counted (and bad list items)."""
        notes = list(self._notes)
        if self._left_out:
            notes.append(Problem(
                "labelstudio.unannotated", Severity.WARNING,
                f"{len(self._left_out)} task(s) without a usable annotation left out "
                f"({_shown(self._left_out)}) (unannotated: skip)"))
        return notes

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per task of every export, in file order."""
        self._notes, self._left_out = [], []
        path = _local_absolute(self.opts.path)
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder; check `source.path`")
        folder = path.is_dir()
        exports = _exports(path) if folder else [path]
        root = _local_absolute(self.opts.images) if self.opts.images else (
            path if folder else path.parent)
        prefixes = {k: _local_absolute(v) for k, v in self.opts.image_prefixes.items()}
        self._images = Images(root, prefixes, self.opts.upload_names == "stored",
                              self.opts.storage_options)
        for export in exports:
            prefix = f"{export.name}/" if folder else ""
            for index, group in _grouped(tasks(export)):
                record = self._record(export, prefix, index, group)
                if record is not None:
                    yield record

    def _record(self, export: Location, prefix: str, index: int | None,
                group: list[Any]) -> ImageRecord | None:
        """Return the record of one task (a group of JSON-MIN items), or None to leave it out."""
        task = group[0]
        position = f"#{index + 1}" if index is not None else "(the file's only one)"
        if not isinstance(task, dict):
            self._notes.append(Problem(
                "labelstudio.bad_task", Severity.ERROR,
                f"{export}: task {position} is {type(task).__name__}, not an object; "
                "fix the export"))
            return None
        full = isinstance(task.get("data"), dict) or any(
            k in task for k in ("annotations", "completions", "predictions"))
        task_id = task.get("id")
        ident = str(task_id) if isinstance(task_id, (int, str)) and str(task_id) else None
        key = prefix + (f"task-{ident}" if ident else f"item-{(index or 0) + 1}")
        where = f"{export}: task {ident or position}"
        problems: list[Problem] = []
        if full:
            data = task.get("data")
            reference = data.get(self.opts.image_key) if isinstance(data, dict) else None
            picked, results = self._full_annotation(task, where, problems)
            pointer: list[str | int] = ["data", self.opts.image_key]
        else:
            offset, picked = self._min_item(group)
            task = group[offset]
            reference = task.get(self.opts.image_key)
            results = list(min_results(task, self.opts.image_key, self.opts.choice_fields))
            index = None if index is None else index + offset
            pointer = [self.opts.image_key]
        if picked is None and self.opts.unannotated == "skip":
            self._left_out.append(ident or key)
            return None
        if index is not None:
            pointer.insert(0, index)
        found = self._image(reference, export, pointer, full, key, where, problems)
        outcome = self.convert.convert(results, where, lambda: _header_size(found))
        problems.extend(outcome.problems)
        category = self._category(outcome, where, problems)
        extras = {
            "export": export.name,
            "task_id": task_id if ident else None,
            "annotation_id": picked,
            "image": _short(reference),
        }
        return ImageRecord(
            key=key,
            path=found.path,
            name=found.name,
            category=category,
            boxes=tuple(outcome.boxes),
            width=outcome.size[0] if outcome.size else None,
            height=outcome.size[1] if outcome.size else None,
            extras=extras,
            problems=tuple(Problem(p.code, p.severity, p.message, key) for p in problems),
        )

    def _full_annotation(self, task: dict[str, Any], where: str, problems: list[Problem]
                         ) -> tuple[Any, list[Result | str]]:
        """Pick the annotation (or prediction) of a full export's task; return its results."""
        raw = task.get("annotations", task.get("completions", []))
        annotations = [a for a in raw if isinstance(a, dict)] if isinstance(raw, list) else []
        if not isinstance(raw, list) or len(annotations) != len(raw):
            problems.append(Problem(
                "labelstudio.bad_task", Severity.ERROR,
                f"{where}: `annotations` is not a list of objects; fix the export"))
        done = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
        usable = done
        if self.opts.completed_by is not None:
            usable = [a for a in done if _by(a.get("completed_by"), self.opts.completed_by)]
        picked: dict[str, Any] | None = None
        if self.opts.predictions != "only" and usable:
            truth = [a for a in usable if a.get("ground_truth") is True]
            pool = truth if truth and self.opts.prefer_ground_truth else usable
            picked = pool[0] if self.opts.annotation == "first" else pool[-1]
        predictions = task.get("predictions")
        if picked is None and self.opts.predictions != "never" and isinstance(predictions, list):
            picked = next((p for p in predictions if isinstance(p, dict)), None)
        if picked is None:
            if annotations and not done:
                problems.append(Problem(
                    "labelstudio.cancelled", Severity.WARNING,
                    f"{where}: every annotation of the task was cancelled (skipped); the "
                    "image has no boxes"))
            elif done and not usable:
                others = sorted({str(_user(a.get("completed_by"))) for a in done})
                problems.append(Problem(
                    "labelstudio.other_annotators", Severity.WARNING,
                    f"{where}: no annotation by {self.opts.completed_by!r} (only by "
                    f"{', '.join(others)}); the image has no boxes"))
            return None, []
        return picked.get("id", "prediction"), list(full_results(picked.get("result", [])))

    def _min_item(self, group: list[Any]) -> tuple[int, Any]:
        """Pick the JSON-MIN item of a task (JSON-MIN writes one item per annotation).

        Return its place in the group, and its annotation id (None when it holds no result).
        """
        usable = [n for n, item in enumerate(group) if isinstance(item, dict)]
        if self.opts.completed_by is not None:
            usable = [n for n in usable if _by(group[n].get("annotator"), self.opts.completed_by)]
        if not usable:
            return 0, None
        n = usable[0] if self.opts.annotation == "first" else usable[-1]
        item = group[n]
        has_results = any(k not in MIN_META and k != self.opts.image_key for k in item)
        return n, item.get("annotation_id", "min") if has_results else None

    def _image(self, reference: object, export: Location, pointer: list[str | int],
               full: bool, key: str, where: str, problems: list[Problem]) -> Found:
        """Find the task's image; an error problem, and a placeholder, when it cannot be."""
        fallback = key.rsplit("/", 1)[-1]
        if not isinstance(reference, str):
            problems.append(Problem(
                "labelstudio.no_image", Severity.ERROR,
                f"{where}: no image reference in `{'data.' if full else ''}"
                f"{self.opts.image_key}`; set `image_key` to the data field holding it"))
            return Found(export.parent / fallback, fallback, "none")
        try:
            return self._images.find(reference, export, pointer, fallback)
        except Unmapped as exc:
            problems.append(Problem(
                "labelstudio.image_unmapped", Severity.ERROR, f"{where}: {exc}"))
            return Found(export.parent / fallback, fallback, "none")

    def _category(self, outcome: Outcome, where: str, problems: list[Problem]) -> str | None:
        names = list(dict.fromkeys(name for name, _ in outcome.choices))
        if len(names) <= 1:
            return names[0] if names else None
        rule = self.opts.multiple_choices
        rids = ", ".join(dict.fromkeys(rid for _, rid in outcome.choices))
        severity = Severity.ERROR if rule == "error" else Severity.WARNING
        todo = {"error": "keep one choice, or set multiple_choices: first or none",
                "first": f"{names[0]!r} is used (multiple_choices: first)",
                "none": "no category is set (multiple_choices: none)"}[rule]
        if rule != "first":
            problems.append(Problem(
                "labelstudio.multiple_choices", severity,
                f"{where}: {len(names)} choices {names} (results {rids}); {todo}"))
        return names[0] if rule == "first" else None


def _grouped(stream: Iterator[tuple[int | None, Any]]) -> Iterator[tuple[int | None, list[Any]]]:
    """Yield tasks, JSON-MIN items of one task (adjacent, same id) together."""
    start: int | None = None
    group: list[Any] = []
    try:
        for index, task in stream:
            if group and _joins(group[0], task):
                group.append(task)
                continue
            if group:
                yield start, group
            start, group = index, [task]
    except SourceError:
        if group:  # the task read before the fault still comes first
            yield start, group
        raise
    if group:
        yield start, group


def _joins(first: Any, task: Any) -> bool:
    # JSON-MIN repeats a task once per annotation, with its `annotation_id`.
    return (isinstance(first, dict) and isinstance(task, dict) and "annotation_id" in task
            and "data" not in task and first.get("id") is not None
            and first.get("id") == task.get("id"))


def _by(who: object, wanted: int | str) -> bool:
    if isinstance(who, dict):
        return who.get("id") == wanted or who.get("email") == wanted
    return who == wanted or (isinstance(who, (int, str)) and str(who) == str(wanted))


def _user(who: object) -> object:
    return who.get("email") or who.get("id") if isinstance(who, dict) else who


def _exports(folder: Location) -> list[Location]:
    found = sorted((p for p in folder.iterdir() if p.name.lower().endswith(".json")
                    and not p.name.startswith(".") and p.is_file()), key=lambda p: p.name)
    if not found:
        raise SourceError(f"{folder}: no *.json export in this folder; check `source.path`")
    return found


def _local_absolute(path: Location) -> Location:
    # is_inside compares absolute, normalized paths.
    return path if isinstance(path, SourcePath) else Path(os.path.abspath(path))


def _header_size(found: Found) -> tuple[int, int] | str:
    """Return the image's size from its header, or why it cannot be read."""
    if found.how == "none":
        return "the image cannot be found"
    try:
        with found.path.open("rb") as fh:
            head = fh.read(_HEADER_BYTES)
        with Image.open(io.BytesIO(head)) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return f"the image's header cannot be read ({found.path}: {exc})"
    return int(width), int(height)


def _short(reference: object) -> object:
    if isinstance(reference, str) and reference.lower().startswith("data:"):
        return reference[:40] + "..."
    return reference


def _shown(items: list[str]) -> str:
    text = ", ".join(items[:_LISTED])
    return text + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")
