"""osai-import plugin: the ``voc`` reader for Pascal VOC dataset folders."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from osai_import import Reader, hookimpl
from osai_import_voc.reader import VocReader, VocReaderOptions

try:
    __version__ = metadata.version("osai-import-voc")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["VocReader", "VocReaderOptions", "__version__", "register_readers"]


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``voc`` reader."""
    register(VocReader)
