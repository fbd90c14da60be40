"""Where a path written in a config leads: a local path, into an archive, into a bucket."""

from __future__ import annotations

import pickle
import tarfile
import zipfile
from pathlib import Path

import pytest

from osai_import.errors import SourceError
from osai_import.location import SourcePath
from osai_import.source.files import read_all
from osai_import.source.locate import locate
from osai_import.source.paths import is_inside
from osai_import.testing.s3 import LocalS3


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    return path


def test_a_plain_path_stays_a_local_path_relative_to_the_config(tmp_path: Path) -> None:
    assert locate("data/photos", tmp_path) == tmp_path / "data" / "photos"
    assert locate("/srv/x.csv", tmp_path) == Path("/srv/x.csv")
    assert locate(f"file://{tmp_path}/a.csv") == tmp_path / "a.csv"
    assert isinstance(locate("missing.zip/inner", tmp_path), Path), "nothing there: local"


def test_a_folder_named_like_an_archive_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "odd.zip" / "cls").mkdir(parents=True)
    found = locate("odd.zip/cls", tmp_path)
    assert found == tmp_path / "odd.zip" / "cls" and isinstance(found, Path)


def test_an_archive_and_a_path_inside_it_read_as_a_folder(tmp_path: Path) -> None:
    _zip(tmp_path / "export.zip", {"train/a.jpg": b"A", "train/sub/b.jpg": b"BB",
                                   "notes.txt": b"n"})
    root = locate("export.zip", tmp_path)
    assert isinstance(root, SourcePath) and root.is_dir()
    assert root.entries() == [("notes.txt", "file"), ("train", "dir")]
    train = locate("export.zip/train", tmp_path)
    assert isinstance(train, SourcePath)
    assert str(train) == f"{tmp_path / 'export.zip'}/train"
    assert [p.name for p in train.iterdir()] == ["a.jpg", "sub"]
    assert (train / "sub" / "b.jpg").read_bytes() == b"BB"
    assert (train / "a.jpg").stat().size == 1
    assert not (train / "nope.jpg").exists()
    assert list(train.walk()) == [(train, ["sub"], ["a.jpg"]), (train / "sub", [], ["b.jpg"])]
    # The chained fsspec form reaches the same place.
    assert locate(f"zip://train::{tmp_path / 'export.zip'}") == train


def test_a_tar_gz_in_a_zip_is_entered_too(tmp_path: Path) -> None:
    inner = tmp_path / "inner.tar.gz"
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.txt").write_text("deep")
    with tarfile.open(inner, "w:gz") as out:
        out.add(tmp_path / "f", "f")
    _zip(tmp_path / "outer.zip", {"pack/inner.tar.gz": inner.read_bytes()})
    found = locate("outer.zip/pack/inner.tar.gz/f/x.txt", tmp_path)
    assert isinstance(found, SourcePath) and found.read_text() == "deep"


def test_a_path_that_climbs_out_of_an_archive_names_nothing(tmp_path: Path) -> None:
    _zip(tmp_path / "a.zip", {"img/x.jpg": b"x", "y.jpg": b"y"})
    root = locate("a.zip/img", tmp_path)
    assert isinstance(root, SourcePath)
    inside = root / "x.jpg"
    climbing = root / "../../y.jpg"
    assert is_inside(root, inside)
    assert not is_inside(root, climbing) and not climbing.exists()
    assert not is_inside(root, tmp_path / "y.jpg"), "a local path is never inside an archive"
    # `..` inside the root stays inside it.
    assert (root / "../y.jpg").read_bytes() == b"y"


def test_source_paths_pickle_without_reopening_and_refuse_local_use(tmp_path: Path) -> None:
    _zip(tmp_path / "p.zip", {"a/b.jpg": b"data"})
    path = locate("p.zip/a/b.jpg", tmp_path)
    assert isinstance(path, SourcePath)
    again = pickle.loads(pickle.dumps(path))
    assert again == path and again.read_bytes() == b"data"
    with pytest.raises(TypeError, match="not a local file"):
        open(path, "rb")  # noqa: SIM115 - the refusal under test


def test_chained_urls_other_than_archives_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="only zip:// and tar://"):
        locate("simplecache::s3://bucket/x", tmp_path)
    with pytest.raises(SourceError, match="needs the archive after '::'"):
        locate("zip://inner/path", tmp_path)


def test_a_protocol_whose_package_is_missing_says_which_extra_to_install() -> None:
    # gcsfs is not installed here: the message names the extra.
    path = locate("gs://bucket/photos")
    assert isinstance(path, SourcePath)
    with pytest.raises(SourceError, match=r'pip install "osai-import\[gcs\]"'):
        path.exists()


def test_a_bucket_lists_each_folder_once(osai_s3: LocalS3) -> None:
    bucket = osai_s3.bucket()
    for n in range(30):
        osai_s3.put(f"s3://{bucket}/photos/cls{n % 3}/p{n}.jpg", bytes([n]) * (n + 1))
    root = locate(f"s3://{bucket}/photos")
    assert isinstance(root, SourcePath)
    store = root.store
    calls: list[str] = []
    fs = store.fs  # type: ignore[attr-defined]
    real_ls, real_info = fs.ls, fs.info
    fs.ls = lambda *a, **k: calls.append(f"ls {a[0]}") or real_ls(*a, **k)
    fs.info = lambda *a, **k: calls.append(f"info {a[0]}") or real_info(*a, **k)
    try:
        assert [name for name, _ in root.entries()] == ["cls0", "cls1", "cls2"]
        files = list((root / "cls1").iterdir())
        assert len(files) == 10 and all(p.is_file() for p in files)
        assert (root / "cls1" / "p4.jpg").stat().size == 5
        assert not (root / "cls1" / "missing.jpg").exists()
    finally:
        fs.ls, fs.info = real_ls, real_info
    assert calls == [f"ls s3://{bucket}/photos", f"ls s3://{bucket}/photos/cls1"], calls
    data = read_all([root / "cls2" / f"p{n}.jpg" for n in (2, 5, 8)] + [root / "nope.jpg"])
    assert data[:3] == [bytes([n]) * (n + 1) for n in (2, 5, 8)]
    assert isinstance(data[3], FileNotFoundError)


def test_an_archive_in_a_bucket_is_read_in_place(osai_s3: LocalS3, tmp_path: Path) -> None:
    bucket = osai_s3.bucket()
    archive = _zip(tmp_path / "e.zip", {f"imgs/{n}.jpg": bytes([n]) * 100 for n in range(5)})
    osai_s3.put(f"s3://{bucket}/exports/e.zip", archive.read_bytes())
    folder = locate(f"s3://{bucket}/exports/e.zip/imgs")
    assert isinstance(folder, SourcePath)
    assert str(folder) == f"s3://{bucket}/exports/e.zip/imgs"
    assert [p.name for p in folder.iterdir()] == [f"{n}.jpg" for n in range(5)]
    assert (folder / "3.jpg").read_bytes() == bytes([3]) * 100


def test_a_source_path_to_an_archive_file_enters_it(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as out:
        out.writestr("images/a.jpg", b"jpeg")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as out:
        out.write(inner, "export/images.zip")
        out.writestr("export/annotations.xml", b"<annotations/>")
    export = locate(str(outer / "export"))
    assert isinstance(export, SourcePath)
    zipped = export / "images.zip"
    root = locate(zipped)
    assert isinstance(root, SourcePath) and root != zipped
    assert (root / "images" / "a.jpg").read_bytes() == b"jpeg"
    xml = export / "annotations.xml"
    assert locate(xml) == xml  # not an archive: as it is
