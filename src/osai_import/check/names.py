"""Find remote names that collide across a whole record stream, with little memory.

Two names collide when their stems are equal ignoring case after Unicode NFC
normalization (``a.png`` and ``A.jpg``; ``café.jpg`` typed on macOS and on Linux),
because OSAI matches an annotation to its image by name. ``NamePlan`` keeps only 64-bit
hashes in sorted arrays (8 bytes per image and per hashed value), never the records.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import unicodedata
from array import array
from collections.abc import Iterable

from osai_import.check.rules import invalid_name_reason, name_key, normalize, split_name
from osai_import.config.models import CheckConfig
from osai_import.records import ImageRecord, Problem, Severity

_BUCKETS = 256
_FALLBACK_HASH_BYTES = 6
# Leaves room for the extension and the fallback hash within the 255-byte name limit.
_MAX_CANDIDATE_BYTES = 200
_UNSAFE_IN_NAME = frozenset('/\\:*?"<>|')


def value_hash(text: str) -> int:
    """Return a stable 64-bit hash of ``text`` (the same in every run and process)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class HashCounts:
    """A multiset of 64-bit hashes in 8 bytes each: appended in bulk, sorted once, queried."""

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(_BUCKETS)]
        self._sorted = False

    def add(self, value: int) -> None:
        self._buckets[value & (_BUCKETS - 1)].append(value)

    def freeze(self) -> None:
        # Sorting bucket by bucket keeps the temporary list to 1/256 of the data.
        for index, bucket in enumerate(self._buckets):
            self._buckets[index] = array("Q", sorted(bucket))
        self._sorted = True

    def count(self, value: int) -> int:
        bucket = self._buckets[value & (_BUCKETS - 1)]
        return bisect.bisect_right(bucket, value) - bisect.bisect_left(bucket, value)

    def has_repeats(self) -> bool:
        return any(
            bucket[i] == bucket[i - 1] for bucket in self._buckets for i in range(1, len(bucket))
        )


class NamePlan:
    """Plan unique remote names over a whole stream: ``add`` every record, then ``resolve``.

    Under the ``disambiguate`` policy every member of a colliding group is renamed,
    deterministically and independently of the reading order: the folders of its key
    (its relative path) are prefixed to the stem (``train/cats/a.jpg`` becomes
    ``train_cats_a.jpg``); a record at the root gets its extension in the stem
    (``a_png.png``); and when such a name would itself meet another name, a short hash
    of the key is appended. ``resolve`` is thread-safe once ``add`` calls are over.
    """

    def __init__(self, policy: CheckConfig | None = None) -> None:
        self.policy = policy or CheckConfig()
        self._disambiguate = self.policy.name_collisions == "disambiguate"
        self._stems = HashCounts()
        self._keys = HashCounts()
        self._candidates = HashCounts()
        self._frozen = False
        self._has_collisions = False
        self._lock = threading.Lock()

    def add(self, record: ImageRecord) -> None:
        """Count one record of the first pass."""
        if self._frozen:
            raise RuntimeError("NamePlan.add called after resolve: add every record first")
        self._stems.add(value_hash(name_key(record.name)))
        self._keys.add(value_hash(record.key))
        if self._disambiguate:
            self._candidates.add(value_hash(_candidate_stem(record).casefold()))

    def add_all(self, records: Iterable[ImageRecord]) -> None:
        """Count every record of an iterable (the first pass)."""
        for record in records:
            self.add(record)

    def freeze(self) -> None:
        """End the first pass: sort the hashes (``resolve`` does it when not done yet)."""
        if self._frozen:
            return
        with self._lock:
            if self._frozen:
                return
            for counts in (self._stems, self._keys, self._candidates):
                counts.freeze()
            self._has_collisions = self._stems.has_repeats()
            self._frozen = True

    @property
    def has_collisions(self) -> bool:
        """Return True when at least two records share a remote name (or a key)."""
        self.freeze()
        return self._has_collisions

    def repeats(self, record: ImageRecord) -> int:
        """Return how many records of the stream have ``record``'s key (1: it is unique)."""
        self.freeze()
        return self._keys.count(value_hash(record.key))

    def resolve(self, record: ImageRecord) -> tuple[str, Problem | None]:
        """Return the remote name to use and the collision problem, if any (second pass)."""
        self.freeze()
        name = normalize(record.name)
        others = self._stems.count(value_hash(name_key(name))) - 1
        if others <= 0:
            return name, None
        repeats = self._keys.count(value_hash(record.key))
        if repeats > 1:
            return name, Problem(
                "record.duplicate",
                Severity.ERROR,
                f"the source lists this item {repeats} times (same key); remove the repeated "
                "entries (for instance repeated rows of a CSV manifest)",
                record.key,
            )
        why = (
            f"the name {name!r} collides with {others} other image(s) of the source (names are "
            "compared without their extension and ignoring case, because OSAI matches "
            "annotations to images by name)"
        )
        if not self._disambiguate:
            return name, Problem(
                "name.collision",
                Severity.ERROR,
                f"{why}; rename the files, or set check.name_collisions: disambiguate to "
                "derive unique names from their folders",
                record.key,
            )
        new_name = self._unique_name(record)
        return new_name, Problem(
            "name.collision",
            Severity.WARNING,
            f"{why}; it is uploaded as {new_name!r} (check.name_collisions: disambiguate)",
            record.key,
        )

    def _unique_name(self, record: ImageRecord) -> str:
        stem = _candidate_stem(record)
        _, suffix = split_name(normalize(record.name))
        folded = stem.casefold()
        clash = (
            self._stems.count(value_hash(folded)) > 0
            or self._candidates.count(value_hash(folded)) > 1
            or len(stem.encode("utf-8", "surrogatepass")) > _MAX_CANDIDATE_BYTES
        )
        if clash:
            digest = hashlib.blake2b(
                record.key.encode("utf-8", "surrogatepass"), digest_size=_FALLBACK_HASH_BYTES
            ).hexdigest()
            stem = _truncate(stem, _MAX_CANDIDATE_BYTES - len(digest) - 1) + "_" + digest
        return stem + suffix


def _candidate_stem(record: ImageRecord) -> str:
    """Derive the readable stem a colliding record is renamed to, from its key."""
    stem, suffix = split_name(normalize(record.name))
    parts = [
        p for p in normalize(record.key).replace("\\", "/").split("/") if p not in ("", ".", "..")
    ]
    if parts and name_key(parts[-1]) == stem.casefold():
        parts.pop()  # the key is a relative path ending with the file itself
    if not parts:
        # Same folder, so only the extension (or the letter case) tells the names apart.
        parts = [suffix.lstrip(".").lower()] if suffix else []
        return "_".join([stem, *map(_safe_part, parts)])
    return "_".join([*map(_safe_part, parts), stem])


def _safe_part(part: str) -> str:
    cleaned = "".join(
        "_" if ch in _UNSAFE_IN_NAME or unicodedata.category(ch) == "Cc" else ch for ch in part
    )
    return cleaned if invalid_name_reason(cleaned) is None else "_"


def _truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8", "surrogatepass")[:max_bytes]
    return encoded.decode("utf-8", "ignore")
