"""The ``voc`` reader: stream a Pascal VOC folder's images with their boxes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import Field

from osai_import import (
    ConfigPath,
    Detection,
    ImageRecord,
    ItemError,
    Problem,
    Reader,
    ReaderOptions,
    Severity,
    SourceError,
    SourcePath,
    VocAnnotation,
    VocResult,
    parse_voc,
    parse_voc_batch,
)
from osai_import_voc.detection import detect_voc
from osai_import_voc.layout import (
    IMAGE_SUFFIXES,
    Dir,
    Files,
    VocFolder,
    find,
    image_for,
    read_lines,
    safe_id,
)

# Items of a folder in an archive or a bucket go by batches of this many: their XML files
# are fetched at once (``parse_voc_batch``), not one request after another.
_BATCH = 256


class _Item(NamedTuple):
    """An item to read: its id, its split, and the list line that named it."""

    item_id: str
    split: str | None
    listed: str | None


class VocReaderOptions(ReaderOptions):
    """Options of the ``voc`` reader."""

    path: ConfigPath = Field(
        description="the VOC folder (holding Annotations/ and JPEGImages/), or VOCdevkit/; "
        "it may be in an archive or a bucket (`export.zip/VOC2012`, `s3://bucket/voc`)"
    )
    split: str | list[str] | None = Field(
        default=None,
        description="the ImageSets/Main split list(s) to read, such as `train` or "
        "[train, val]; default: every split list, or every annotation when there are none",
    )
    unannotated: Literal["include", "skip"] = Field(
        default="include",
        description="images without an annotation file: upload them without "
        "boxes (`include`) or leave them out (`skip`)",
    )
    annotations: str = Field(
        default="Annotations", min_length=1,
        description="the annotations folder, in path (`.`: path itself, XML beside images)"
    )
    images: str = Field(default="JPEGImages", min_length=1,
        description="the images folder, in path (`.`: path itself)")


class VocReader(Reader):
    """Read a Pascal VOC folder: Annotations/*.xml + JPEGImages/, optional ImageSets/Main splits.

    With split lists, the items are the ids they list (each once, in list order);
    without, every ``Annotations/*.xml`` (sorted), then every image no annotation claimed.
    Coordinates, ``difficult``, ``truncated``, ``occluded`` and ``pose`` are kept as
    written; ``<part>`` boxes are not uploaded (warning ``voc.part_ignored``). The folder
    may be in an archive or a bucket.
    """

    name = "voc"
    Options = VocReaderOptions
    any_storage: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Say how well ``path`` holds a VOC folder (see ``osai_import_voc.detection``)."""
        return detect_voc(path)

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: VocReaderOptions = options

    def records(self) -> Iterator[ImageRecord]:
        """Yield the items of the chosen splits, or of the whole folder."""
        path = self.opts.path
        root = path if isinstance(path, SourcePath) else Path(path)
        given = frozenset(self.opts.model_fields_set & {"annotations", "images"})
        voc = find(root, self.opts.annotations, self.opts.images, given)
        wanted = [self.opts.split] if isinstance(self.opts.split, str) else self.opts.split
        if wanted is not None:
            missing = [w for w in wanted if w not in voc.lists]
            if missing:
                known = ", ".join(voc.lists) or "none: there is no ImageSets/Main/<split>.txt"
                raise SourceError(
                    f"{voc.root}: no split list {', '.join(map(repr, missing))} (splits: {known}); "
                    "fix source.split"
                )
        if voc.lists:
            yield from self._built(voc, self._listed(voc, wanted or list(voc.lists)))
        else:
            yield from self._scanned(voc)

    def _listed(self, voc: VocFolder, splits: list[str]) -> Iterator[ImageRecord | _Item]:
        """Yield the items the split lists name; a bad id as its error record."""
        seen: set[str] = set()
        for split in dict.fromkeys(splits):
            where = _relative(voc.lists[split], voc.root)
            for number, text in read_lines(voc.lists[split], where):
                if not text or text.startswith("#"):
                    continue
                raw = text.split()[0]
                try:
                    item_id = safe_id(raw, f"{where}:{number}")
                except ItemError as exc:
                    yield ImageRecord(
                        key=f"{where}:{number}",
                        path=voc.images / "invalid-id",
                        name="invalid-id",
                        problems=(Problem(exc.code, Severity.ERROR, str(exc)),),
                    )
                    continue
                if item_id in seen:
                    continue
                seen.add(item_id)
                yield _Item(item_id, split, f"{where}:{number}")

    def _scanned(self, voc: VocFolder) -> Iterator[ImageRecord]:
        if not voc.files.is_dir(voc.annotations) and not voc.files.is_dir(voc.images):
            raise SourceError(
                f"{voc.root}: neither {voc.annotations.name}/ nor {voc.images.name}/ exists"
            )
        ids = list(dict.fromkeys(_stems(voc.annotations, (".xml", ".XML"), voc.files)))
        claimed = set(ids)
        used: set[str] = set()
        for record in self._built(voc, (_Item(item_id, None, None) for item_id in ids)):
            used.add(record.path.name)
            yield record
        if self.opts.unannotated == "skip":
            return
        for name in _files(voc.images, IMAGE_SUFFIXES, voc.files):
            if name in used:
                continue
            stem = os.path.splitext(name)[0]
            key = name if stem in claimed else stem
            yield ImageRecord(
                key=key,
                path=voc.images / name,
                name=name,
                extras={"split": None, "annotation": None, "id": stem},
            )

    def _built(self, voc: VocFolder, items: Iterable[ImageRecord | _Item]) -> Iterator[ImageRecord]:
        """Yield the records of ``items``: one by one locally, a batch at a time when stored."""
        if not isinstance(voc.root, SourcePath):
            for item in items:
                record = item if isinstance(item, ImageRecord) else self._item(voc, *item)
                if record is not None:
                    yield record
            return
        batch: list[ImageRecord | _Item] = []
        failure: SourceError | None = None
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= _BATCH:
                    yield from self._batch(voc, batch)
                    batch = []
        except SourceError as exc:
            failure = exc  # the items listed before a list failed still come first
        yield from self._batch(voc, batch)
        if failure is not None:
            raise failure

    def _batch(self, voc: VocFolder, batch: list[ImageRecord | _Item]) -> Iterator[ImageRecord]:
        """Yield a stored batch's records, its XML files fetched and parsed together first."""
        jobs: list[tuple[str | SourcePath, str]] = []
        for item in batch:
            if isinstance(item, _Item):
                xml, xml_key, found = _xml_of(voc, item.item_id)
                if found and isinstance(xml, SourcePath):
                    jobs.append((xml, xml_key))
        parsed = dict(zip([path for path, _key in jobs], parse_voc_batch(jobs), strict=True))
        for item in batch:
            record = item if isinstance(item, ImageRecord) else self._item(voc, *item, parsed)
            if record is not None:
                yield record

    def _item(
        self,
        voc: VocFolder,
        item_id: str,
        split: str | None,
        listed: str | None,
        parsed: dict[str | SourcePath, VocResult] | None = None,
    ) -> ImageRecord | None:
        xml, xml_key, found = _xml_of(voc, item_id)
        extras = {"split": split, "annotation": xml_key if found else None, "id": item_id}
        if not found:
            image, tried = image_for(voc.images, item_id, None, voc.files)
            if image is not None:
                if self.opts.unannotated == "skip":
                    return None
                return ImageRecord(key=item_id, path=image, name=image.name, extras=extras)
            return ImageRecord(
                key=item_id,
                path=voc.images / f"{item_id}.jpg",
                name=f"{_base(item_id)}.jpg",
                extras=extras,
                problems=(
                    Problem(
                        "voc.missing",
                        Severity.ERROR,
                        f"{listed}: {item_id!r} has neither {xml_key} nor an image in "
                        f"{voc.images.name}/ (looked for {_looked(tried)}); remove the line or "
                        "add the files",
                    ),
                ),
            )
        problems: list[Problem] = []
        try:
            annotation = _annotation(xml, xml_key, parsed)
        except ItemError as exc:
            image, _tried = image_for(voc.images, item_id, None, voc.files)
            path = image or voc.images / f"{item_id}.jpg"
            return ImageRecord(
                key=item_id,
                path=path,
                name=path.name,
                extras=extras,
                problems=(Problem(exc.code, Severity.ERROR, str(exc)),),
            )
        if annotation.parts:
            names = ", ".join(sorted(set(annotation.part_names))[:5])
            problems.append(
                Problem(
                    "voc.part_ignored",
                    Severity.WARNING,
                    f"{xml_key}: {annotation.parts} <part> box(es) ({names}) "
                    "not uploaded; OSAI takes whole objects only, their own boxes are uploaded",
                )
            )
        image, tried = image_for(voc.images, item_id, annotation.filename, voc.files)
        if image is None:
            written = annotation.filename if annotation.filename in tried else None
            image = (voc.images / item_id).parent / (written or f"{_base(item_id)}.jpg")
            problems.append(
                Problem(
                    "voc.image_missing",
                    Severity.ERROR,
                    f"{xml_key}: its image is not in {voc.images.name}/ (looked for "
                    f"{_looked(tried)}); add the image or remove the annotation",
                )
            )
        return ImageRecord(
            key=item_id,
            path=image,
            name=image.name,
            boxes=annotation.boxes,
            width=annotation.width,
            height=annotation.height,
            depth=annotation.depth,
            extras=extras,
            problems=tuple(problems),
        )


def _xml_of(voc: VocFolder, item_id: str) -> tuple[Dir, str, bool]:
    """Return an item's annotation file, how messages name it, and whether it is there."""
    xml = voc.annotations / f"{item_id}.xml"
    found = voc.files.is_file(xml)
    if not found and voc.files.is_file(voc.annotations / f"{item_id}.XML"):
        xml, found = voc.annotations / f"{item_id}.XML", True
    return xml, _relative(xml, voc.root), found


def _annotation(
    xml: Dir, xml_key: str, parsed: dict[str | SourcePath, VocResult] | None
) -> VocAnnotation:
    """Return the parsed annotation (of the batch, or parsed here); raise its ItemError."""
    if not isinstance(xml, SourcePath):
        return parse_voc(xml, source=xml_key)
    result = parsed.get(xml) if parsed is not None else None
    if result is None:
        (result,) = parse_voc_batch([(xml, xml_key)])
    annotation, code, message = result
    if annotation is None:
        raise ItemError(code or "xml.invalid", message or f"{xml_key}: cannot be read")
    return annotation


def _relative(path: Dir, root: Dir) -> str:
    """Return ``path`` below ``root`` as posix text, as messages and keys name it."""
    if isinstance(path, SourcePath) and isinstance(root, SourcePath):
        return path.relative_to(root).as_posix()
    if isinstance(path, Path) and isinstance(root, Path):
        return path.relative_to(root).as_posix()
    return str(path)


def _looked(tried: list[str]) -> str:
    named = len(tried) > len(IMAGE_SUFFIXES)
    found = f"{', '.join(tried[:3])} and other image suffixes"
    return f"{found}, and {tried[-1]} as <filename> says" if named else found


def _base(item_id: str) -> str:
    return item_id.rsplit("/", 1)[-1]


def _stems(folder: Dir, suffixes: tuple[str, ...], files: Files) -> list[str]:
    return [os.path.splitext(name)[0] for name in _files(folder, suffixes, files)]


def _files(folder: Dir, suffixes: tuple[str, ...], files: Files) -> list[str]:
    """Return the sorted names of the regular files in ``folder`` with one of ``suffixes``."""
    if isinstance(folder, SourcePath):
        listed = files.listing(folder) or {}
        return sorted(
            name
            for name, kind in listed.items()
            if name.endswith(suffixes) and not name.startswith(".") and kind == "file"
        )
    try:
        with os.scandir(folder) as listing:
            return sorted(
                e.name
                for e in listing
                if e.name.endswith(suffixes) and not e.name.startswith(".") and e.is_file()
            )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list the folder: {exc.strerror}") from None
