"""The built-in `coco` reader: a COCO JSON file, streamed so memory stays bounded.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers; ``reader`` builds the records, ``stream`` reads the JSON in one pass per
section, ``geometry`` turns boxes, polygons and RLE masks into boxes.
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
