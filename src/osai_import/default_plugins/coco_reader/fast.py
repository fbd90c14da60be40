"""The `coco` reader's fast path: sections found by ``scan``, items decoded by msgspec in batches.

Each pass reads only its own section, a chunk (about 256 KiB, whole items) at a time, and
decodes it in one call into small typed structs: the fields a box needs, the rest of an
annotation (its polygons above all) skipped by msgspec's C parser without building a
Python object. The common shapes (an int or string id, a known category, a finite bbox,
iscrowd 0 or 1, a plain relative ``file_name``) are handled here; anything else in a
chunk goes, item by item and in file order, to :class:`Entries` as the plain JSON value
ijson would have given, so both paths say the same about it.

What the fast path cannot vouch for (see ``scan``) raises :class:`Fallback` before the
first record, and the reader starts again with ijson; so does any error the fast path
would raise about the file, so that the words and the order of faults stay ijson's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, compress
from operator import add
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import msgspec

from osai_import import ImageRecord, SourceError
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, store_key
from osai_import.default_plugins.coco_reader.entries import Entries
from osai_import.default_plugins.coco_reader.scan import Section, items_text, scan
from osai_import.default_plugins.coco_reader.slots import plain_record
from osai_import.default_plugins.coco_reader.stream import JsonSource


class Fallback(Exception):
    """The fast path met something it does not vouch for: read the file with ijson instead."""


class _Annotation(msgspec.Struct, gc=False):
    image_id: int | str
    category_id: int | str
    iscrowd: int | None = 0
    bbox: tuple[float, float, float, float] | None = None


class _IntAnnotation(msgspec.Struct, gc=False):
    """The commonest shape: integer image ids, kept under themselves (``store_key``)."""

    image_id: int
    category_id: int | str
    iscrowd: int | None = 0
    bbox: tuple[float, float, float, float] | None = None


class _Image(msgspec.Struct, gc=False):
    id: int | str
    file_name: str
    width: int | None = None
    height: int | None = None


_ANNOTATIONS = msgspec.json.Decoder(list[_Annotation])
_INT_ANNOTATIONS = msgspec.json.Decoder(list[_IntAnnotation])
_ANNOTATION = msgspec.json.Decoder(_Annotation)
_IMAGES = msgspec.json.Decoder(list[_Image])
_IMAGE = msgspec.json.Decoder(_Image)
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


def read_fast(entries: Entries, source: JsonSource) -> Iterator[ImageRecord]:
    """Yield the records of the file; raise Fallback (before any record) to use ijson."""
    start = source.start()  # the same refusals as ijson's: an empty file, a top-level list
    try:
        with source.local.open("rb") as fh:
            layout = scan(fh, start)
            if layout is None or not _usable(layout):
                raise Fallback
            passes = _Passes(entries, fh, layout)
            try:
                passes.categories()
                passes.annotations()
            except SourceError:
                raise Fallback from None  # ijson may meet another fault first: let it say
            try:
                yield from passes.images()
            except (Fallback, msgspec.DecodeError):
                # Records went out already: starting again would send them twice.
                raise SourceError(
                    f"{source.path}: the file changed while it was read (its `images` no "
                    "longer read as they did a moment before); read it again") from None
    except OSError as exc:
        raise SourceError(f"{source.path}: cannot be read ({exc.strerror or exc})") from None


def _plain_image(raw: msgspec.Raw) -> _Image | None:
    try:
        return _IMAGE.decode(raw)
    except msgspec.ValidationError:
        return None


def _usable(layout: dict[str, Section]) -> bool:
    images = layout.get("images")
    return images is not None and images.kind == "array" and all(
        layout[key].kind == "array" for key in ("annotations", "categories") if key in layout)


def _label_lookup(category_index: dict[str, int]) -> dict[int | str, int]:
    """Map category ids as decoded (int or str) to label indexes, as ``id_key`` matches them."""
    lookup: dict[int | str, int] = {}
    lookup.update(category_index)
    for key, label in category_index.items():
        try:
            number = int(key)
        except ValueError:
            continue
        if str(number) == key:  # "7" is the id 7; " 7", "07" and "٧" are not
            lookup[number] = label
    return lookup


class _Passes:
    """The three passes of one read, each over its own section."""

    def __init__(self, entries: Entries, fh: BinaryIO, layout: dict[str, Section]) -> None:
        self.entries = entries
        self.fh = fh
        self.layout = layout
        # Plain file names below a local folder are their own key, and their path is the
        # folder's joined with them (what normalizing would give: see ``image``).
        self.root = entries.root if isinstance(entries.root, Path) else None
        self.lookup: dict[int | str, int] = {}

    def read(self, start: int, end: int) -> bytes:
        """Return the file's bytes ``[start, end)``."""
        self.fh.seek(start)
        data = self.fh.read(end - start)
        if len(data) != end - start:
            raise Fallback  # the file changed under the scan
        return data

    def chunks(self, key: str) -> Iterator[bytes]:
        """Yield each chunk of section ``key`` as a JSON array."""
        section = self.layout.get(key)
        for number, (start, end) in enumerate(section.chunks if section else ()):
            text = items_text(self.read(start, end), number == 0)
            if text is None:
                raise Fallback
            yield text

    # -- pass 1 -------------------------------------------------------------------------
    def categories(self) -> None:
        """Read the category list (small, checked by the scan) whole."""
        section = self.layout.get("categories")
        value = None if section is None else _ANY.decode(self.read(section.start, section.end))
        self.entries.categories(value)

    # -- pass 2 -------------------------------------------------------------------------
    def annotations(self) -> None:
        """Keep the box of every usable annotation, in file order."""
        self.lookup = _label_lookup(self.entries.category_index)
        index = 0
        for text in self.chunks("annotations"):
            items: Sequence[_Annotation | _IntAnnotation]
            try:
                try:
                    items = _INT_ANNOTATIONS.decode(text)
                except msgspec.ValidationError:
                    items = _ANNOTATIONS.decode(text)
            except msgspec.ValidationError:
                index = self.one_by_one(text, index)
                continue
            except msgspec.DecodeError:
                raise Fallback from None
            if not self.plain_boxes(items):
                self.boxes(items, None, text, index)
            index += len(items)

    def plain_boxes(self, items: Sequence[_Annotation | _IntAnnotation]) -> bool:
        """Keep the boxes of a chunk whose annotations all have the common shape, a column
        at a time; return False, keeping nothing, if any of them has not."""
        labels = list(map(self.lookup.get, [item.category_id for item in items]))
        boxes = [item.bbox for item in items]
        crowds = set(crowd := [item.iscrowd for item in items])
        ids = [item.image_id for item in items]
        if None in labels or None in boxes or not crowds <= {0, 1, None}:
            return False
        keys: list[int | str] = ids
        if items and type(items[0]) is _Annotation:  # some ids may be strings
            if not all(key.strip() for key in ids if type(key) is str):
                return False
            keys = list(map(store_key, ids))
        # The corners a column at a time (as bbox_box makes them: x + width, y + height).
        numbers = list(chain.from_iterable(boxes))  # type: ignore[arg-type]
        xmin, ymin = numbers[0::4], numbers[1::4]
        xmax, ymax = list(map(add, xmin, numbers[2::4])), list(map(add, ymin, numbers[3::4]))
        total = sum(xmax) + sum(ymax)
        if total - total:  # inf or nan: some corner is not finite (or just the sum)
            return False
        flags = bytes(len(keys))
        if 1 in crowds:
            if self.entries.options.iscrowd == "skip":
                kept = [value != 1 for value in crowd]
                keys, labels = list(compress(keys, kept)), list(compress(labels, kept))
                xmin, ymin = list(compress(xmin, kept)), list(compress(ymin, kept))
                xmax, ymax = list(compress(xmax, kept)), list(compress(ymax, kept))
                flags = bytes(len(keys))
            elif self.entries.options.iscrowd == "difficult":
                flags = bytes(DIFFICULT if value == 1 else 0 for value in crowd)
        store = self.entries.store
        last, count, prev = store.last, len(store), []
        for key in keys:
            prev.append(last.get(key, -1))
            last[key] = count
            count += 1
        store.extend(prev, labels, (xmin, ymin, xmax, ymax), flags)  # type: ignore[arg-type]
        return True

    def one_by_one(self, text: bytes, index: int) -> int:
        """Read a chunk whose items do not all have the common shape; return the next index."""
        try:
            raws = _RAWS.decode(text)
        except msgspec.DecodeError:
            raise Fallback from None
        for raw in raws:
            try:
                item = _ANNOTATION.decode(raw)
            except msgspec.ValidationError:
                self.entries.annotation(index, _ANY.decode(raw))
            else:
                self.boxes([item], [raw], text, index)
            index += 1
        return index

    def boxes(self, items: Sequence[_Annotation | _IntAnnotation],
              raws: list[msgspec.Raw] | None, text: bytes, index: int) -> None:
        """Keep the boxes of annotations ``index``...; hand unusual ones to Entries in order."""
        entries = self.entries
        store = entries.store
        last = store.last
        lookup = self.lookup
        skip_crowd = entries.options.iscrowd == "skip"
        crowd_flag = DIFFICULT if entries.options.iscrowd == "difficult" else 0
        prev: list[int] = []
        labels: list[int] = []
        corners: tuple[list[float], ...] = ([], [], [], [])
        flags: list[int] = []
        count = len(store)
        for offset, item in enumerate(items):
            image: Any = item.image_id
            if type(image) is str:
                image = store_key(image) if image.strip() else None
            if image is not None:
                crowd = item.iscrowd
                flag = 0
                if crowd:
                    if crowd == 1 and skip_crowd:
                        continue
                    flag = crowd_flag if crowd == 1 else -1
                label = lookup.get(item.category_id)
                box = item.bbox
                if flag >= 0 and label is not None and box is not None:
                    x, y, w, h = box
                    x2, y2 = x + w, y + h
                    if not (x2 - x2 or y2 - y2):  # inf - inf and nan are nan, true
                        prev.append(last.get(image, -1))
                        last[image] = count
                        count += 1
                        labels.append(label)
                        corners[0].append(x)
                        corners[1].append(y)
                        corners[2].append(x2)
                        corners[3].append(y2)
                        flags.append(flag)
                        continue
            # Anything else: as ijson would have given it, after the boxes before it.
            store.extend(prev, labels, corners, bytes(flags))  # type: ignore[arg-type]
            prev, labels, corners, flags = [], [], ([], [], [], []), []
            if raws is None:
                raws = _RAWS.decode(text)
            entries.annotation(index + offset, _ANY.decode(raws[offset]))
            count = len(store)
        store.extend(prev, labels, corners, bytes(flags))  # type: ignore[arg-type]

    # -- pass 3 -------------------------------------------------------------------------
    def images(self) -> Iterator[ImageRecord]:
        """Yield one record per entry of `images`, in file order."""
        entries = self.entries
        index = 0
        for text in self.chunks("images"):
            raws: list[msgspec.Raw] | None = None
            items: Sequence[_Image | None]
            try:
                items = _IMAGES.decode(text)
            except msgspec.ValidationError:
                raws = _RAWS.decode(text)
                items = [_plain_image(raw) for raw in raws]
            for offset, item in enumerate(items):
                record = False if item is None else self.image(index, item)
                if record is False:
                    if raws is None:
                        raws = _RAWS.decode(text)
                    record = entries.image(index, _ANY.decode(raws[offset]))
                if isinstance(record, ImageRecord):
                    yield record
                index += 1
        entries.report_leftovers()

    def image(self, index: int, item: _Image) -> ImageRecord | bool | None:
        """Return the record of a plain image entry, or False to leave it to Entries."""
        entries = self.entries
        raw_id = item.id
        if isinstance(raw_id, int):
            image_id = str(raw_id)
        elif raw_id.strip():
            image_id = raw_id
        else:
            return False
        name = item.file_name
        width, height = item.width, item.height
        # A name that normalizes to itself (ASCII, no "." or ".." part, no "//" nor "\\",
        # relative, not a folder) and an image that no problem concerns; else Entries.
        if (self.root is None or not name.isascii() or not name.strip() or "\x00" in name
                or "\\" in name or "//" in name or name[0] in "/." or name[-1] == "/"
                or "/." in name or image_id in entries.first_index
                or image_id in entries.notes
                or (width is not None and width < 0) or (height is not None and height < 0)):
            return False
        entries.first_index[image_id] = (index, name)
        boxes = entries.store.pop(raw_id, entries.names)
        if entries.options.drop_empty and not boxes:
            return None
        return plain_record(
            name, self.root / name, name.rpartition("/")[2], entries.category_of(boxes), boxes,
            width or None, height or None,
            MappingProxyType({"coco_image_id": raw_id, "file_name": name, "legacy_key": image_id}))
