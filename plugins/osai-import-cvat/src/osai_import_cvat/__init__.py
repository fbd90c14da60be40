"""osai-import plugin: the ``cvat`` reader for CVAT for images / CVAT for video 1.1 XML."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from osai_import import Reader, hookimpl
from osai_import_cvat.options import CvatOptions, ShapePolicies
from osai_import_cvat.reader import CvatReader

try:
    __version__ = metadata.version("osai-import-cvat")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["CvatOptions", "CvatReader", "ShapePolicies", "__version__", "register_readers"]


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``cvat`` reader."""
    register(CvatReader)
