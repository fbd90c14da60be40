"""Keep the boxes of a COCO file compactly, and give them back as Box records, fast.

Boxes live in one flat buffer, 48 bytes each, from the annotations pass until their
image's entry comes; then they are built by slot (see ``slots``).
"""

from __future__ import annotations

from array import array
from itertools import repeat
from struct import Struct, pack

from osai_import import Box
from osai_import.default_plugins.coco_reader.slots import BOX_TWIN

DIFFICULT = 1  # the flag of a box kept as difficult
# A box: its image's box before it, label * 2 + flag, xmin, ymin, xmax, ymax (native order).
_RECORD = Struct("qqdddd")
_PREVIOUS = Struct("q")  # the first field alone
_TABLE_FLOOR = 1 << 16  # integer keys below this always go in the table (512 KiB at most)
_FLAG = (False, True)  # a flag bit as the bool a Box holds, without a call to bool()


def store_key(key: int | str) -> int | str:
    """Return the key boxes are kept under for an image id (``id_key``'s text): an integer
    when the text is one as Python writes it ("12", 12), else the text.

    Ints hash and compare without building a string for each of a million annotations.
    """
    if isinstance(key, int):
        return key
    try:
        number = int(key)
    except ValueError:
        return key
    return number if str(number) == key else key


class BoxStore:
    """Every kept box of a COCO file, grouped by image key, in file order, compactly.

    Each box is one 48-byte record (``_RECORD``): the index of its image's box before it
    (-1 for the first), its label index times two plus its flag, then its xmin, ymin,
    xmax and ymax. Reading a box back is one call and, the boxes of an image being spread
    over the file, one cache miss (links and corners in two arrays took two).
    Segmentation is never kept.

    Each image key's last box is looked up in a table indexed by the key itself when the
    key is an integer the table covers (from 0 up to twice the number of boxes, or 64 Ki:
    most COCO ids, at 16 bytes a box at most), else in a dict; an integer the table covers
    is never in the dict. Over a million annotations the table is three times faster than
    a dict, whose entries and int values are all over memory.
    """

    def __init__(self) -> None:
        self._records = bytearray()
        self._table = array("q")  # the last box of each integer key below its length, or -1
        self._others: dict[int | str, int] = {}  # the last box of every other key

    def __len__(self) -> int:
        return len(self._records) // _RECORD.size

    def _covers(self, top: int, boxes: int) -> bool:
        """Tell whether the table covers the keys below ``top``, growing it (within two
        entries a box, ``boxes`` counted) and moving the keys it then covers out of the
        dict."""
        size = len(self._table)
        if top <= size:
            return True
        bound = max(_TABLE_FLOOR, 2 * boxes)
        if top > bound:
            return False
        grown = min(bound, max(top, 2 * size))
        self._table.extend(repeat(-1, grown - size))
        for key in [key for key in self._others if type(key) is int and size <= key < grown]:
            self._table[key] = self._others.pop(key)
        return True

    def add(self, image: str, label: int, box: tuple[float, float, float, float],
            flags: int) -> None:
        """Append one box of image ``image`` (its ``id_key``)."""
        index = len(self)
        key = store_key(image)
        if type(key) is int and key >= 0 and self._covers(key + 1, index + 1):
            previous, self._table[key] = self._table[key], index
        else:
            previous, self._others[key] = self._others.get(key, -1), index
        self._records += _RECORD.pack(previous, 2 * label + flags, *box)

    def extend(self, keys: list[int | str], tags: list[int], corners: list[float]) -> None:
        """Append many boxes at once, in file order.

        ``keys`` holds each box's image key (``store_key``), ``tags`` its label index times
        two plus its flag, ``corners`` its xmin, ymin, xmax and ymax, box after box.
        """
        if not keys:
            return
        count = start = len(self)
        table, others = self._table, self._others
        try:
            low, high = min(keys), max(keys)
        except TypeError:  # integers and strings
            low = high = ""
        prev = []
        if (type(low) is int and type(high) is int and low >= 0
                and self._covers(high + 1, start + len(keys))):
            for key in keys:  # the common case, kept short
                prev.append(table[key])  # type: ignore[index]
                table[key] = count  # type: ignore[index]
                count += 1
        else:
            size = len(table)
            for key in keys:
                if type(key) is int and 0 <= key < size:
                    prev.append(table[key])
                    table[key] = count
                else:
                    prev.append(others.get(key, -1))
                    others[key] = count
                count += 1
        size = len(prev)
        links = [0] * (2 * size)
        links[0::2] = prev
        links[1::2] = tags
        # Packed a column type at a time (struct is fast on one type), then copied into the
        # records a field at a time: every field is one 8-byte word, whatever its type.
        integers = pack(f"{2 * size}q", *links)
        numbers = pack(f"{4 * size}d", *corners)
        self._records += bytes(_RECORD.size * size)
        at = 6 * start
        with memoryview(self._records) as raw, raw.cast("q") as words, \
                memoryview(integers).cast("q") as ints, memoryview(numbers).cast("q") as doubles:
            words[at::6] = ints[0::2]
            words[at + 1::6] = ints[1::2]
            for field in range(4):
                words[at + 2 + field::6] = doubles[field::4]

    def pop(self, image: int | str, names: list[str]) -> tuple[Box, ...]:
        """Remove and return the boxes of ``image`` (an id or its ``store_key``), labelled
        with ``names``, in file order."""
        key = image if type(image) is int else store_key(image)
        if type(key) is int and 0 <= key < len(self._table):
            index, self._table[key] = self._table[key], -1
        else:
            index = self._others.pop(key, -1)
        if index < 0:
            return ()
        records, unpack, size = self._records, _RECORD.unpack_from, _RECORD.size
        out = []
        if BOX_TWIN is None:
            while index >= 0:
                index, tag, xmin, ymin, xmax, ymax = unpack(records, size * index)
                out.append(Box(names[tag >> 1], xmin, ymin, xmax, ymax,
                               difficult=_FLAG[tag & DIFFICULT]))
        else:
            twin = BOX_TWIN
            while index >= 0:
                index, tag, xmin, ymin, xmax, ymax = unpack(records, size * index)
                box = twin()
                box.label = names[tag >> 1]
                box.xmin = xmin
                box.ymin = ymin
                box.xmax = xmax
                box.ymax = ymax
                box.difficult = _FLAG[tag & DIFFICULT]
                box.truncated = False
                box.occluded = False
                box.pose = "Unspecified"
                box.__class__ = Box
                out.append(box)
        out.reverse()
        return tuple(out)

    def leftovers(self) -> dict[str, int]:
        """Return how many boxes each image id still holds (those no image claimed), in the
        order of their first box."""
        held = list(self._others.items())
        table = self._table
        if table.count(-1) != len(table):
            held += [(key, index) for key, index in enumerate(table) if index >= 0]
        found = []
        records, unpack, size = self._records, _PREVIOUS.unpack_from, _RECORD.size
        for image, index in held:
            count = first = 0
            while index >= 0:
                count += 1
                first = index
                index = unpack(records, size * index)[0]
            found.append((first, str(image), count))
        found.sort()
        return {image: count for _, image, count in found}
