"""The built-in `coco` reader: a COCO JSON file, streamed so memory stays bounded.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers. ``reader`` chooses a path and yields the records; ``scan`` finds the file's
top-level sections at C speed and ``fast`` decodes them in batches with msgspec;
``stream`` is the ijson path, which explains any fault; ``entries`` turns each category,
annotation and image entry into labels, boxes and records for both paths; ``geometry``
turns boxes, polygons and RLE masks into boxes.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import.default_plugins.coco_reader.reader import CocoReader

_HOMES = {
    "CocoReader": "osai_import.default_plugins.coco_reader.reader",
}

__all__ = ["CocoReader", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES)


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the built-in `coco` reader."""
    register(defer("coco", "osai_import.default_plugins.coco_reader.reader:CocoReader"))
