"""Choose which records a preview shows: a sample stratified by category, the same every time.

Every record gets a rank, a 64-bit hash of the seed and its key: the same data and seed
always give the same sample, whatever order the source lists its records in. A record's
labels are its image-level category, or else its box labels. The sample is chosen in two
steps:

1. every label, rarest first, gets the best-ranked image that shows it, unless an image
   already chosen shows it (so each category is seen when the limit allows);
2. the places left are shared among the strata in proportion to their sizes, each
   filling its places with its best-ranked images. A record's stratum is its category,
   or else its rarest box label, or else "no label".

It is done in one pass over the source, keeping few records: the best-ranked record of
each label (step 1), and the records ranked in the best ``SPARE * limit / n`` share of
the ``n`` seen so far (step 2 draws from those: about ``SPARE`` times what it needs,
whatever the stratum; a record ranked there at the end was ranked there when it came).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import Generic, TypeVar

# How many times the places of step 2 the records kept for it are, on average.
SPARE = 4
_ALL = 1 << 64
_T = TypeVar("_T")


def rank(seed: int, key: str) -> int:
    """Return a record's rank: a stable 64-bit hash of the seed and its key (lower first)."""
    data = f"{seed}\x1f{key}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class Sampler(Generic[_T]):
    """Take records one at a time, keep the few a sample may need, choose the sample at the end.

    ``add`` takes a record's key, category and box labels and what to keep of it (the
    record, or the checked item); ``choose`` returns the kept values of the sample, in
    the order they were added. Per record it keeps only its labels, as small integers
    in one array (a few bytes), for the strata.
    """

    def __init__(self, limit: int, seed: int = 0) -> None:
        if limit < 1:
            raise ValueError(f"a sample holds 1 record or more, not {limit}")
        self.limit = limit
        self.seed = seed
        self.seen = 0
        self._label_ids: dict[str, int] = {}
        self._names: list[str] = []
        self._images: list[int] = []  # per label id: the records that show it
        self._flat = array("I")  # every record's label ids, one record after another
        self._ends = array("Q")  # where each record's label ids end in _flat
        # Per label id: the best rank of a record showing it, and that record's position.
        self._best_rank: list[int] = []
        self._best_at: list[int] = []
        self._kept: dict[int, tuple[int, _T]] = {}  # position: (rank, value)
        self._threshold = _ALL
        self._prune_at = 2 * (SPARE * limit + 64)

    def add(self, key: str, category: str | None, labels: Iterable[str], value: _T) -> None:
        """Take the next record; keep ``value`` if the sample may need it."""
        position = self.seen
        self.seen = position + 1
        names = {category} if category else set(labels)
        names.discard("")
        ids, images, best_rank, best_at = (self._label_ids, self._images, self._best_rank,
                                           self._best_at)
        ranked = rank(self.seed, key)
        keep = ranked < self._threshold
        found = []
        for label in names:
            index = ids.get(label)
            if index is None:
                index = ids[label] = len(self._names)
                self._names.append(label)
                images.append(0)
                best_rank.append(_ALL)
                best_at.append(-1)
            found.append(index)
            images[index] += 1
            # Positions only grow: a tie in rank keeps the earlier record.
            if ranked < best_rank[index]:
                best_rank[index] = ranked
                best_at[index] = position
                keep = True
        self._flat.extend(found)
        self._ends.append(len(self._flat))
        if keep:
            self._kept[position] = (ranked, value)
        if self.seen > SPARE * self.limit:
            self._threshold = SPARE * self.limit * _ALL // self.seen
        if len(self._kept) > self._prune_at:
            self._prune()

    def _prune(self) -> None:
        """Forget the values no sample can need any more."""
        needed = set(self._best_at)
        threshold = self._threshold
        self._kept = {p: kept for p, kept in self._kept.items()
                      if kept[0] < threshold or p in needed}
        self._prune_at = max(2 * len(self._kept), 2 * (SPARE * self.limit + 64))

    def _labels_of(self, position: int) -> array[int]:
        start = self._ends[position - 1] if position else 0
        return self._flat[start:self._ends[position]]

    def images_per_label(self) -> Counter[str]:
        """Return how many of the records added show each label."""
        return Counter(dict(zip(self._names, self._images, strict=True)))

    def choose(self) -> list[_T]:
        """Return the values of the sample, in the order they were added."""
        if self.seen <= self.limit:
            return [self._kept[p][1] for p in sorted(self._kept)]
        # Labels in order of rarity (fewest images first, then by name): the first of a
        # record's labels in this order is its rarest.
        rarity = sorted(range(len(self._names)),
                        key=lambda i: (self._images[i], self._names[i]))
        chosen = self._cover(rarity)
        if len(chosen) < self.limit:
            self._fill(rarity, chosen)
        return [self._kept[p][1] for p in sorted(chosen)]

    def _cover(self, rarity: list[int]) -> set[int]:
        """Pick the best-ranked image of each label not shown yet, rarest label first."""
        chosen: set[int] = set()
        shown: set[int] = set()
        for index in rarity:
            if len(chosen) >= self.limit:
                break
            if index in shown:
                continue
            position = self._best_at[index]
            chosen.add(position)
            shown.update(self._labels_of(position))
        return chosen

    def _fill(self, rarity: list[int], chosen: set[int]) -> None:
        """Add images up to the limit, each stratum in proportion to its size, best first."""
        place = [0] * len(rarity)
        for rarer, index in enumerate(rarity):
            place[index] = rarer
        # A record's stratum: its rarest label, or -1 (no label).
        sizes: Counter[int] = Counter()
        flat, start = self._flat, 0
        rarest = place.__getitem__
        for end in self._ends:
            sizes[min(flat[start:end], key=rarest, default=-1)] += 1
            start = end
        members: dict[int, list[tuple[int, int]]] = {}
        for position, (ranked, _value) in self._kept.items():
            if ranked < self._threshold:
                stratum = min(self._labels_of(position), key=rarest, default=-1)
                members.setdefault(stratum, []).append((ranked, position))
        # Systematic allocation: the i-th best of a stratum of n comes at (i + 0.5) / n,
        # so the first k of all strata merged give each about k * n / total places.
        order: list[tuple[float, int, int]] = []
        for stratum, ranked_members in members.items():
            ranked_members.sort()
            size = sizes[stratum]
            order.extend(((i + 0.5) / size, r, p) for i, (r, p) in enumerate(ranked_members))
        order.sort()
        for _share, _rank, position in order:
            if len(chosen) >= self.limit:
                break
            chosen.add(position)
