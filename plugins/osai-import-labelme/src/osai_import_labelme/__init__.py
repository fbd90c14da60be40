"""osai-import plugin: the ``labelme`` reader for LabelMe JSON files.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import_labelme.options import LabelmeOptions, ShapePolicies
    from osai_import_labelme.reader import LabelmeReader

    __version__: str

_HOMES = {
    "LabelmeOptions": "osai_import_labelme.options",
    "LabelmeReader": "osai_import_labelme.reader",
    "ShapePolicies": "osai_import_labelme.options",
}

__all__ = ["LabelmeOptions", "LabelmeReader", "ShapePolicies", "__version__", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES, version_of="osai-import-labelme")


@hookimpl
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the ``labelme`` reader."""
    register(defer("labelme", "osai_import_labelme.reader:LabelmeReader"))
