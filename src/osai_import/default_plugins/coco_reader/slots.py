"""Build Box and ImageRecord values from values the reader has checked, by their slots.

Both are frozen dataclasses with slots whose constructors check and convert every field
again (a box's numbers; a record's path, tuples and mapping). A train2017-sized file
yields close to a million boxes and a hundred thousand records, and those checks were a
third of its read; the `coco` reader's own values need none of them (finite floats, a
label, a ``Path``, tuples, a read-only mapping). So the values are set straight into the
slots, as unpickling does, but only while each class has exactly the fields and defaults
written here: otherwise the setters are None and the reader uses the constructors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MemberDescriptorType
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

Setters = tuple[Callable[[Any, Any], None], ...]


def slot_setters(cls: type, expected: dict[str, object]) -> Setters | None:
    """Return the setters of ``cls``'s slots in field order, None unless its fields and
    their defaults are exactly ``expected``."""
    fields = dataclasses.fields(cls)
    if [f.name for f in fields] != list(expected):
        return None
    for f in fields:
        want = expected[f.name]
        if want is _REQUIRED:
            ok = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        elif want is _FACTORY:
            ok = f.default_factory is not dataclasses.MISSING
        else:
            ok = type(f.default) is type(want) and f.default == want
        if not ok:
            return None
    slots = [cls.__dict__.get(name) for name in expected]
    if not all(isinstance(slot, MemberDescriptorType) for slot in slots):
        return None
    return tuple(slot.__set__ for slot in slots)  # type: ignore[union-attr]


BOX_SETTERS = slot_setters(Box, _BOX_FIELDS)
RECORD_SETTERS = slot_setters(ImageRecord, _RECORD_FIELDS)
_new = object.__new__


def plain_record(key: str, path: Any, name: str, category: str | None, boxes: tuple[Box, ...],
                 width: int | None, height: int | None, extras: Any) -> ImageRecord:
    """Return ImageRecord(...) of these checked values (``path`` a Path, ``extras`` a
    MappingProxyType), without the constructor's checks when the class allows it."""
    if RECORD_SETTERS is None:
        return ImageRecord(key=key, path=path, name=name, category=category, boxes=boxes,
                           width=width, height=height, extras=extras)
    set_key, set_path, set_name, set_category, set_boxes, set_width, set_height, set_depth, \
        set_extras, set_problems = RECORD_SETTERS
    record = _new(ImageRecord)
    set_key(record, key)
    set_path(record, path)
    set_name(record, name)
    set_category(record, category)
    set_boxes(record, boxes)
    set_width(record, width)
    set_height(record, height)
    set_depth(record, None)
    set_extras(record, extras)
    set_problems(record, ())
    return record
