"""Archives read in place: listing, exact bytes, streams, random order, threads, names."""

from __future__ import annotations

import gzip
import os
import struct
import threading
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from osai_import.errors import SourceError
from osai_import.source.archive import (
    ARCHIVE_SUFFIXES,
    Member,
    TarArchive,
    archive_kind,
    open_archive,
)
from tests.source.archive.builders import (
    MTIME,
    make_tar,
    make_zip,
    open_path,
    opener,
    tar_bytes,
)

SUFFIXES = [".zip", ".tar", ".tgz"]


def make(path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    if path.suffix == ".zip":
        return make_zip(path, files, dirs=[d.rstrip("/") + "/" for d in dirs])
    return make_tar(path, files, dirs=dirs)


def test_the_kind_comes_from_the_suffix_in_any_case() -> None:
    assert ARCHIVE_SUFFIXES == (".zip", ".tar", ".tar.gz", ".tgz")
    assert [archive_kind(n) for n in ("a.zip", "b.ZIP", "c.tar", "d.Tar.Gz", "e.TGZ")] == [
        "zip", "zip", "tar", "tar.gz", "tar.gz"]
    assert [archive_kind(n) for n in ("f.gz", "g.jpg", "zip", "h.tar.bz2")] == [None] * 4


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_members_are_files_and_folders_listed_or_implied(tmp_path: Path, suffix: str) -> None:
    files = {"train/cat/1.jpg": os.urandom(3000), "train/dog/2.jpg": b"d" * 70_000,
             "labels.csv": b"name,label\n"}
    path = make(tmp_path / f"set{suffix}", files, dirs=("empty",))
    with open_path(path) as archive:
        assert archive.label == str(path)
        assert archive.kind == {".zip": "zip", ".tar": "tar", ".tgz": "tar.gz"}[suffix]
        members = archive.members()
        assert set(members) == {"train", "train/cat", "train/dog", "empty", *files}
        assert members["train/cat"] == Member("train/cat", 0, True, None)
        assert members["empty"].is_dir
        assert members["train/dog/2.jpg"].size == 70_000
        assert not members["train/dog/2.jpg"].is_dir
        for name, data in files.items():
            assert archive.read_member(name) == data


@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
def test_tar_names_lose_dot_slashes_and_the_root_entry(tmp_path: Path, suffix: str) -> None:
    path = make_tar(tmp_path / f"set{suffix}", {"./a/b.jpg": b"b", "./c.jpg": b"c"},
                    dirs=("./", "./a", "a/"))  # a folder may be listed twice
    with open_path(path) as archive:
        assert set(archive.members()) == {"a", "a/b.jpg", "c.jpg"}
        assert archive.members()["a/b.jpg"].mtime == MTIME
        assert archive.members()["a"].mtime == MTIME  # listed, not only implied
        assert archive.read_member("a/b.jpg") == b"b"


def test_a_zip_member_time_is_its_extended_timestamp_or_its_dos_time(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("utc.jpg", (2000, 1, 1, 0, 0, 0))
        info.extra = struct.pack("<HHBi", 0x5455, 5, 1, MTIME)
        archive.writestr(info, b"x")
        archive.writestr(zipfile.ZipInfo("dos.jpg", (2021, 5, 6, 7, 8, 10)), b"y")
    with open_path(path) as archive:
        assert archive.members()["utc.jpg"].mtime == MTIME
        assert archive.members()["dos.jpg"].mtime == datetime(2021, 5, 6, 7, 8, 10).timestamp()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_open_member_streams_the_bytes_in_pieces(tmp_path: Path, suffix: str) -> None:
    data = os.urandom(300_000)
    path = make(tmp_path / f"s{suffix}", {"big.png": data, "after.png": b"after"})
    with open_path(path) as archive, archive.open_member("big.png") as stream:
        pieces = []
        while piece := stream.read(7_777):
            assert len(piece) <= 7_777
            pieces.append(piece)
        assert len(pieces) > 30
        assert b"".join(pieces) == data
        assert stream.read(10) == b""


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_unknown_name_or_a_folder_is_no_member_to_open(tmp_path: Path, suffix: str) -> None:
    path = make(tmp_path / f"s{suffix}", {"a/b.jpg": b"b"})
    with open_path(path) as archive:
        with pytest.raises(SourceError, match=r"s\..*: the archive has no member 'a/c.jpg'"):
            archive.open_member("a/c.jpg")
        with pytest.raises(SourceError, match="has a folder, not a file, at 'a'"):
            archive.read_member("a")


@pytest.fixture(scope="module")
def big_tgz(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    # Incompressible bytes: 40 MiB of output, five checkpoints 8 MiB apart.
    files = {f"part{n}.bin": os.urandom((8 << 20) + n * 1000) for n in range(5)}
    path = tmp_path_factory.mktemp("big") / "big.tgz"
    return make_tar(path, files), files


def test_tgz_members_read_in_reverse_order_from_the_nearest_checkpoint(
        big_tgz: tuple[Path, dict[str, bytes]]) -> None:
    path, files = big_tgz
    with open_path(path) as archive:
        assert isinstance(archive, TarArchive)
        assert archive.checkpoints >= 5
        for name in reversed(list(files)):
            before = archive.bytes_decompressed
            assert archive.read_member(name) == files[name]
            spent = archive.bytes_decompressed - before
            # At most one checkpoint interval (and one piece) before the member's bytes.
            assert spent <= len(files[name]) + (8 << 20) + (128 << 10), name
        # A member in the middle: decompressing from the start would cost 24 MiB more.
        before = archive.bytes_decompressed
        stream = archive.open_member("part3.bin")
        assert stream.read(1000) == files["part3.bin"][:1000]
        assert archive.bytes_decompressed - before <= (8 << 20) + (256 << 10)
        stream.close()


def test_threads_read_members_of_one_zip_and_one_tgz_at_once(tmp_path: Path) -> None:
    files = {f"img/{n}.jpg": os.urandom(200_000 + n) for n in range(8)}
    archives = [open_path(make_zip(tmp_path / "t.zip", files)),
                open_path(make_tar(tmp_path / "t.tgz", files))]
    barrier = threading.Barrier(16)
    failures: list[str] = []

    def read(archive_at: int, name: str) -> None:
        archive = archives[archive_at]
        with archive.open_member(name) as stream:
            barrier.wait(10)
            got = b"".join(iter(lambda: stream.read(4096), b""))
        if got != files[name]:
            failures.append(f"{archive.kind} {name}")

    threads = [threading.Thread(target=read, args=(at, name))
               for at in (0, 1) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_a_tgz_of_two_concatenated_gzip_members_reads_as_one_tar(tmp_path: Path) -> None:
    files = {"a.jpg": os.urandom(50_000), "b.jpg": os.urandom(60_000)}
    data = tar_bytes(files)
    cut = 30_011  # inside a.jpg's data
    path = tmp_path / "two.tgz"
    # Zero bytes between and after members, as gzip accepts.
    path.write_bytes(gzip.compress(data[:cut]) + b"\0" * 10 + gzip.compress(data[cut:])
                     + b"\0" * 3)
    with open_path(path) as archive:
        assert set(archive.members()) == set(files)
        assert archive.read_member("b.jpg") == files["b.jpg"]
        assert archive.read_member("a.jpg") == files["a.jpg"]


@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
def test_a_tar_name_that_is_not_utf8_keeps_its_bytes_as_surrogates(tmp_path: Path,
                                                                   suffix: str) -> None:
    name = b"caf\xe9/\xff.jpg".decode("utf-8", "surrogateescape")
    path = make_tar(tmp_path / f"latin{suffix}", {name: b"bytes"})
    with open_path(path) as archive:
        assert set(archive.members()) == {name, "caf\udce9"}
        assert archive.read_member(name) == b"bytes"
        assert os.fsencode(name) == b"caf\xe9/\xff.jpg"


def test_a_zip_name_without_the_utf8_flag_is_cp437(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "x.zip", {"cafX.jpg": b"bytes"}).read_bytes()
    path = tmp_path / "cp437.zip"
    path.write_bytes(data.replace(b"cafX", b"caf\x82"))  # in both headers; 0x82 is é
    with open_archive("cp437.zip", "zip", opener(path)) as archive:
        assert set(archive.members()) == {"café.jpg"}
        assert archive.read_member("café.jpg") == b"bytes"


def test_an_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive kind '7z'"):
        open_archive("x.7z", "7z", opener(tmp_path / "x.7z"))


def test_a_closed_archive_opens_no_new_stream_but_open_ones_go_on(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "c.zip", {"a.jpg": b"a" * 10_000})
    archive = open_path(path)
    stream = archive.open_member("a.jpg")
    archive.close()
    assert stream.read() == b"a" * 10_000
    with pytest.raises(ValueError, match="closed"):
        archive.open_member("a.jpg")
