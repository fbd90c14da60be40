"""osai-import plugin: the ``labelstudio`` reader for Label Studio's JSON and JSON-MIN exports.

The hook registers the reader deferred (``osai_import.defer``): its module is imported
only when a config names it, so the plugin costs other commands' start-up nothing;
the names below load on first use for the same reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from osai_import import Deferred, Reader, defer, hookimpl

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

    def __getattr__(name: str) -> Any:
        if name == "__version__":
            from importlib import metadata

            try:
                version: str = metadata.version("osai-import-labelstudio")
            except metadata.PackageNotFoundError:  # imported from a source tree
                version = "0+unknown"
            globals()[name] = version
            return version
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value


@hookimpl
def register_readers(register: Callable[[type[Reader] | Deferred], None]) -> None:
    """Register the ``labelstudio`` reader."""
    register(defer("labelstudio", "osai_import_labelstudio.reader:LabelStudioReader"))
