"""Build Box and ImageRecord values from values the reader has checked, by their slots.

Both are frozen dataclasses with slots whose constructors check and convert every field
again (a box's numbers; a record's path, tuples and mapping). A train2017-sized file
yields close to a million boxes and a hundred thousand records, and those checks were a
third of its read; the `coco` reader's own values need none of them (finite floats, a
label, a ``Path``, tuples, a read-only mapping).

So each value is first made as an instance of a *twin*: a plain class with the very same
slots, whose attributes are set as fast as Python sets any slot, and then becomes an
instance of the real class by ``__class__`` assignment, which Python allows between
classes of one layout. That is twice as fast as calling each slot's setter in turn, and
what comes out is an instance of the class in every respect. Only while each class has
exactly the fields and defaults written here, and a probe built so equals one built by
the constructor: otherwise the twin is None and the reader uses the constructors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType
from typing import Any

from osai_import import Box, ImageRecord

_REQUIRED, _FACTORY = object(), object()
_BOX_FIELDS: dict[str, object] = {
    "label": _REQUIRED, "xmin": _REQUIRED, "ymin": _REQUIRED, "xmax": _REQUIRED,
    "ymax": _REQUIRED, "difficult": False, "truncated": False, "occluded": False,
    "pose": "Unspecified",
}
_RECORD_FIELDS: dict[str, object] = {
    "key": _REQUIRED, "path": _REQUIRED, "name": _REQUIRED, "category": None, "boxes": (),
    "width": None, "height": None, "depth": None, "extras": _FACTORY, "problems": (),
}


def as_expected(cls: type, expected: dict[str, object]) -> bool:
    """Tell whether ``cls`` is a slotted dataclass whose fields, in order, and their
    defaults are exactly ``expected`` (``_REQUIRED``: none; ``_FACTORY``: a factory)."""
    if not dataclasses.is_dataclass(cls):
        return False
    fields = dataclasses.fields(cls)
    if [f.name for f in fields] != list(expected) or cls.__dict__.get("__slots__") != tuple(
            expected):
        return False
    for f in fields:
        want = expected[f.name]
        if want is _REQUIRED:
            ok = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        elif want is _FACTORY:
            ok = f.default_factory is not dataclasses.MISSING
        else:
            ok = type(f.default) is type(want) and f.default == want
        if not ok:
            return False
    return True


def slot_twin(cls: type, expected: dict[str, object], probe: dict[str, Any]) -> Any:
    """Return the twin of ``cls`` (see the module docstring), or None unless ``cls`` is
    as ``expected`` and the twin of ``probe`` (field values) equals ``cls(**probe)``."""
    if not as_expected(cls, expected) or cls.__bases__ != (object,):
        return None
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": tuple(expected)})
    try:
        made = twin()
        for name, value in probe.items():
            setattr(made, name, value)
        made.__class__ = cls
    except TypeError:  # a layout Python does not let change class: use the constructor
        return None
    same = type(made) is cls and made == cls(**probe) and all(
        getattr(made, name) is value for name, value in probe.items())
    return twin if same else None


_BOX_PROBE: dict[str, Any] = {"label": "cat", "xmin": 1.5, "ymin": 2.5, "xmax": 3.5, "ymax": 4.5,
              "difficult": True, "truncated": False, "occluded": False, "pose": "Unspecified"}
BOX_TWIN = slot_twin(Box, _BOX_FIELDS, _BOX_PROBE)
RECORD_TWIN = slot_twin(ImageRecord, _RECORD_FIELDS, {
    "key": "a/b.jpg", "path": Path("/a/b.jpg"), "name": "b.jpg", "category": "cat",
    "boxes": (Box(**_BOX_PROBE),), "width": 640, "height": 480, "depth": None,
    "extras": MappingProxyType({"coco_image_id": 7}), "problems": ()})


def plain_record(key: str, path: Any, name: str, category: str | None, boxes: tuple[Box, ...],
                 width: int | None, height: int | None, extras: Any) -> ImageRecord:
    """Return ImageRecord(...) of these checked values (``path`` a Path, ``extras`` a
    MappingProxyType), without the constructor's checks when the class allows it."""
    if RECORD_TWIN is None:
        return ImageRecord(key=key, path=path, name=name, category=category, boxes=boxes,
                           width=width, height=height, extras=extras)
    record = RECORD_TWIN()
    record.key = key
    record.path = path
    record.name = name
    record.category = category
    record.boxes = boxes
    record.width = width
    record.height = height
    record.depth = None
    record.extras = extras
    record.problems = ()
    record.__class__ = ImageRecord
    return record  # type: ignore[no-any-return]
