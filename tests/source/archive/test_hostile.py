"""Hostile and broken archives are refused by name: at opening, or as a lying member is read."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from osai_import.errors import ItemError, SourceError
from osai_import.source.archive import ArchiveLimits
from tests.source.archive.builders import (
    central_entries,
    central_entry,
    local_header,
    make_tar,
    make_zip,
    open_path,
    patch,
    tar_bytes,
    with_central_directory,
)


def refusal(path: Path, limits: ArchiveLimits | None = None) -> str:
    with pytest.raises(SourceError) as caught:
        open_path(path, limits)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def make(path: Path, files: dict[str, bytes]) -> Path:
    return make_zip(path, files) if path.suffix == ".zip" else make_tar(path, files)


@pytest.mark.parametrize(("name", "what"), [
    ("../../etc/passwd", "leaves the archive's root"),
    ("a/../../b.jpg", "leaves the archive's root"),
    ("/etc/passwd", "has an absolute path"),
    ("C:/Windows/x.jpg", "names a Windows drive"),
    ("c:x.jpg", "names a Windows drive"),
])
@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tgz"])
def test_a_path_that_leaves_the_root_is_refused(tmp_path: Path, suffix: str, name: str,
                                                what: str) -> None:
    message = refusal(make(tmp_path / f"export{suffix}", {"ok.jpg": b"x", name: b"y"}))
    assert (f"member {name!r} {what}; osai-import refuses archives with such paths: "
            "re-create the archive from inside its folder") in message


def test_the_message_reads_as_documented(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "export.zip", {"../../etc/passwd": b"root"})
    assert refusal(path) == (
        f"{path}: member '../../etc/passwd' leaves the archive's root; osai-import refuses "
        "archives with such paths: re-create the archive from inside its folder")


def test_backslashes_in_a_zip_are_refused_but_a_tar_keeps_them_as_characters(
        tmp_path: Path) -> None:
    message = refusal(make_zip(tmp_path / "w.zip", {"img\\a.jpg": b"x"}))
    assert "member 'img\\\\a.jpg' uses backslashes as path separators" in message
    with open_path(make_tar(tmp_path / "w.tar", {"img\\a.jpg": b"x"})) as archive:
        assert set(archive.members()) == {"img\\a.jpg"}


def test_a_nul_in_a_zip_name_is_refused(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "n.zip", {"aXb.jpg": b"x"}).read_bytes()
    path = tmp_path / "nul.zip"
    path.write_bytes(data.replace(b"aXb.jpg", b"a\0b.jpg"))
    assert "member 'a\\x00b.jpg' holds a NUL character" in refusal(path)


@pytest.mark.parametrize("suffix", [".zip", ".tgz"])
def test_two_members_with_one_path_are_refused(tmp_path: Path, suffix: str) -> None:
    message = refusal(make(tmp_path / f"d{suffix}", {"a/b.jpg": b"1", "a//b.jpg": b"2"}))
    assert ("lists 'a/b.jpg' and 'a//b.jpg', both 'a/b.jpg'; osai-import refuses such an "
           "ambiguous archive") in message


def test_a_tar_listing_a_file_twice_is_refused(tmp_path: Path) -> None:
    one = tar_bytes({"a.jpg": b"1"})[:1024]  # a header and a block of data, no end marker
    path = tmp_path / "twice.tar"
    path.write_bytes(one + tar_bytes({"a.jpg": b"2"}))  # as `tar -r` appends
    assert "the archive lists 'a.jpg' twice" in refusal(path)


@pytest.mark.parametrize("suffix", [".zip", ".tar"])
def test_a_path_both_file_and_folder_is_refused(tmp_path: Path, suffix: str) -> None:
    message = refusal(make(tmp_path / f"ff{suffix}", {"a": b"file", "a/b.jpg": b"1"}))
    assert "'a' is both a file and a folder (member 'a/b.jpg')" in message


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(("info", "what"), [
    (special("evil.jpg", tarfile.SYMTYPE, "/etc/passwd"),
     "is a symbolic link (to '/etc/passwd')"),
    (special("hard.jpg", tarfile.LNKTYPE, "ok.jpg"), "is a hard link (to 'ok.jpg')"),
    (special("dev/null", tarfile.CHRTYPE), "is a device"),
    (special("dev/sda", tarfile.BLKTYPE), "is a device"),
    (special("pipe", tarfile.FIFOTYPE), "is a FIFO (a named pipe)"),
    (special("holes.bin", tarfile.GNUTYPE_SPARSE), "is a sparse file"),
], ids=["symlink", "hardlink", "chardev", "blockdev", "fifo", "sparse"])
@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
def test_a_tar_member_neither_file_nor_folder_is_refused(tmp_path: Path, suffix: str,
                                                         info: tarfile.TarInfo,
                                                         what: str) -> None:
    path = make_tar(tmp_path / f"special{suffix}", {"ok.jpg": b"x"}, special=[info])
    message = refusal(path)
    assert (f"member {info.name!r} {what}; osai-import reads only regular files and "
            "folders from a tar") in message


def test_a_symbolic_link_in_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.jpg", b"x")
        info = zipfile.ZipInfo("evil.jpg")
        info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"/etc/passwd")
    assert ("member 'evil.jpg' is a symbolic link; osai-import reads only regular files and "
            "folders from a zip") in refusal(path)


def flags_patched(path: Path, *, central: bool, local: bool, at_central: int, at_local: int,
                  value: int) -> Path:
    data = path.read_bytes()
    entry = central_entries(data)[0]
    if central:
        data = patch(data, entry + at_central, "<H", value)
    if local:
        data = patch(data, local_header(data, entry) + at_local, "<H", value)
    out = path.with_name("patched.zip")
    out.write_bytes(data)
    return out


@pytest.mark.parametrize("central", [True, False])
def test_an_encrypted_zip_member_is_refused(tmp_path: Path, central: bool) -> None:
    plain = make_zip(tmp_path / "secret.zip", {"secret.jpg": os.urandom(100)})
    path = flags_patched(plain, central=central, local=True, at_central=8, at_local=6, value=1)
    assert ("member 'secret.jpg' is encrypted; osai-import reads no encrypted member: "
           "decrypt it first") in refusal(path)


def test_a_zip_member_compressed_by_an_unreadable_method_is_refused(tmp_path: Path) -> None:
    plain = make_zip(tmp_path / "m.zip", {"m.jpg": os.urandom(100)})
    path = flags_patched(plain, central=True, local=True, at_central=10, at_local=8, value=9)
    assert "member 'm.jpg' is compressed with method 9 (Deflate64)" in refusal(path)


def test_a_zip_bomb_member_is_refused_by_its_ratio(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bomb.zip", {"ok.jpg": b"x", "zeros.bin": bytes(20 << 20)})
    message = refusal(path)
    assert "member 'zeros.bin' expands" in message
    assert ("to 20.0 MiB), more than the 200 allowed; osai-import refuses it as a possible "
            "decompression bomb: remove the member, or store the archive uncompressed") in message


def test_a_tgz_bomb_member_is_refused_while_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tgz"
    path.write_bytes(gzip.compress(tar_bytes({"ok.jpg": b"x", "zeros.bin": bytes(20 << 20)}), 9))
    message = refusal(path)
    assert "member 'zeros.bin' expands" in message
    # Refused after about one MiB of it, not after all of it.
    assert "to 1.0 MiB)" in message or "to 1.1 MiB)" in message


@pytest.mark.parametrize("suffix", [".zip", ".tgz"])
def test_a_bomb_spread_over_small_members_is_refused_as_a_whole(tmp_path: Path,
                                                                suffix: str) -> None:
    files = {f"z{n}.bin": bytes(60 << 10) for n in range(40)}  # each below min_ratio_size
    path = make(tmp_path / f"spread{suffix}", files)
    if suffix == ".tgz":
        path.write_bytes(gzip.compress(tar_bytes(files), 9))
    message = refusal(path, ArchiveLimits(min_ratio_size=64 << 10))
    assert "the archive expands more than 200 times" in message


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tgz"])
def test_declared_sizes_and_counts_beyond_the_limits_are_refused(tmp_path: Path,
                                                                 suffix: str) -> None:
    files = {f"f{n}.jpg": os.urandom(1000) for n in range(3)}
    path = make(tmp_path / f"many{suffix}", files)
    assert ("member 'f0.jpg' declares 1000 bytes, more than the 999 bytes an image may "
           "have") in refusal(path, ArchiveLimits(max_member_size=999))
    assert "its members declare more than 2.0 KiB in all (at member 'f2.jpg')" \
        in refusal(path, ArchiveLimits(max_total_size=2048))
    assert "the archive holds more than 2 files and folders" \
        in refusal(path, ArchiveLimits(max_members=2))
    with open_path(path, ArchiveLimits(max_members=3, max_total_size=3000)) as archive:
        assert len(archive.members()) == 3


def read_until_refused(path: Path, name: str) -> tuple[int, ItemError]:
    """Read member ``name`` in pieces; return how many bytes came, and the refusal."""
    got = 0
    with (open_path(path) as archive, archive.open_member(name) as stream,
          pytest.raises(ItemError) as caught):
        while piece := stream.read(4096):
            got += len(piece)
    assert caught.value.code == "image.unreadable"
    assert str(caught.value).startswith(f"{path}: member {name!r} ")
    return got, caught.value


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_zip_member_longer_than_declared_is_refused_within_its_declared_size(
        tmp_path: Path, method: int) -> None:
    plain = make_zip(tmp_path / "lie.zip", {"lie.jpg": os.urandom(100_000)}, compression=method)
    data = plain.read_bytes()
    path = tmp_path / "lying.zip"
    path.write_bytes(patch(data, central_entries(data)[0] + 24, "<I", 60_000))
    with open_path(path) as archive:
        assert archive.members()["lie.jpg"].size == 60_000
    got, error = read_until_refused(path, "lie.jpg")
    assert got <= 60_000
    assert "Bad CRC-32" in str(error)


def test_a_zip_member_shorter_than_declared_is_refused(tmp_path: Path) -> None:
    plain = make_zip(tmp_path / "short.zip", {"short.jpg": os.urandom(100_000)})
    data = plain.read_bytes()
    path = tmp_path / "shorter.zip"
    path.write_bytes(patch(data, central_entries(data)[0] + 24, "<I", 150_000))
    got, error = read_until_refused(path, "short.jpg")
    assert got <= 100_000
    assert "ends after 100000 of its 150000 declared bytes" in str(error)


def test_a_damaged_zip_member_is_refused_when_read(tmp_path: Path) -> None:
    data = bytearray(make_zip(tmp_path / "d.zip", {"d.jpg": os.urandom(50_000)},
                              compression=zipfile.ZIP_STORED).read_bytes())
    data[30 + len("d.jpg") + 25_000] ^= 0xFF
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    read_until_refused(path, "d.jpg")


def test_two_zip_entries_sharing_one_local_header_are_refused(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "o.zip", {"a.jpg": os.urandom(1000)}).read_bytes()
    entry = central_entry(data, central_entries(data)[0])
    path = tmp_path / "overlap.zip"
    path.write_bytes(with_central_directory(data, [entry, entry.replace(b"a.jpg", b"b.jpg")]))
    assert "members 'a.jpg' and 'b.jpg' overlap in the archive's data" in refusal(path)


def test_a_zip_entry_whose_data_covers_the_next_member_is_refused(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "q.zip", {"a.jpg": b"a" * 100, "b.jpg": b"b" * 100},
                    compression=zipfile.ZIP_STORED).read_bytes()
    first = central_entries(data)[0]
    for field in (20, 24):  # compressed and uncompressed sizes: a's data swallows b
        data = patch(data, first + field, "<I", 100 + 30 + 5 + 100)
    path = tmp_path / "quoted.zip"
    path.write_bytes(data)
    assert "members 'a.jpg' and 'b.jpg' overlap" in refusal(path)


def test_a_local_header_naming_another_file_is_refused(tmp_path: Path) -> None:
    data = make_zip(tmp_path / "n.zip", {"a.jpg": b"x"}).read_bytes()
    end = central_entries(data)[0]
    path = tmp_path / "names.zip"
    path.write_bytes(data[:end] + data[end:].replace(b"a.jpg", b"b.jpg"))
    assert "member 'b.jpg' is named 'a.jpg' in its local header" in refusal(path)


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tgz"])
def test_an_archive_cut_in_half_is_refused_as_damaged(tmp_path: Path, suffix: str) -> None:
    whole = make(tmp_path / f"whole{suffix}", {f"{n}.jpg": os.urandom(20_000) for n in range(4)})
    path = tmp_path / f"half{suffix}"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert ": the archive is damaged or truncated: " in refusal(path)


@pytest.mark.parametrize("suffix", [".tar", ".tgz"])
def test_a_tar_cut_between_two_members_is_refused(tmp_path: Path, suffix: str) -> None:
    data = tar_bytes({"a.jpg": b"a" * 512, "b.jpg": b"b"})
    cut = data[:1024]  # a.jpg's header and data, nothing after
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(gzip.compress(cut) if suffix == ".tgz" else cut)
    assert "the tar ends without its end-of-archive marker" in refusal(path)


def test_a_damaged_tar_header_is_refused_not_taken_for_the_end(tmp_path: Path) -> None:
    data = bytearray(tar_bytes({"a.jpg": b"a" * 512, "b.jpg": b"b"}))
    data[1024 + 100] ^= 0x01  # in b.jpg's header: its checksum no longer matches
    path = tmp_path / "bad.tar"
    path.write_bytes(bytes(data))
    assert "the tar header at byte 1024 is not valid" in refusal(path)


def test_a_damaged_gzip_stream_is_refused(tmp_path: Path) -> None:
    data = bytearray(make_tar(tmp_path / "g.tgz", {"a.jpg": os.urandom(100_000)}).read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "bad.tgz"
    path.write_bytes(bytes(data))
    assert ": the archive is damaged or truncated: " in refusal(path)


def test_not_an_archive_at_all_is_refused_as_damaged(tmp_path: Path) -> None:
    for suffix in (".zip", ".tar", ".tgz"):
        path = tmp_path / f"text{suffix}"
        path.write_bytes(b"hello, this is no archive\n" * 100)
        assert ": the archive is damaged or truncated: " in refusal(path)


def test_a_missing_archive_cannot_be_read(tmp_path: Path) -> None:
    assert "the archive cannot be read (No such file or directory)" \
        in refusal(tmp_path / "gone.zip")


def test_a_giant_tar_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("a.jpg")
        info.pax_headers = {"comment": "x" * (17 << 20)}
        archive.addfile(info, io.BytesIO(b""))
    path = tmp_path / "pax.tar"
    path.write_bytes(out.getvalue())
    assert "a header of the archive asks to read 17.0 MiB of metadata" in refusal(path)


def test_a_tgz_with_a_payload_after_the_tar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tail.tgz"
    path.write_bytes(gzip.compress(tar_bytes({"a.jpg": b"a"}) + bytes(17 << 20)))
    message = refusal(path, ArchiveLimits(max_ratio=1e9))
    assert "holds more than 16.0 MiB after its tar end-of-archive marker" in message
