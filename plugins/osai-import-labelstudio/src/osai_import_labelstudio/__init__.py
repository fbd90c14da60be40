"""osai-import plugin: the ``labelstudio`` reader for Label Studio's JSON and JSON-MIN exports.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from osai_import import Deferred, Reader, defer, hookimpl, lazy_exports

if TYPE_CHECKING:
    from osai_import_labelstudio.options import LabelStudioOptions
    from osai_import_labelstudio.reader import LabelStudioReader

    __version__: str

_HOMES = {
    "LabelStudioOptions": "osai_import_labelstudio.options",
    "LabelStudioReader": "osai_import_labelstudio.reader",
}

__all__ = ["LabelStudioOptions", "LabelStudioReader", "__version__", "register_readers"]


# Hidden from type checkers, which see the names imported above.
if not TYPE_CHECKING:
    __getattr__ = lazy_exports(__name__, _HOMES, version_of="osai-import-labelstudio")


@hookimpl
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the ``labelstudio`` reader."""
    register(defer("labelstudio", "osai_import_labelstudio.reader:LabelStudioReader"))
