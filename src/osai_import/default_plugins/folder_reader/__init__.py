"""The built-in `folder` reader: a folder per class, optional Pascal VOC XML beside each image.

A plugin like any other (see docs/writing-plugins.md): this module is what osai-import
registers; ``reader`` walks the folder, ``patterns`` matches paths against the options'
templates and globs, ``listing`` lists a folder once, ``options`` holds the options.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import.default_plugins.folder_reader.reader import FolderReader

_HOMES = {
    "FolderReader": "osai_import.default_plugins.folder_reader.reader",
}

__all__ = ["FolderReader", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES)


@hookimpl(trylast=True)
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the built-in `folder` reader."""
    register(defer("folder", "osai_import.default_plugins.folder_reader.reader:FolderReader"))
