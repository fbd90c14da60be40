"""The built-in `coco` reader: a COCO JSON file, streamed so memory stays bounded.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers. ``reader`` chooses a path and yields the records; ``scan`` finds the file's
top-level sections at C speed and ``fast`` decodes them in batches with msgspec;
``stream`` is the ijson path, which explains any fault; ``entries`` turns each category,
annotation and image entry into labels, boxes and records for both paths; ``geometry``
turns boxes, polygons and RLE masks into boxes.
"""

from __future__ import annotations

from collections.abc import Callable

from osai_import import Reader, hookimpl
from osai_import.default_plugins.coco_reader.reader import CocoReader

__all__ = ["CocoReader", "register_readers"]


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the built-in `coco` reader."""
    register(CocoReader)
