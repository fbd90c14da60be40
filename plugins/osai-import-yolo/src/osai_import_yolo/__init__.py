"""osai-import plugin: the ``yolo`` reader for YOLO, Darknet and Ultralytics datasets."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from osai_import import Reader, hookimpl
from osai_import_yolo.reader import YoloOptions, YoloReader

try:
    __version__ = metadata.version("osai-import-yolo")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["YoloOptions", "YoloReader", "__version__", "register_readers"]


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``yolo`` reader."""
    register(YoloReader)
