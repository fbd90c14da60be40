"""The seekable gzip reader: checkpoints, reads at any offset, several members, damage."""

from __future__ import annotations

import gzip
import io
import os
import random
import zlib
from itertools import pairwise

import pytest

from osai_import.source.archive.gzindex import GzipIndex, GzipIndexer, index_gzip

SPACING = 1 << 20


def stream(data: bytes, cuts: tuple[int, ...] = ()) -> bytes:
    """Return ``data`` gzipped as one member per piece between ``cuts``, zeros between."""
    bounds = [0, *cuts, len(data)]
    members = [gzip.compress(data[a:b], 6) for a, b in pairwise(bounds)]
    return b"\0\0".join(members)


def read_at(index: GzipIndex, packed: bytes, start: int, size: int) -> bytes:
    reader = index.reader(io.BytesIO(packed), start)
    out = b""
    while len(out) < size and (piece := reader.read(size - len(out))):
        out += piece
    reader.close()
    return out


def test_reads_anywhere_in_a_multi_member_stream_are_exact() -> None:
    # Half random, half text: checkpoints land inside members and between them.
    data = os.urandom(3 << 20) + b"the quick brown fox " * 150_000
    packed = stream(data, cuts=(1_000_003, 2_500_000, 4_000_000))
    index = index_gzip(io.BytesIO(packed), spacing=SPACING)
    assert index.size == len(data)
    assert index.checkpoints >= len(data) // SPACING
    rng = random.Random(7)
    for start in [0, len(data) - 5, 1_000_003, 2_499_990, *rng.sample(range(len(data)), 25)]:
        size = rng.randrange(1, 300_000)
        assert read_at(index, packed, start, size) == data[start:start + size], start
    assert read_at(index, packed, len(data), 10) == b""


def test_a_read_decompresses_at_most_one_interval_before_its_bytes() -> None:
    data = os.urandom(6 << 20)
    packed = stream(data)
    index = index_gzip(io.BytesIO(packed), spacing=SPACING)
    for start in (5 << 20, (5 << 20) - 1, 3_333_333):
        before = index.bytes_decompressed
        assert read_at(index, packed, start, 1000) == data[start:start + 1000]
        assert index.bytes_decompressed - before <= SPACING + (128 << 10) + 1000


def test_the_index_pass_reads_forward_and_seeks_ahead() -> None:
    data = os.urandom(500_000)
    indexer = GzipIndexer(io.BytesIO(stream(data, cuts=(200_000,))), spacing=SPACING)
    assert indexer.read(10) == data[:10]
    assert indexer.seek(300_000) == 300_000
    assert indexer.read(5) == data[300_000:300_005]
    indexer.seek(-5, io.SEEK_CUR)  # back within the piece just decompressed
    assert indexer.read(5) == data[300_000:300_005]
    with pytest.raises(io.UnsupportedOperation):
        indexer.seek(0)
    indexer.seek(10 << 20)
    assert indexer.read(1) == b""
    assert indexer.finish().size == len(data)


def test_an_empty_stream_has_no_bytes() -> None:
    assert index_gzip(io.BytesIO(b"")).size == 0
    assert index_gzip(io.BytesIO(gzip.compress(b""))).size == 0


def test_a_cut_stream_and_a_corrupt_one_raise_what_gzip_raises() -> None:
    packed = stream(os.urandom(200_000), cuts=(100_000,))
    with pytest.raises(EOFError, match="ends inside a member"):
        index_gzip(io.BytesIO(packed[:-100]))
    corrupt = bytearray(packed)
    corrupt[50_000] ^= 0xFF
    with pytest.raises(zlib.error):
        index_gzip(io.BytesIO(bytes(corrupt)))
    with pytest.raises(zlib.error):
        index_gzip(io.BytesIO(packed + b"garbage"))
