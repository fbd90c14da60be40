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
from collections import Counter
from collections.abc import Iterable
from typing import Generic, TypeVar

# The stratum of records with neither a category nor a box label.
NO_LABEL = ""
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
    the order they were added.
    """

    def __init__(self, limit: int, seed: int = 0) -> None:
        if limit < 1:
            raise ValueError(f"a sample holds 1 record or more, not {limit}")
        self.limit = limit
        self.seed = seed
        self.seen = 0
        self._tuples: list[tuple[str, ...]] = []
        self._tuple_ids: dict[frozenset[str], int] = {}
        self._tuple_counts: Counter[int] = Counter()
        self._best: dict[str, tuple[int, int]] = {}  # label: (rank, position)
        self._kept: dict[int, tuple[int, int, _T]] = {}  # position: (rank, tuple id, value)
        self._threshold = _ALL
        self._prune_at = 2 * (SPARE * limit + 64)

    def add(self, key: str, category: str | None, labels: Iterable[str], value: _T) -> None:
        """Take the next record; keep ``value`` if the sample may need it."""
        position = self.seen
        self.seen += 1
        seen_labels = frozenset((category,) if category else labels)
        index = self._tuple_ids.get(seen_labels)
        if index is None:
            index = self._tuple_ids[seen_labels] = len(self._tuples)
            self._tuples.append(tuple(sorted(seen_labels - {""})))
        found = self._tuples[index]
        self._tuple_counts[index] += 1
        ranked = rank(self.seed, key)
        keep = ranked < self._threshold
        best = self._best
        for label in found:
            held = best.get(label)
            if held is None or (ranked, position) < held:
                best[label] = (ranked, position)
                keep = True
        if keep:
            self._kept[position] = (ranked, index, value)
        if self.seen > SPARE * self.limit:
            self._threshold = SPARE * self.limit * _ALL // self.seen
        if len(self._kept) > self._prune_at:
            self._prune()

    def _prune(self) -> None:
        """Forget the values no sample can need any more."""
        needed = {position for _rank, position in self._best.values()}
        threshold = self._threshold
        self._kept = {p: kept for p, kept in self._kept.items()
                      if kept[0] < threshold or p in needed}
        self._prune_at = max(2 * len(self._kept), 2 * (SPARE * self.limit + 64))

    def images_per_label(self) -> Counter[str]:
        """Return how many of the records added show each label."""
        counts: Counter[str] = Counter()
        for index, count in self._tuple_counts.items():
            for label in self._tuples[index]:
                counts[label] += count
        return counts

    def choose(self) -> list[_T]:
        """Return the values of the sample, in the order they were added."""
        if self.seen <= self.limit:
            return [self._kept[p][2] for p in sorted(self._kept)]
        per_label = self.images_per_label()
        chosen = self._cover(per_label)
        if len(chosen) < self.limit:
            self._fill(per_label, chosen)
        return [self._kept[p][2] for p in sorted(chosen)]

    def _cover(self, per_label: Counter[str]) -> set[int]:
        """Pick the best-ranked image of each label not shown yet, rarest label first."""
        chosen: set[int] = set()
        shown: set[str] = set()
        for label in sorted(per_label, key=lambda name: (per_label[name], name)):
            if len(chosen) >= self.limit:
                break
            if label in shown:
                continue
            position = self._best[label][1]
            chosen.add(position)
            shown.update(self._tuples[self._kept[position][1]])
        return chosen

    def _fill(self, per_label: Counter[str], chosen: set[int]) -> None:
        """Add images up to the limit, each stratum in proportion to its size, best first."""
        stratum_of: dict[int, str] = {}
        sizes: Counter[str] = Counter()
        for index, count in self._tuple_counts.items():
            labels = self._tuples[index]
            stratum = (min(labels, key=lambda name: (per_label[name], name))
                       if labels else NO_LABEL)
            stratum_of[index] = stratum
            sizes[stratum] += count
        members: dict[str, list[tuple[int, int]]] = {}
        for position, (ranked, index, _value) in self._kept.items():
            if ranked < self._threshold:
                members.setdefault(stratum_of[index], []).append((ranked, position))
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
