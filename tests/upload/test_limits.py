"""ChunkLimits: what a refusal teaches about the largest chunk the server takes."""

from __future__ import annotations

from osai_import.upload.limits import ChunkLimits


def test_a_certain_refusal_lowers_the_limit_and_the_gap_is_halved_chunk_by_chunk() -> None:
    limits = ChunkLimits(max_images=16, max_bytes=10_000_000)
    limits.refused(16, 1_600, certain=True)
    assert limits.learned
    assert limits.current() == (8, 1_599)
    limits.accepted(8, 800)
    assert limits.current()[0] == 12
    limits.refused(12, 1_200)
    assert limits.current()[0] == 10
    limits.accepted(10, 1_000)
    assert limits.current()[0] == 11
    limits.accepted(11, 1_100)
    assert limits.current()[0] == 11, "11 passes and 12 is refused: 11 it stays"


def test_an_unsure_refusal_within_what_passed_before_teaches_nothing() -> None:
    limits = ChunkLimits(max_images=8, max_bytes=10_000_000)
    limits.accepted(8, 8_000)
    # A chunk of 8 whose connection dropped twice, then whose halves passed: a chunk as
    # large went through before, so it met a passing fault, not a limit.
    limits.refused(8, 7_900, certain=False)
    assert not limits.learned
    assert limits.current() == (8, 10_000_000)


def test_an_unsure_refusal_beyond_what_passed_is_taken_for_a_limit() -> None:
    limits = ChunkLimits(max_images=8, max_bytes=10_000_000)
    limits.accepted(4, 4_000)
    limits.refused(8, 8_000, certain=False)
    assert limits.learned
    assert limits.current() == (6, 7_999)


def test_an_unsure_refusal_of_more_bytes_but_no_more_images_lowers_only_the_bytes() -> None:
    limits = ChunkLimits(max_images=8, max_bytes=10_000_000)
    limits.accepted(8, 4_000)
    limits.refused(8, 9_000, certain=False)
    assert not limits.learned, "8 images passed before: the count is not the limit"
    assert limits.current() == (8, 8_999)
