"""The limits past which an archive is refused as a possible decompression bomb."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveLimits:
    """Bound what an archive may declare and expand to before any of it is read.

    ``max_ratio`` bounds how many times a member may expand (uncompressed size over
    compressed size); members smaller than ``min_ratio_size`` are not ratio-checked, as a
    tiny file compresses well without being a bomb. The same ratio bounds the archive as
    a whole once it has expanded past ``16 * min_ratio_size``, which catches a bomb spread
    over many members each too small to be checked alone. ``max_total_size`` bounds the
    sum of the members' declared sizes; ``max_members`` counts files and folders.
    """

    max_ratio: float = 200.0
    min_ratio_size: int = 1 << 20
    max_member_size: int = 1 << 32  # 4 GiB: no image is bigger
    max_total_size: int = 1 << 40
    max_members: int = 10_000_000

    def __post_init__(self) -> None:
        for field in ("max_ratio", "min_ratio_size", "max_member_size", "max_total_size",
                      "max_members"):
            if getattr(self, field) <= 0:
                raise ValueError(f"ArchiveLimits.{field} must be positive")

    @property
    def whole_ratio_size(self) -> int:
        """Return how far an archive as a whole may expand before its ratio is checked."""
        return 16 * self.min_ratio_size


DEFAULT_LIMITS = ArchiveLimits()
