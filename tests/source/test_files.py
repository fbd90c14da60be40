"""Opening an image once, safely, and reading at send time the very file the check saw."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from osai_import.errors import ItemError
from osai_import.source.files import (
    FileFacts,
    digest_checked,
    facts_of,
    open_image,
    read_checked,
    read_image,
    what_changed,
)
from tests.support import make_image


def checked(path: Path) -> FileFacts:
    fd, st, link = open_image(path)
    os.close(fd)
    return facts_of(st, link)


def refused(call: object, *args: object) -> ItemError:
    done: list[ItemError] = []

    def attempt() -> None:
        try:
            call(*args)  # type: ignore[operator]
        except ItemError as exc:
            done.append(exc)

    # A FIFO must never block: the call runs in a thread that must end at once.
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "the call blocked"
    assert done, "the call was not refused"
    return done[0]


def test_the_bytes_and_digest_are_those_of_the_file(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.jpg", 40, 30)
    facts = checked(path)
    data, digest = read_checked(path, facts)
    assert data == path.read_bytes()
    assert digest == hashlib.sha256(data).hexdigest() == digest_checked(path, facts)
    assert read_image(path) == (data, digest, facts)
    assert (facts.size, facts.link) == (len(data), False)


def test_open_refuses_what_is_not_a_regular_file_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert refused(open_image, fifo).code == "image.unreadable"
    assert refused(open_image, tmp_path).code == "image.unreadable"
    assert refused(open_image, tmp_path / "gone.jpg").code == "image.missing"
    empty = tmp_path / "empty.jpg"
    empty.touch()
    assert refused(open_image, empty).code == "image.empty"


def test_a_symbolic_link_the_reader_allowed_is_followed_and_noted(tmp_path: Path) -> None:
    target = make_image(tmp_path / "real.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    facts = checked(link)
    assert facts.link is True
    assert read_checked(link, facts)[0] == target.read_bytes()


@pytest.mark.parametrize("swap", ["fifo", "symlink", "other file", "rewritten", "removed"])
def test_a_file_swapped_after_the_check_is_refused_by_name(tmp_path: Path, swap: str) -> None:
    path = make_image(tmp_path / "a.jpg", 40, 30)
    outside = make_image(tmp_path / "elsewhere" / "secret.jpg", 40, 30, (1, 2, 3))
    facts = checked(path)
    if swap == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif swap == "symlink":
        path.unlink()
        path.symlink_to(outside)
    elif swap == "other file":
        data = outside.read_bytes()
        path.unlink()
        path.write_bytes(data)
        os.utime(path, ns=(facts.mtime_ns, facts.mtime_ns))
    elif swap == "rewritten":
        make_image(path, 60, 50)
    else:
        path.unlink()
    error = refused(read_checked, path, facts)
    assert (str(path) in str(error) and "was not sent" in str(error)) or swap == "removed"
    expected = {"fifo": "image.changed", "symlink": "image.changed", "other file": "image.changed",
                "rewritten": "image.changed", "removed": "image.missing"}[swap]
    assert error.code == expected


def test_what_changed_says_which_way(tmp_path: Path) -> None:
    was = FileFacts(1, 2, 3, 4, False)
    assert what_changed(was, FileFacts(1, 2, 3, 4, True)) == "its path is now a symbolic link"
    assert what_changed(was, FileFacts(1, 9, 3, 4, False)) == "another file now has its name"
    assert "size or modification time" in what_changed(was, FileFacts(1, 2, 5, 4, False))
