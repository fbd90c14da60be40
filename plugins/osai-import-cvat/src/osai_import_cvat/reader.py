"""The ``cvat`` reader: CVAT for images 1.1 and CVAT for video 1.1 XML exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from osai_import import Detection, ImageRecord, Problem, Reader, SourceError
from osai_import_cvat.convert import boxes, category, describe
from osai_import_cvat.detect import detect
from osai_import_cvat.document import Image, Meta, Shape, Task, Track, read_document
from osai_import_cvat.files import (
    Where,
    confine,
    entries,
    find_xml,
    frame_number,
    images_root,
    walk_images,
)
from osai_import_cvat.notes import Notes
from osai_import_cvat.options import CvatOptions


class CvatReader(Reader):
    """Read a CVAT XML export (CVAT for images or CVAT for video 1.1) and its images.

    ``<image>`` elements are yielded as the XML is parsed, one record each, the image
    found by its ``name`` below the images folder (or below ``images/<subset>/`` in a
    project export). Tracks (CVAT for video) are gathered by frame, then each frame's
    image file is yielded with the shapes of the tracks that are not ``outside`` on it.
    Shapes become boxes by the ``shapes`` policies; ``<tag>`` gives the category.
    """

    name = "cvat"
    Options = CvatOptions
    any_storage: ClassVar[bool] = True

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: CvatOptions = options
        self._source_problems: tuple[Problem, ...] = ()

    def source_problems(self) -> tuple[Problem, ...]:
        """Return the last read's problems that belong to no image (complete once it ends).

        Images without a name, track shapes without a frame number, frames with shapes
        but no image file, tracks in a CVAT for images file, unknown top-level elements.
        """
        return self._source_problems

    @classmethod
    def detect(cls, path: Where) -> Detection:
        """Say whether ``path`` holds CVAT XML exports: 0.95 on ``<annotations>`` with
        ``<version>1.1</version>`` and ``<meta><task>`` (or ``<project>``); one source per
        XML file (or per export zip), with ``images`` when they are in an archive."""
        return detect(path)

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per ``<image>`` as parsed, or per frame image for tracks."""
        self._source_problems = ()
        xml = find_xml(self.opts.path)
        run = _Run(self.opts, xml, images_root(xml, self.opts.images))
        try:
            yield from run.read()
        finally:
            self._source_problems = tuple(run.source.problems())


