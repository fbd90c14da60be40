"""Former home of the safe Pascal VOC parser, kept so that existing imports still work.

Import ``parse_voc`` and ``VocAnnotation`` from ``osai_import`` instead: this module
warns (DeprecationWarning) and will be removed in a later release.
"""

from __future__ import annotations

import warnings

from osai_import.source.voc import MAX_XML_BYTES, VocAnnotation, parse_voc

__all__ = ["MAX_XML_BYTES", "VocAnnotation", "parse_voc"]

warnings.warn(
    "osai_import.voc is deprecated: import parse_voc and VocAnnotation from osai_import",
    DeprecationWarning,
    stacklevel=2,
)
