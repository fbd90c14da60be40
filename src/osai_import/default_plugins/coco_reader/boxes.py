"""Keep the boxes of a COCO file compactly, and give them back as Box records, fast.

Boxes live in flat arrays, 48 bytes each, from the annotations pass until their image's
entry comes; then they are built by slot (see ``slots``).
"""

from __future__ import annotations

from array import array
from itertools import chain
from operator import add

from osai_import import Box
from osai_import.default_plugins.coco_reader.slots import BOX_SETTERS

DIFFICULT = 1  # the flag of a box kept as difficult
_new = object.__new__


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

    def extend(self, prev: list[int], labels: list[int],
               corners: tuple[list[float], list[float], list[float], list[float]],
               flags: bytes) -> None:
        """Append many boxes at once, linked by their caller (see ``last``).

        ``corners`` holds the boxes' xmin, ymin, xmax and ymax values; ``prev`` the index
        of each box's image's box before it (``last.get(key, -1)``; ``last[key]`` is then
        set to the new box's index); ``flags`` a byte per box.
        """
        self._coords.fromlist(list(chain.from_iterable(zip(*corners, strict=True))))
        tags = list(map(add, labels, map(add, labels, flags)))  # 2 * label + flag
        self._links.fromlist(list(chain.from_iterable(zip(prev, tags, strict=True))))

    def pop(self, image: int | str, names: list[str]) -> tuple[Box, ...]:
        """Remove and return the boxes of ``image`` (an id or its ``store_key``), labelled
        with ``names``, in file order."""
        index = self.last.pop(store_key(image), -1)
        if index < 0:
            return ()
        coords, links = self._coords, self._links
        out = []
        if BOX_SETTERS is None:
            while index >= 0:
                at, tag = 4 * index, links[2 * index + 1]
                out.append(Box(names[tag >> 1], coords[at], coords[at + 1], coords[at + 2],
                               coords[at + 3], difficult=bool(tag & DIFFICULT)))
                index = links[2 * index]
        else:
            label, xmin, ymin, xmax, ymax, difficult, truncated, occluded, pose = BOX_SETTERS
            while index >= 0:
                at, tag = 4 * index, links[2 * index + 1]
                box = _new(Box)
                label(box, names[tag >> 1])
                xmin(box, coords[at])
                ymin(box, coords[at + 1])
                xmax(box, coords[at + 2])
                ymax(box, coords[at + 3])
                difficult(box, bool(tag & DIFFICULT))
                truncated(box, False)
                occluded(box, False)
                pose(box, "Unspecified")
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
