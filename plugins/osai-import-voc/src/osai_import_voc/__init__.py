"""osai-import plugin: the ``voc`` reader for Pascal VOC dataset folders.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import_voc.reader import VocReader, VocReaderOptions

    __version__: str

_HOMES = {
    "VocReader": "osai_import_voc.reader",
    "VocReaderOptions": "osai_import_voc.reader",
}

__all__ = ["VocReader", "VocReaderOptions", "__version__", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES, version_of="osai-import-voc")


@hookimpl
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the ``voc`` reader."""
    register(defer("voc", "osai_import_voc.reader:VocReader"))
