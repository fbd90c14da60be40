"""Former home of the image header reader, kept so that existing imports still work.

Import from ``osai_import.check.imageinfo`` instead: this module warns
(DeprecationWarning) and will be removed in a later release.
"""

from __future__ import annotations

import warnings

from osai_import.check.imageinfo import (
    SUPPORTED_FORMATS,
    ImageInfo,
    file_digest,
    inspect_image,
    sniff_format,
)

__all__ = ["SUPPORTED_FORMATS", "ImageInfo", "file_digest", "inspect_image", "sniff_format"]

warnings.warn(
    "osai_import.imageinfo is deprecated: import from osai_import.check.imageinfo",
    DeprecationWarning,
    stacklevel=2,
)
