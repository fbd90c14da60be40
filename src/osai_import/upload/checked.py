"""Read a checked image file in blocks, as many times as a chunk is sent, never other bytes.

A chunk's body is streamed from the files (``multipart.ChunkBody``) instead of being held
in memory, so each image is read twice: once before its chunk leaves, to digest it for
the journal (``digest_file``), and once more for every try that sends it
(``stream_file``). Each read opens the path anew as ``source.files.checked_blocks`` does
(the open descriptor checked against what the check saw, exactly that many bytes read),
the mechanism every read of a checked file shares. A stream digests
what it reads and holds the file's last block back until the digest is the journal's:
a file changed since it was digested fails by name, and its chunk's body never ends, so
the server stores nothing of it.

Every failure is an ItemError (``image.changed``, ``image.missing``, ``image.unreadable``),
never an OSError: the HTTP stack would take an OSError raised while a body is read for a
broken connection and try again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from osai_import.errors import ItemError
from osai_import.location import SourcePath
from osai_import.source.files import (
    BlobFacts,
    Facts,
    FileFacts,
    changed,
    checked_blocks,
    facts_of,
    open_image,
    read_many,
)

# Large enough that a 150 KB photo is one read and one send, small enough that a worker
# holds little: the block in hand and the one held back.
BLOCK = 256 * 1024
HEAD = 16  # bytes kept from the start of a file, for its part's Content-Type


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A local image file as digested before its chunk left: what every send must read.

    ``sha256`` is the digest the journal records; ``head`` the file's first bytes (its
    format, for the part's Content-Type).
    """

    path: Path
    facts: FileFacts
    sha256: str
    head: bytes

    @property
    def size(self) -> int:
        """Return the file's size, as the check saw it."""
        return self.facts.size


def digest_file(path: Path, facts: FileFacts) -> CheckedFile:
    """Read the file the check saw at ``path`` once; return its digest and first bytes.

    Raises ItemError ``image.changed`` when the path now holds another file or the same
    file with another size or time, ``image.missing`` or ``image.unreadable``.
    """
    digest = hashlib.sha256()
    head = b""
    for block in checked_blocks(path, facts, BLOCK):
        if len(head) < HEAD:
            head += block[:HEAD - len(head)]
        digest.update(block)
    return CheckedFile(path, facts, digest.hexdigest(), head)


def read_for_send(
    jobs: Sequence[tuple[Path | SourcePath, Facts | None]],
) -> list[tuple[bytes | CheckedFile, str, Facts] | ItemError]:
    """Digest each ``(path, facts)`` as the check saw it; return what its chunk will send.

    A local file gives a ``CheckedFile`` (streamed when sent, compared with this digest);
    without facts (unchecked), the file as it is now. An image in an archive or a bucket
    gives its bytes, read whole and compared with the check's digest (``read_many``):
    its store is read once. Returns, in order, ``(data, digest, facts)`` or the ItemError
    that refused it.
    """
    done: dict[int, tuple[bytes | CheckedFile, str, Facts] | ItemError] = {}
    stored: list[int] = []
    for k, (path, facts) in enumerate(jobs):
        if isinstance(path, SourcePath) or isinstance(facts, BlobFacts):
            stored.append(k)
            continue
        try:
            if facts is None:
                fd, st, link = open_image(path)
                os.close(fd)
                facts = facts_of(st, link)
            source = digest_file(path, facts)
            done[k] = (source, source.sha256, facts)
        except ItemError as exc:
            done[k] = exc
    if stored:
        fetched = read_many([jobs[k] for k in stored])
        done.update(zip(stored, fetched, strict=True))
    return [done[k] for k in range(len(jobs))]


def stream_file(source: CheckedFile) -> Iterator[bytes]:
    """Yield the bytes of ``source`` in blocks, the last one only once the digest matches.

    Opens the file anew on each call (each try of a chunk calls it again). Raises
    ItemError ``image.changed`` before the last block when the bytes are not those
    ``digest_file`` digested.
    """
    digest = hashlib.sha256()
    held: bytes | None = None
    for block in checked_blocks(source.path, source.facts, BLOCK):
        if held is not None:
            yield held
        digest.update(block)
        held = block
    if digest.hexdigest() != source.sha256:
        raise changed(source.path, "its bytes are not those digested before its chunk left")
    if held is not None:
        yield held
