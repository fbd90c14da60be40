"""Keep the boxes of a COCO file compactly, and give them back as Box records, fast.

Boxes live in flat arrays, 48 bytes each, from the annotations pass until their image's
entry comes; then they are built by slot (see ``slots``).
"""

from __future__ import annotations

from array import array
from struct import pack

from osai_import import Box
from osai_import.default_plugins.coco_reader.slots import BOX_TWIN

DIFFICULT = 1  # the flag of a box kept as difficult
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

    Each box is four doubles in one array and two integers in another: the index of its
    image's box before it (-1 for the first) and its label index times two plus its flag,
    48 bytes in all; a dict maps each image key to its last box. A box's values sit side
    by side, so reading one back costs two cache misses, not one per field. Segmentation
    is never kept.
    """

    def __init__(self) -> None:
        self._coords = array("d")  # xmin, ymin, xmax, ymax of each box
        self._links = array("q")  # previous box of the same image, label * 2 + flag
        self.last: dict[int | str, int] = {}  # each image's last box, by store_key

    def __len__(self) -> int:
        return len(self._links) // 2

    def add(self, image: str, label: int, box: tuple[float, float, float, float],
            flags: int) -> None:
        """Append one box of image ``image`` (its ``id_key``)."""
        index = len(self)
        key = store_key(image)
        self._coords.extend(box)
        self._links.extend((self.last.get(key, -1), 2 * label + flags))
        self.last[key] = index

    def extend(self, keys: list[int | str], tags: list[int], corners: list[float]) -> None:
        """Append many boxes at once, in file order.

        ``keys`` holds each box's image key (``store_key``), ``tags`` its label index times
        two plus its flag, ``corners`` its xmin, ymin, xmax and ymax, box after box.
        """
        last = self.last
        count = len(self)
        prev = []
        for key in keys:
            prev.append(last.get(key, -1))
            last[key] = count
            count += 1
        links = [0] * (2 * len(prev))
        links[0::2] = prev
        links[1::2] = tags
        # struct packs a list into the arrays' own bytes about twice as fast as fromlist.
        self._links.frombytes(pack(f"{len(links)}q", *links))
        self._coords.frombytes(pack(f"{len(corners)}d", *corners))

    def pop(self, image: int | str, names: list[str]) -> tuple[Box, ...]:
        """Remove and return the boxes of ``image`` (an id or its ``store_key``), labelled
        with ``names``, in file order."""
        index = self.last.pop(image if type(image) is int else store_key(image), -1)
        if index < 0:
            return ()
        coords, links = self._coords, self._links
        out = []
        if BOX_TWIN is None:
            while index >= 0:
                at, tag = 4 * index, links[2 * index + 1]
                out.append(Box(names[tag >> 1], coords[at], coords[at + 1], coords[at + 2],
                               coords[at + 3], difficult=_FLAG[tag & DIFFICULT]))
                index = links[2 * index]
        else:
            twin = BOX_TWIN
            while index >= 0:
                at, tag = 4 * index, links[2 * index + 1]
                box = twin()
                box.label = names[tag >> 1]
                box.xmin = coords[at]
                box.ymin = coords[at + 1]
                box.xmax = coords[at + 2]
                box.ymax = coords[at + 3]
                box.difficult = _FLAG[tag & DIFFICULT]
                box.truncated = False
                box.occluded = False
                box.pose = "Unspecified"
                box.__class__ = Box
                out.append(box)
                index = links[2 * index]
        out.reverse()
        return tuple(out)

    def leftovers(self) -> dict[str, int]:
        """Return how many boxes each image id still holds (those no image claimed)."""
        counts: dict[str, int] = {}
        for image, index in self.last.items():
            count = 0
            while index >= 0:
                count += 1
                index = self._links[2 * index]
            counts[str(image)] = count
        return counts
