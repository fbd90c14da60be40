"""The built-in `coco` reader: images and boxes from a COCO JSON file, streamed.

Two paths give the same records. The fast one (``fast``) first scans the file's bytes for
its top-level sections (``scan``), then decodes the `categories`, the `annotations` and the
`images` in batches with msgspec, each pass reading only its own section. The ijson path
streams the whole file in up to three passes (categories, annotations, images); it reads
files in an archive or a bucket, and any file the fast path does not fully understand:
that path answers by falling back, never by guessing, so every message and refusal is the
ijson path's. Either way memory grows with the number of boxes (about 45 bytes each),
never with the size of the JSON, and images come out in the order of the file's
``images`` list. See docs/readers/coco.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

from osai_import import (
    Detection,
    ImageRecord,
    Problem,
    Reader,
    SourceError,
    SourcePath,
)
from osai_import.default_plugins.coco_reader.detect import detect_coco
from osai_import.default_plugins.coco_reader.entries import Entries
from osai_import.default_plugins.coco_reader.fast import Fallback, read_fast
from osai_import.default_plugins.coco_reader.options import CocoOptions
from osai_import.default_plugins.coco_reader.stream import JsonSource


def read_streamed(entries: Entries, source: JsonSource) -> Iterator[ImageRecord]:
    """Yield the records of the file with ijson: the path that explains every fault."""
    # Categories first, whole (the list is small), in a pass that stops as soon as the list
    # ends: most exporters write it before `images` and `annotations`.
    stream = source.items("categories")
    try:
        categories = next(stream, None)
    finally:
        stream.close()
    entries.categories(categories)
    seen = 0
    for index, ann in enumerate(source.items("annotations.item")):
        seen += 1
        entries.annotation(index, ann)
    if not seen:
        kind = source.top_level_kind("annotations")
        if kind not in (None, "array"):
            raise SourceError(f"{entries.json}: `annotations` is a JSON {kind}; expected a list")
    count = 0
    for index, entry in enumerate(source.items("images.item")):
        count += 1
        record = entries.image(index, entry)
        if record is not None:
            yield record
    if not count:
        kind = source.top_level_kind("images")
        if kind is None:
            raise SourceError(f"{entries.json}: there is no `images` list; is this a COCO file?")
        if kind != "array":
            raise SourceError(f"{entries.json}: `images` is a JSON {kind}; expected a list")
    entries.report_leftovers()


class CocoReader(Reader):
    """Read a COCO JSON file: boxes from `bbox` (or `segmentation`), categories by name."""

    name = "coco"
    Options = CocoOptions
    any_storage = True

    _source_problems: tuple[Problem, ...] = ()
    # The msgspec path; False reads with ijson alone (the tests compare the two).
    fast = True
    # The path the last read took in the end: "msgspec" or "ijson".
    path_taken = ""

    @classmethod
    def detect(cls, path: Path | SourcePath) -> Detection:
        """Recognise COCO files by their `images` and `annotations` keys (a 256 KB head)."""
        return detect_coco(path)

    def source_problems(self) -> tuple[Problem, ...]:
        """Return the problems of the last read that concern no image (complete once it ends).

        These are annotations that cannot be attached to any image: an unusable
        ``image_id`` (error) or an id that ``images`` does not list (warning).
        """
        return self._source_problems

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per entry of the file's `images`, in file order."""
        options = cast(CocoOptions, self.options)
        entries = Entries(options)
        if not entries.json.is_file():
            raise SourceError(
                f"{entries.json}: no such COCO file; check `source.path` in the config")
        if not entries.root.is_dir():
            raise SourceError(
                f"{entries.root}: the image folder does not exist; check `source.images`")
        self._source_problems = ()
        source = JsonSource(entries.json)
        try:
            if self.fast:
                self.path_taken = "msgspec"
                try:
                    yield from read_fast(entries, source)
                    return
                except Fallback:
                    # Nothing was yielded yet: start again from scratch with ijson.
                    entries = Entries(options)
            self.path_taken = "ijson"
            yield from read_streamed(entries, source)
        finally:
            self._source_problems = tuple(entries.source_problems)
            source.close()