class _Run:
    """One read of one XML file: what the images and the tracks share."""

    def __init__(self, options: CvatOptions, xml: Where, root: Where) -> None:
        self.opts = options
        self.xml = xml
        self.root = root
        self.where = str(xml)
        self.meta = Meta()
        self.source = Notes(self.where)
        self.folders: dict[str, bool] = {}
        self.frames: dict[tuple[str, int], list[Shape]] = {}
        self.track_tasks: dict[str, str] = {}
        self.images = 0
        self.tracks = 0

    def read(self) -> Iterator[ImageRecord]:
        try:
            stream = self.xml.open("rb")
        except OSError as exc:
            raise SourceError(f"{self.xml}: cannot read the XML file ({exc})") from None
        with stream:
            for item in read_document(stream, self.where):
                if isinstance(item, Image):
                    self.images += 1
                    record = self.image(item)
                    if record is not None:
                        yield record
                elif isinstance(item, Track):
                    self.track(item)
                elif isinstance(item, Meta):
                    self.meta = item
                else:
                    self.source.add("cvat.unknown_element", f"{item.line}: <{item.tag}> left out")
        if self.images == 0:
            yield from self.video()
        elif self.frames:
            count = sum(len(shapes) for shapes in self.frames.values())
            self.source.add(
                "cvat.mixed_forms",
                f"{min(s.line for shapes in self.frames.values() for s in shapes)}: "
                f"{self.tracks} <track> element(s) ({count} shape(s)) in a file with <image> "
                "elements; the tracks were not read",
            )

    # CVAT for images

    def image(self, item: Image) -> ImageRecord | None:
        """Return the record of one ``<image>``, None when it cannot be named or is not read."""
        attrib = item.attrib
        subset = attrib.get("subset", "")
        if self.opts.subsets is not None and subset not in self.opts.subsets:
            return None
        name = attrib.get("name", "")
        parts, outside = confine(name)
        if not parts:
            self.source.add(
                "cvat.bad_image",
                f"{item.line}: <image id={attrib.get('id', '')!r}> has no usable name "
                f"({name!r}); it cannot be found or uploaded",
            )
            return None
        notes = Notes(self.where, name)
        if outside:
            notes.add(
                "cvat.name_outside",
                f"{item.line}: the name {name!r} leads outside the images folder; "
                f"{'/'.join(parts)!r} inside it was used",
            )
        key, path = self.locate(parts, subset, name, item.line, notes)
        width = self.size(attrib, "width", item.line, notes)
        height = self.size(attrib, "height", item.line, notes)
        found = boxes(item.shapes, self.opts, notes)
        label = category(item.tags, self.opts, notes)
        for tag, line in item.unknown:
            notes.add("cvat.unknown_element", f"{line}: <{tag}> in <image> left out")
        extras: dict[str, Any] = {
            "id": attrib.get("id"),
            "subset": subset or None,
            "task_id": attrib.get("task_id"),
            "xml_line": item.line,
        }
        return ImageRecord(
            key=key,
            path=path,
            name=path.name,
            category=label,
            boxes=tuple(found),
            width=width,
            height=height,
            extras=extras,
            problems=tuple(notes.problems()),
        )

    def locate(
        self, parts: list[str], subset: str, name: str, line: int, notes: Notes
    ) -> tuple[str, Where]:
        """Return the key and path of an image: below ``<subset>/`` first, then the folder."""
        tries = [[subset, *parts]] if subset and self.is_folder(subset) else []
        tries.append(parts)
        for relative in tries:
            path = self.root.joinpath(*relative)
            if path.is_file():
                return "/".join(relative), path
        path = self.root.joinpath(*tries[0])
        if "\0images" not in self.folders:
            self.folders["\0images"] = (self.root / "images").is_dir()
        hint = (
            f" (the images may be in {self.root / 'images'}: set `source.images` to it)"
            if self.folders["\0images"]
            else ""
        )
        notes.add(
            "cvat.image_missing",
            f"{line}: <image name={name!r}> has no file at {path}{hint}",
        )
        return "/".join(tries[0]), path

    def is_folder(self, subset: str) -> bool:
        if subset not in self.folders:
            self.folders[subset] = (self.root / subset).is_dir()
        return self.folders[subset]

    def size(self, attrib: dict[str, str], name: str, line: int, notes: Notes) -> int | None:
        text = attrib.get(name)
        if text is None:
            return None
        try:
            value = int(text.strip())
        except ValueError:
            value = -1
        if value < 0:
            notes.add(
                "cvat.bad_image",
                f"{line}: <image name={attrib.get('name', '')!r}> has {name}={text!r}, "
                "not a whole number of pixels",
            )
            return None
        return value or None  # 0: the size is not known

    # CVAT for video

    def track(self, item: Track) -> None:
        """Gather a track's shapes by frame, leaving out those ``outside`` the frame."""
        self.tracks += 1
        subset = item.attrib.get("subset", "")
        if self.opts.subsets is not None and subset not in self.opts.subsets:
            return
        if item.attrib.get("task_id"):
            self.track_tasks.setdefault(subset, item.attrib["task_id"])
        for tag, line in item.unknown:
            self.source.add("cvat.unknown_element", f"{line}: <{tag}> in <track> left out")
        track = item.attrib.get("id", "?")
        for shape in item.shapes:
            text = shape.attrib.get("frame", "")
            try:
                frame = int(text.strip())
            except ValueError:
                self.source.add(
                    "cvat.bad_shape",
                    f"{shape.line}: {describe(shape)} of track {track} has frame={text!r}, "
                    "not a frame number; left out",
                )
                continue
            if shape.attrib.get("outside", "0").strip() == "1":
                continue  # the object has left the frame: CVAT's way to end a track
            self.frames.setdefault((subset, frame), []).append(shape)

    def video(self) -> Iterator[ImageRecord]:
        """Yield each frame image of each subset folder with the shapes of its frame."""
        named = list(dict.fromkeys([*self.meta.subsets, *sorted(s for s, _ in self.frames)]))
        subsets = [
            s for s in named
            if s and (self.opts.subsets is None or s in self.opts.subsets) and self.is_folder(s)
        ]
        if not subsets:
            # One folder for every frame: the tracks' subsets name no folder of their own.
            merged: dict[tuple[str, int], list[Shape]] = {}
            for (_subset, frame), shapes in sorted(self.frames.items(), key=lambda i: i[0][1]):
                merged.setdefault(("", frame), []).extend(shapes)
            self.frames = merged
            subsets = [""]
        yielded = 0
        for subset in subsets:
            for record in self.folder_frames(subset):
                yielded += 1
                yield record
        for (subset, frame), shapes in sorted(self.frames.items()):
            folder = self.root / subset if subset else self.root
            tracks = ", ".join(f"line {s.line}" for s in shapes[:3])
            self.source.add(
                "cvat.frame_missing",
                f"{shapes[0].line}: frame {frame} has {len(shapes)} shape(s) ({tracks}) but no "
                f"image in {folder} (frames: {self.mode(self.task(subset))})",
            )
        if yielded == 0 and not self.frames:
            raise SourceError(
                f"{self.where}: no <image>, no track shape and no frame image in {self.root}; "
                "check `source.path` and `source.images`"
            )

    def task(self, subset: str) -> Task:
        wanted = self.track_tasks.get(subset)
        for task in self.meta.tasks:
            if wanted is None or task.id == wanted:
                return task
        return Task()

    def mode(self, task: Task) -> str:
        if self.opts.frames != "auto":
            return self.opts.frames
        return "order" if task.mode == "annotation" else "number"

    def folder_frames(self, subset: str) -> Iterator[ImageRecord]:
        folder = self.root / subset if subset else self.root
        task = self.task(subset)
        mode = self.mode(task)
        if mode == "number":
            files = [
                (number, name, folder / name)
                for name, kind in entries(folder)
                if kind == "file" and (number := frame_number(name)) is not None
            ]
        else:
            files = [
                (task.start_frame + index * task.step, relative, path)
                for index, (relative, path) in enumerate(walk_images(folder))
            ]
        size = task.size if mode == "number" else None
        for frame, relative, path in files:
            shapes = self.frames.pop((subset, frame), [])
            notes = Notes(self.where, f"{subset}/{relative}" if subset else relative)
            found = boxes(shapes, self.opts, notes)
            yield ImageRecord(
                key=f"{subset}/{relative}" if subset else relative,
                path=path,
                name=path.name,
                boxes=tuple(found),
                width=size[0] if size else None,
                height=size[1] if size else None,
                extras={"frame": frame, "subset": subset or None, "frames": mode},
                problems=tuple(notes.problems()),
            )
