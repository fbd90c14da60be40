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
from io import BufferedReader
from itertools import chain, compress
from operator import add
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec

from osai_import import ImageRecord, SourceError
from osai_import.default_plugins.coco_reader.boxes import DIFFICULT, store_key
from osai_import.default_plugins.coco_reader.entries import Entries
from osai_import.default_plugins.coco_reader.names import joiner, plain_name, plain_names
from osai_import.default_plugins.coco_reader.scan import Section, items_in_place, scan
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


def _tag_lookup(category_index: dict[str, int]) -> dict[int | str, int]:
    """Map category ids as decoded (int or str) to the tag of their label (its index times
    two, see ``BoxStore``), as ``id_key`` matches them."""
    lookup: dict[int | str, int] = {}
    for key, label in category_index.items():
        lookup[key] = 2 * label
        try:
            number = int(key)
        except ValueError:
            continue
        if str(number) == key:  # "7" is the id 7; " 7", "07" and "٧" are not
            lookup[number] = 2 * label
    return lookup


class _Passes:
    """The three passes of one read, each over its own section."""

    def __init__(self, entries: Entries, fh: BufferedReader, layout: dict[str, Section]) -> None:
        self.entries = entries
        self.fh = fh
        self.layout = layout
        # Plain file names below a local folder are their own key, and their path is the
        # folder's joined with them (what normalizing would give: see ``plain_name``).
        self.join = joiner(entries.root) if isinstance(entries.root, Path) else None
        self.drop_empty = entries.options.drop_empty
        self.categorize = entries.options.image_category != "none"
        self.tags: dict[int | str, int] = {}  # see _tag_lookup

    def read(self, start: int, end: int) -> bytes:
        """Return the file's bytes ``[start, end)``."""
        self.fh.seek(start)
        data = self.fh.read(end - start)
        if len(data) != end - start:
            raise Fallback  # the file changed under the scan
        return data

    def chunks(self, key: str) -> Iterator[memoryview]:
        """Yield each chunk of section ``key`` as a JSON array.

        Every chunk is read into the same buffer: whatever is decoded from one (``Raw``
        values above all) must be done with before the next is asked for.
        """
        section = self.layout.get(key)
        if section is None or not section.chunks:
            return
        buffer = bytearray(2 + max(end - start for start, end in section.chunks))
        view = memoryview(buffer)
        for number, (start, end) in enumerate(section.chunks):
            length = end - start
            self.fh.seek(start)
            done = 0
            while done < length:
                count = self.fh.readinto(view[1 + done:1 + length])
                if not count:
                    raise Fallback  # the file changed under the scan
                done += count
            if not items_in_place(buffer, length, number == 0):
                raise Fallback
            yield view[:length + 2]

    # -- pass 1 -------------------------------------------------------------------------
    def categories(self) -> None:
        """Read the category list (small, checked by the scan) whole."""
        section = self.layout.get("categories")
        value = None if section is None else _ANY.decode(self.read(section.start, section.end))
        self.entries.categories(value)

    # -- pass 2 -------------------------------------------------------------------------
    def annotations(self) -> None:
        """Keep the box of every usable annotation, in file order."""
        self.tags = _tag_lookup(self.entries.category_index)
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
        keys: list[int | str] | None = None
        if items and type(items[0]) is _Annotation:  # some ids may be strings
            keys = [item.image_id for item in items]
            if not all(key.strip() for key in keys if type(key) is str):
                return False
            keys = list(map(store_key, keys))
        crowds = {item.iscrowd for item in items}
        if not crowds <= {0, 1, None}:
            return False
        iscrowd = self.entries.options.iscrowd
        if 1 in crowds and iscrowd == "skip":
            # Left out before their category and bbox are looked at, as Entries does.
            if keys is None:
                items = [item for item in items if item.iscrowd != 1]
            else:
                kept = [item.iscrowd != 1 for item in items]
                items, keys = list(compress(items, kept)), list(compress(keys, kept))
        if keys is None:  # integer ids: their own keys
            keys = [item.image_id for item in items]
        try:
            tags = list(map(self.tags.__getitem__, [item.category_id for item in items]))
            # x, y, width and height of each box, box after box.
            corners: list[float] = list(chain.from_iterable(
                [item.bbox for item in items]))  # type: ignore[misc]  # None: TypeError
        except (KeyError, TypeError):  # an unknown category; an annotation without a bbox
            return False
        # The corners a column at a time, as bbox_box makes them: x + width, y + height.
        xmax = list(map(add, corners[0::4], corners[2::4]))
        ymax = list(map(add, corners[1::4], corners[3::4]))
        total = sum(xmax) + sum(ymax)
        if total - total:  # inf or nan: some corner is not finite (or just the sum)
            return False
        corners[2::4], corners[3::4] = xmax, ymax
        if 1 in crowds and iscrowd == "difficult":
            tags = [tag + DIFFICULT if item.iscrowd == 1 else tag
                    for tag, item in zip(tags, items, strict=True)]
        self.entries.store.extend(keys, tags, corners)
        return True

    def one_by_one(self, text: memoryview, index: int) -> int:
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
              raws: list[msgspec.Raw] | None, text: memoryview, index: int) -> None:
        """Keep the boxes of annotations ``index``...; hand unusual ones to Entries in order."""
        entries = self.entries
        store = entries.store
        tag_of = self.tags
        skip_crowd = entries.options.iscrowd == "skip"
        crowd_flag = DIFFICULT if entries.options.iscrowd == "difficult" else 0
        keys: list[int | str] = []
        tags: list[int] = []
        corners: list[float] = []
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
                tag = tag_of.get(item.category_id)
                box = item.bbox
                if flag >= 0 and tag is not None and box is not None:
                    x, y, w, h = box
                    x2, y2 = x + w, y + h
                    if not (x2 - x2 or y2 - y2):  # inf - inf and nan are nan, true
                        keys.append(image)
                        tags.append(tag + flag)
                        corners += (x, y, x2, y2)
                        continue
            # Anything else: as ijson would have given it, after the boxes before it.
            store.extend(keys, tags, corners)
            keys, tags, corners = [], [], []
            if raws is None:
                raws = _RAWS.decode(text)
            entries.annotation(index + offset, _ANY.decode(raws[offset]))
        store.extend(keys, tags, corners)

    # -- pass 3 -------------------------------------------------------------------------
    def images(self) -> Iterator[ImageRecord]:
        """Yield one record per entry of `images`, in file order."""
        entries = self.entries
        index = 0
        for text in self.chunks("images"):
            raws: list[msgspec.Raw] | None = None
            items: Sequence[_Image | None]
            plain = False  # every file_name of the chunk is plain (see ``plain_names``)
            try:
                decoded: list[_Image] = _IMAGES.decode(text)
            except msgspec.ValidationError:
                raws = _RAWS.decode(text)
                items = [_plain_image(raw) for raw in raws]
            else:
                items = decoded
                plain = self.join is not None and plain_names(
                    [item.file_name for item in decoded])
            for offset, item in enumerate(items):
                record = False if item is None else self.image(index, item, plain)
                if record is False:
                    if raws is None:
                        raws = _RAWS.decode(text)
                    record = entries.image(index, _ANY.decode(raws[offset]))
                if isinstance(record, ImageRecord):
                    yield record
                index += 1
        entries.report_leftovers()

    def image(self, index: int, item: _Image, plain: bool) -> ImageRecord | bool | None:
        """Return the record of a plain image entry, or False to leave it to Entries.

        ``plain``: the names of the whole chunk are known to be plain (``plain_names``).
        """
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
        # A plain name (it normalizes to itself) and an image that no problem concerns;
        # else Entries.
        join = self.join
        if (join is None or (not plain and not plain_name(name))
                or image_id in entries.first_index or image_id in entries.notes
                or (width is not None and width < 0) or (height is not None and height < 0)):
            return False
        entries.first_index[image_id] = (index, name)
        boxes = entries.store.pop(raw_id, entries.names)
        if self.drop_empty and not boxes:
            return None
        return plain_record(
            name, join(name), name.rpartition("/")[2],
            entries.category_of(boxes) if self.categorize else None, boxes,
            width or None, height or None,
            MappingProxyType({"coco_image_id": raw_id, "file_name": name, "legacy_key": image_id}))

