"""osai-import plugin: the ``cvat`` reader for CVAT for images / CVAT for video 1.1 XML.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import_cvat.options import CvatOptions, ShapePolicies
    from osai_import_cvat.reader import CvatReader

    __version__: str

_HOMES = {
    "CvatOptions": "osai_import_cvat.options",
    "CvatReader": "osai_import_cvat.reader",
    "ShapePolicies": "osai_import_cvat.options",
}

__all__ = ["CvatOptions", "CvatReader", "ShapePolicies", "__version__", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES, version_of="osai-import-cvat")


@hookimpl
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the ``cvat`` reader."""
    register(defer("cvat", "osai_import_cvat.reader:CvatReader"))
