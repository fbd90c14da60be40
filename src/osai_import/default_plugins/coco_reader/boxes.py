"""Keep the boxes of a COCO file compactly, and give them back as Box records, fast.

Boxes live in one flat buffer, 48 bytes each, from the annotations pass until their
image's entry comes; then they are built by slot (see ``slots``).
"""

from __future__ import annotations

from struct import Struct, pack

from osai_import import Box
from osai_import.default_plugins.coco_reader.slots import BOX_TWIN

DIFFICULT = 1  # the flag of a box kept as difficult
# A box: its image's box before it, label * 2 + flag, xmin, ymin, xmax, ymax (native order).
_RECORD = Struct("qqdddd")
_PREVIOUS = Struct("q")  # the first field alone
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
    xmax and ymax; a dict maps each image key to its last box. Reading a box back is one
    call and, the boxes of an image being spread over the file, one cache miss where two
    arrays (links, corners) took two. Segmentation is never kept.
    """

    def __init__(self) -> None:
        self._records = bytearray()
        self.last: dict[int | str, int] = {}  # each image's last box, by store_key

    def __len__(self) -> int:
        return len(self._records) // _RECORD.size

    def add(self, image: str, label: int, box: tuple[float, float, float, float],
            flags: int) -> None:
        """Append one box of image ``image`` (its ``id_key``)."""
        index = len(self)
        key = store_key(image)
        self._records += _RECORD.pack(self.last.get(key, -1), 2 * label + flags, *box)
        self.last[key] = index

    def extend(self, keys: list[int | str], tags: list[int], corners: list[float]) -> None:
        """Append many boxes at once, in file order.

        ``keys`` holds each box's image key (``store_key``), ``tags`` its label index times
        two plus its flag, ``corners`` its xmin, ymin, xmax and ymax, box after box.
        """
        if not keys:
            return
        last = self.last
        count = start = len(self)
        prev = []
        for key in keys:
            prev.append(last.get(key, -1))
            last[key] = count
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
        index = self.last.pop(image if type(image) is int else store_key(image), -1)
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
        """Return how many boxes each image id still holds (those no image claimed)."""
        counts: dict[str, int] = {}
        records, unpack, size = self._records, _PREVIOUS.unpack_from, _RECORD.size
        for image, index in self.last.items():
            count = 0
            while index >= 0:
                count += 1
                index = unpack(records, size * index)[0]
            counts[str(image)] = count
        return counts
