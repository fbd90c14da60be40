"""Read the EXIF orientation from a TIFF block (the EXIF payload of a JPEG or a PNG)."""

from __future__ import annotations

import struct

ORIENTATION_TAG = 0x0112
_X_RESOLUTION_TAG = 0x011A
_RESOLUTION_UNIT_TAG = 0x0128
# Bytes per value of each TIFF field type Pillow decodes.
_TIFF_UNIT = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8
}
_TIFF_SHORT, _TIFF_LONG, _TIFF_RATIONAL = 3, 4, 5


def tiff_orientation(tiff: bytes) -> int | None:
    """Return the orientation in an EXIF block's first IFD, 1 when absent or out of range.

    None means the block is not plainly well-formed (a tag twice, an entry or value past
    its end, an odd type) or holds the tags Pillow reads while opening in a form it could
    choke or warn on: the caller then asks Pillow.
    """
    if len(tiff) < 8 or tiff.startswith(b"Exif\0\0"):
        return None
    if tiff.startswith(b"II*\0"):
        order = "<"
    elif tiff.startswith(b"MM\0*"):
        order = ">"
    else:
        return None
    (ifd,) = struct.unpack_from(order + "L", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    entries_end = ifd + 2 + 12 * count
    if entries_end + 4 > len(tiff):  # the entries and the next-IFD offset
        return None
    orientation = 1
    tags: set[int] = set()
    out_of_line = 0
    entries = struct.iter_unpack(order + "HHL4s", tiff[ifd + 2 : entries_end])
    for tag, kind, values, inline in entries:
        unit = _TIFF_UNIT.get(kind)
        if tag in tags or unit is None:
            return None
        tags.add(tag)
        size = values * unit
        if size > 4:
            (offset,) = struct.unpack(order + "L", inline)
            out_of_line += size
            if offset + size > len(tiff) or out_of_line > len(tiff):
                return None
        if tag == ORIENTATION_TAG:
            if values != 1 or kind not in (_TIFF_SHORT, _TIFF_LONG):
                return None
            (value,) = struct.unpack_from(order + ("H" if kind == _TIFF_SHORT else "L"), inline)
            orientation = value if 1 <= value <= 8 else 1
        elif (tag == _X_RESOLUTION_TAG and (values, kind) != (1, _TIFF_RATIONAL)) or (
            tag == _RESOLUTION_UNIT_TAG and (values, kind) != (1, _TIFF_SHORT)
        ):
            return None  # Pillow reads the resolution while opening a JPEG
    return orientation
