"""osai-import plugin: the ``labelme`` reader for LabelMe JSON files."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from osai_import import Reader, hookimpl
from osai_import_labelme.options import LabelmeOptions, ShapePolicies
from osai_import_labelme.reader import LabelmeReader

try:
    __version__ = metadata.version("osai-import-labelme")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["LabelmeOptions", "LabelmeReader", "ShapePolicies", "__version__", "register_readers"]


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    """Register the ``labelme`` reader."""
    register(LabelmeReader)
