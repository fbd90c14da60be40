"""The ``voc`` reader: stream a Pascal VOC folder's images with their boxes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from osai_import import (
    ConfigPath,
    ImageRecord,
    ItemError,
    Problem,
    Reader,
    ReaderOptions,
    Severity,
    SourceError,
    parse_voc,
)
from osai_import_voc.layout import (
    IMAGE_SUFFIXES,
    VocFolder,
    find,
    image_for,
    read_lines,
    safe_id,
)


class VocReaderOptions(ReaderOptions):
    """Options of the ``voc`` reader."""

    path: ConfigPath = Field(
        description="the VOC folder (holding Annotations/ and JPEGImages/), or VOCdevkit/"
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
        default="Annotations", min_length=1, description="the annotations folder's name"
    )
    images: str = Field(default="JPEGImages", min_length=1, description="the images folder's name")


class VocReader(Reader):
    """Read a Pascal VOC folder: Annotations/*.xml + JPEGImages/, optional ImageSets/Main splits.

    With split lists, the items are the ids they list (each once, in list order);
    without, every ``Annotations/*.xml`` (sorted), then every image no annotation claimed.
    Coordinates, ``difficult``, ``truncated``, ``occluded`` and ``pose`` are kept as
    written; ``<part>`` boxes are not uploaded (warning ``voc.part_ignored``).
    """

    name = "voc"
    Options = VocReaderOptions

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.opts: VocReaderOptions = options

    def records(self) -> Iterator[ImageRecord]:
        """Yield the items of the chosen splits, or of the whole folder."""
        voc = find(Path(self.opts.path), self.opts.annotations, self.opts.images)
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
            yield from self._listed(voc, wanted or list(voc.lists))
        else:
            yield from self._scanned(voc)

    def _listed(self, voc: VocFolder, splits: list[str]) -> Iterator[ImageRecord]:
        seen: set[str] = set()
        for split in dict.fromkeys(splits):
            where = voc.lists[split].relative_to(voc.root).as_posix()
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
                record = self._item(voc, item_id, split, f"{where}:{number}")
                if record is not None:
                    yield record

    def _scanned(self, voc: VocFolder) -> Iterator[ImageRecord]:
        if not voc.annotations.is_dir() and not voc.images.is_dir():
            raise SourceError(
                f"{voc.root}: neither {voc.annotations.name}/ nor {voc.images.name}/ exists"
            )
        ids = list(dict.fromkeys(_stems(voc.annotations, (".xml", ".XML"))))
        claimed = set(ids)
        used: set[str] = set()
        for item_id in ids:
            record = self._item(voc, item_id, None, None)
            if record is not None:
                used.add(record.path.name)
                yield record
        if self.opts.unannotated == "skip":
            return
        for name in _files(voc.images, IMAGE_SUFFIXES):
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

    def _item(
        self, voc: VocFolder, item_id: str, split: str | None, listed: str | None
    ) -> ImageRecord | None:
        xml = voc.annotations / f"{item_id}.xml"
        if not xml.is_file() and (voc.annotations / f"{item_id}.XML").is_file():
            xml = voc.annotations / f"{item_id}.XML"
        xml_key = f"{voc.annotations.name}/{item_id}{xml.suffix}"
        extras = {"split": split, "annotation": xml_key if xml.is_file() else None, "id": item_id}
        if not xml.is_file():
            image, tried = image_for(voc.images, item_id, None)
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
            annotation = parse_voc(xml, source=xml_key)
        except ItemError as exc:
            image, _tried = image_for(voc.images, item_id, None)
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
        image, tried = image_for(voc.images, item_id, annotation.filename)
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


def _looked(tried: list[str]) -> str:
    named = len(tried) > len(IMAGE_SUFFIXES)
    found = f"{', '.join(tried[:3])} and other image suffixes"
    return f"{found}, and {tried[-1]} as <filename> says" if named else found


def _base(item_id: str) -> str:
    return item_id.rsplit("/", 1)[-1]


def _stems(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    return [os.path.splitext(name)[0] for name in _files(folder, suffixes)]


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Return the sorted names of the regular files in ``folder`` with one of ``suffixes``."""
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
