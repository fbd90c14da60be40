"""The built-in `none` encoder: no annotation file, for image-level categories only."""

from __future__ import annotations

from typing import Any

from osai_import import Annotation, Encoder, ImageRecord, hookimpl


class NoneEncoder(Encoder):
    """Send no annotation: images go with their image-level category only (boxes are dropped)."""

    name = "none"

    def encode(self, record: ImageRecord) -> Annotation | None:
        """Return None: no image gets an annotation file."""
        return None


@hookimpl(trylast=True)
def register_encoders(register: Any) -> None:
    """Register the `none` encoder."""
    register(NoneEncoder)
