"""The Reader contract as tests: ``ReaderConformance``, and helpers to write samples."""

from __future__ import annotations

import io
import math
import os
import pickle
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image
from pydantic import ValidationError

from osai_import.errors import OsaiImportError
from osai_import.location import SourcePath
from osai_import.plugin.base import Detection, PluginOptions, Reader
from osai_import.records import Box, ImageRecord, Problem, Severity
from osai_import.testing.s3 import LocalS3
from osai_import.testing.server import OsaiUploader, local_server
from osai_import.testing.watch import watched

_CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EPSILON = 1e-6
_DETECT_OPENS = 64  # files detect() may open, however large the folder


def make_image(path: Path, width: int = 32, height: int = 24,
               color: tuple[int, int, int] = (200, 30, 30), fmt: str | None = None) -> Path:
    """Write a real JPEG or PNG (by ``fmt`` or the suffix) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or ("PNG" if path.suffix.lower() == ".png" else "JPEG")
    Image.new("RGB", (width, height), color).save(path, fmt)
    return path


@dataclass(frozen=True)
class BrokenSource:
    """A source with a bad item: the reader's options and the text reports must contain."""

    options: dict[str, Any]
    item: str


def _image_size(path: Path | SourcePath) -> tuple[int, int]:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        return image.size


def _sample_root(options: Mapping[str, Any]) -> Path | None:
    """Return the folder that holds every file or folder the options name, if any."""
    found = []
    for value in options.values():
        if isinstance(value, (str, Path)) and str(value) and Path(value).exists():
            path = Path(value).absolute()
            found.append(path if path.is_dir() else path.parent)
    return Path(os.path.commonpath(found)) if found else None


def _moved(options: Mapping[str, Any], root: Path, place: str) -> dict[str, Any]:
    """Return ``options`` with every path below ``root`` moved below ``place``."""
    moved = dict(options)
    for key, value in options.items():
        if isinstance(value, (str, Path)) and str(value) and Path(value).exists():
            relative = Path(value).absolute().relative_to(root).as_posix()
            moved[key] = place if relative == "." else f"{place}/{relative}"
    return moved


def _zip_tree(root: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path != archive:
                out.write(path, path.relative_to(root).as_posix())


def _same_records(local: list[ImageRecord], stored: list[ImageRecord], where: str) -> None:
    """Assert that two reads of the same data (local, and in ``where``) agree."""
    def fields(r: ImageRecord) -> tuple[Any, ...]:
        return (r.key, r.name, r.category, r.boxes, r.width, r.height, r.depth,
                sorted(p.code for p in r.problems))

    assert [fields(r) for r in local] == [fields(r) for r in stored], (
        f"the records read from {where} differ from those read from the local folder")
    for a, b in zip(local, stored, strict=True):
        assert isinstance(b.path, SourcePath), (
            f"{b.key}: a record read from {where} points at {b.path!r}, a local path; build "
            "image paths from the option's path (a SourcePath) with `/`")
        assert a.path.read_bytes() == b.path.read_bytes(), f"{b.key}: other bytes in {where}"


def _rows(boxes: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Sorted by whole pixels, since encoders may round a box outwards to whole pixels.
    rows = [(label, *(float(c) for c in coords)) for label, *coords in boxes]
    return sorted(rows, key=lambda row: (row[0], *(round(c) for c in row[1:])))


def _close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    def same(x: tuple[Any, ...], y: tuple[Any, ...]) -> bool:
        pairs = zip(x[1:], y[1:], strict=True)
        return x[0] == y[0] and all(math.isclose(p, q, abs_tol=1.0) for p, q in pairs)

    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


# --- the conformance suite -------------------------------------------------------------


class ReaderConformance:
    """The Reader contract as tests: subclass it, set ``reader_class``, give sample sources.

    Override the ``reader_options`` fixture (the ``source:`` options of a small valid
    sample the test writes: at least ``min_records`` images, no item with an error) and
    the ``broken_source`` fixture (a source with one bad item; parametrize it to test
    several). Set ``expect_boxes = False`` for a reader that never yields boxes, and
    ``local_plugins`` to the config ``plugins:`` entries that register the reader when it
    is not an installed plugin. Set ``detects = False`` for a reader that does not
    implement ``detect`` (``osai-import init`` cannot then propose it).
    """

    reader_class: ClassVar[type[Reader]]
    expect_boxes: ClassVar[bool] = True
    min_records: ClassVar[int] = 3
    local_plugins: ClassVar[Sequence[str]] = ()
    upload_check: ClassVar[Mapping[str, Any]] = {"name_collisions": "disambiguate"}
    detects: ClassVar[bool] = True

    @pytest.fixture
    def reader_options(self) -> dict[str, Any]:
        """Return the options of a valid sample source (override this fixture)."""
        pytest.fail(f"{type(self).__name__} must override the `reader_options` fixture")

    @pytest.fixture
    def broken_source(self) -> BrokenSource:
        """Return a source with one bad item, and what reports must name (override this)."""
        pytest.fail(f"{type(self).__name__} must override the `broken_source` fixture")

    @pytest.fixture
    def sample_records(self, reader_options: dict[str, Any]) -> list[ImageRecord]:
        """Return the records of the sample source."""
        return self.read(reader_options)

    def make_reader(self, options: Mapping[str, Any]) -> Reader:
        """Validate ``options`` the way a config's are and return a new reader.

        Paths may lead into archives and buckets, as in a config (``export.zip/train``,
        ``s3://bucket/data``).
        """
        from osai_import.source.locate import locate

        return self.reader_class(self.reader_class.parse_options(dict(options), None, locate))

    def read(self, options: Mapping[str, Any]) -> list[ImageRecord]:
        """Return every record of a source."""
        return list(self.make_reader(options).records())

    # the class

    def test_class_contract(self) -> None:
        """Check the name, the description and the options model."""
        cls = self.reader_class
        assert isinstance(cls, type) and issubclass(cls, Reader), f"{cls!r} is not a Reader"
        name = getattr(cls, "name", None)
        assert isinstance(name, str) and _NAME.match(name), (
            f"{cls.__qualname__}.name must be a short identifier such as 'yolo', not {name!r}")
        assert cls.description(), f"{cls.__qualname__} needs a docstring (its first line)"
        assert issubclass(cls.Options, PluginOptions), "Options must subclass PluginOptions"
        assert cls.Options.model_json_schema().get("type") == "object"

    def test_reader_is_registered(self) -> None:
        """Check that the plugin manager finds the reader under its name."""
        from osai_import.plugin.manager import build_plugins

        entry = build_plugins(list(self.local_plugins)).readers.get(self.reader_class.name)
        assert entry.cls.__qualname__ == self.reader_class.__qualname__, (
            f"source.type {self.reader_class.name!r} is {entry.cls!r}, from {entry.plugin!r}")

    def test_options_reject_unknown_fields(self, reader_options: dict[str, Any]) -> None:
        """Check that a misspelled option is an error, not silently ignored."""
        with pytest.raises(ValidationError) as caught:
            self.reader_class.parse_options({**reader_options, "osai_no_such_option": 1})
        assert "osai_no_such_option" in str(caught.value)

    # the records

    def test_yields_image_records(self, reader_options: dict[str, Any]) -> None:
        """Check that records() returns a lazy iterator of ImageRecord."""
        stream = self.make_reader(reader_options).records()
        assert isinstance(stream, Iterator) and not isinstance(stream, Sequence), (
            f"records() returned a {type(stream).__name__}; make it a generator (use yield)")
        records = list(stream)
        assert len(records) >= self.min_records, (
            f"the sample gave {len(records)} record(s); the suite needs {self.min_records}")
        for record in records:
            assert isinstance(record, ImageRecord), f"{record!r} is not an ImageRecord"

    def test_record_fields_are_valid(self, sample_records: list[ImageRecord]) -> None:
        """Check every field: key, name, path, category, boxes, problems, sizes, extras."""
        for r in sample_records:
            assert isinstance(r.key, str) and r.key, f"{r!r}: empty key"
            assert not set(r.name) & {"/", "\\", "\x00"}, f"{r.key}: name {r.name!r} has folders"
            assert r.path.is_file(), f"{r.key}: path {r.path} is not a file"
            assert r.category is None or (isinstance(r.category, str) and r.category.strip()), (
                f"{r.key}: category must be None or a non-empty string, not {r.category!r}")
            for box in r.boxes:
                assert isinstance(box, Box), f"{r.key}: {box!r} is not a Box"
                assert isinstance(box.label, str) and box.label.strip(), f"{r.key}: no label"
                assert box.xmin < box.xmax and box.ymin < box.ymax, f"{r.key}: empty box {box}"
            for p in r.problems:
                assert isinstance(p, Problem), f"{r.key}: {p!r} is not a Problem"
                assert _CODE.match(p.code), f"{r.key}: code {p.code!r} is not like 'yolo.clamped'"
                assert isinstance(p.severity, Severity) and p.message, f"{r.key}: {p!r}"
            for value in (r.width, r.height, r.depth):
                assert value is None or (isinstance(value, int) and value > 0), f"{r.key}: size"
            assert all(isinstance(k, str) for k in r.extras), f"{r.key}: extras keys must be str"

    def test_sample_has_no_errors(self, sample_records: list[ImageRecord]) -> None:
        """Check that the valid sample gives no error problems (and boxes when expected)."""
        errors = [p for r in sample_records for p in r.problems if p.severity is Severity.ERROR]
        assert not errors, f"the sample source is meant to be valid, but: {errors}"
        if self.expect_boxes:
            assert any(r.boxes for r in sample_records), (
                "the sample gave no boxes; add some, or set expect_boxes = False")

    def test_keys_are_unique(self, sample_records: list[ImageRecord]) -> None:
        """Check that no two records share a key (the journal resumes by key)."""
        twice = [key for key, n in Counter(r.key for r in sample_records).items() if n > 1]
        assert not twice, f"keys given to more than one record: {twice}"

    def test_sizes_match_the_image_files(self, sample_records: list[ImageRecord]) -> None:
        """Check that a width/height the reader states is the image file's."""
        for r in sample_records:
            if r.width is not None or r.height is not None:
                actual = _image_size(r.path)
                assert (r.width, r.height) == actual, (
                    f"{r.key}: the record says {r.width}x{r.height}, {r.path} is "
                    f"{actual[0]}x{actual[1]}")

    def test_boxes_inside_the_image(self, sample_records: list[ImageRecord]) -> None:
        """Check that every box lies inside its image, in absolute pixels."""
        for r in sample_records:
            width, height = _image_size(r.path)
            for b in r.boxes:
                inside = (b.xmin >= -_EPSILON and b.ymin >= -_EPSILON
                          and b.xmax <= width + _EPSILON and b.ymax <= height + _EPSILON)
                assert inside, f"{r.key}: {b} leaves the {width}x{height} image {r.path}"

    def test_records_survive_the_journal(self, sample_records: list[ImageRecord]) -> None:
        """Check that records pickle (the plan stores them on disk between phases)."""
        for r in sample_records:
            assert pickle.loads(pickle.dumps(r, protocol=5)) == r, f"{r.key} changes in pickle"

    def test_order_is_deterministic(self, reader_options: dict[str, Any],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """Check that two reads agree, even when directories list in another order."""
        first = self.read(reader_options)
        with watched(monkeypatch, backwards=True):
            backwards = self.read(reader_options)
        assert [r.key for r in first] == [r.key for r in backwards], (
            "the order of records follows the file system's listing order; sort what you list")
        assert first == backwards == self.read(reader_options), "two reads of a source differ"

    def test_streams_lazily(self, reader_options: dict[str, Any],
                            monkeypatch: pytest.MonkeyPatch) -> None:
        """Check that the first record arrives before the source is read to the end."""
        reader = self.make_reader(reader_options)
        with watched(monkeypatch) as watch:
            stream = iter(reader.records())
            first = next(stream, None)
            built, opened = len(set(watch.keys)), watch.files()
            total = 0 if first is None else 1 + sum(1 for _ in stream)
        assert total >= self.min_records, f"the sample needs {self.min_records} records"
        assert built <= 2, (
            f"{built} of {total} records were built before the first one was returned; "
            "yield each record as soon as it is read (one record of look-ahead at most)")
        if watch.files() > 1:
            assert opened < watch.files(), (
                f"all {watch.files()} files the reader opens were opened before the first "
                "record; read one item's files, yield its record, then go on")

    # errors

    def test_missing_source_is_an_error(self, reader_options: dict[str, Any],
                                        tmp_path: Path) -> None:
        """Check that a source path that does not exist gives an OsaiImportError naming it."""
        if "path" not in reader_options:
            return
        missing = tmp_path / "osai-missing" / Path(str(reader_options["path"])).name
        try:
            records = self.read({**reader_options, "path": str(missing)})
        except ValidationError as exc:
            assert "path" in str(exc)
            return
        except OsaiImportError as exc:
            assert missing.parent.name in str(exc), f"the error does not name the path: {exc}"
            return
        except Exception as exc:  # noqa: BLE001 - the breach of contract under test
            pytest.fail(f"a missing source raised {type(exc).__name__}: {exc}; "
                        "raise an OsaiImportError (SourceError) naming the path")
        pytest.fail(f"a source that does not exist gave {len(records)} record(s), no error")

    def test_broken_source_names_the_item(self, broken_source: BrokenSource) -> None:
        """Check that a bad item gives an OsaiImportError or an error Problem naming it."""
        try:
            records = self.read(broken_source.options)
        except OsaiImportError as exc:
            assert broken_source.item in str(exc), (
                f"the error does not name {broken_source.item!r}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - the breach of contract under test
            pytest.fail(f"the broken source raised {type(exc).__name__}: {exc}; raise "
                        "OsaiImportError subclasses (ItemError, SourceError) or yield the item "
                        "with an error Problem")
        problems = [p for r in records for p in r.problems]
        named = [p for p in problems if p.severity is Severity.ERROR
                 and broken_source.item in f"{p.item} {p.message}"]
        assert named, f"no error names {broken_source.item!r}; problems: {problems}"

    # where the files are

    def test_reads_the_same_from_a_zip(self, reader_options: dict[str, Any],
                                       sample_records: list[ImageRecord],
                                       tmp_path: Path) -> None:
        """Check that the sample zipped whole reads as it does from its folder."""
        root = _sample_root(reader_options)
        assert root is not None, "the suite needs at least one option naming a file or folder"
        archive = tmp_path / "osai-kit-sample.zip"
        _zip_tree(root, archive)
        options = _moved(reader_options, root, str(archive))
        if not self.reader_class.any_storage:
            self._refuses_stored(options)
            return
        _same_records(sample_records, self.read(options), "a zip")

    def test_reads_the_same_from_a_bucket(self, reader_options: dict[str, Any],
                                          sample_records: list[ImageRecord],
                                          osai_s3: LocalS3, tmp_path: Path) -> None:
        """Check that the sample copied to an S3 bucket reads as it does from its folder."""
        root = _sample_root(reader_options)
        assert root is not None, "the suite needs at least one option naming a file or folder"
        url = f"s3://{osai_s3.bucket()}/sample"
        osai_s3.put_tree(root, url)
        options = _moved(reader_options, root, url)
        if not self.reader_class.any_storage:
            self._refuses_stored(options)
            return
        _same_records(sample_records, self.read(options), "an S3 bucket")

    def _refuses_stored(self, options: dict[str, Any]) -> None:
        """Check that a local-only reader's options are refused when they lead elsewhere."""
        from osai_import.config.resolve import local_only
        from osai_import.source.locate import locate

        parsed = self.reader_class.parse_options(dict(options), None, locate)
        refused = local_only("source", self.reader_class, parsed, "reader")
        assert refused is not None and "reads only local files" in refused, (
            f"{self.reader_class.__qualname__} is not any_storage, so a path into an archive "
            f"or a bucket must be refused when the config is checked: {refused!r}")

    # detection (osai-import detect / init)

    def test_detects_its_own_sample(self, reader_options: dict[str, Any],
                                    sample_records: list[ImageRecord]) -> None:
        """Check that detect() recognises the sample and proposes options that read it."""
        root = _sample_root(reader_options)
        assert root is not None, "the suite needs at least one option naming a file or folder"
        found = self.reader_class.detect(root)
        if not self.detects:
            return
        assert found is not None, (
            f"{self.reader_class.__qualname__}.detect returned None for its own sample; "
            "implement it (osai-import detect and init use it), or set detects = False")
        assert isinstance(found, Detection), f"detect returned {found!r}, not a Detection"
        assert found.confidence >= 0.5, (
            f"the sample at {root} was detected with confidence {found.confidence}: "
            f"{found.reasons}")
        assert found.reasons and found.sources, "a match needs its reasons and its sources"
        read = [r for options in found.sources for r in self.read(options)]

        def shape(records: list[ImageRecord]) -> list[tuple[str, int]]:
            return sorted((r.name, len(r.boxes)) for r in records)

        assert shape(read) == shape(sample_records), (
            f"the options detect proposed ({found.sources}) read other records than the "
            "sample's own options")

    def test_detect_says_why_not_elsewhere(self, tmp_path: Path) -> None:
        """Check that an empty folder and a folder of notes are no match, with reasons."""
        if not self.detects:
            return
        empty = tmp_path / "osai-empty"
        empty.mkdir()
        notes = tmp_path / "osai-notes"
        notes.mkdir()
        (notes / "README.md").write_text("# notes\n", encoding="utf-8")
        (notes / "data.json").write_text('{"hello": "world"}', encoding="utf-8")
        (notes / "list.txt").write_text("one\ntwo\n", encoding="utf-8")
        for folder in (empty, notes):
            found = self.reader_class.detect(folder)
            assert found is not None and found.confidence < 0.5, (
                f"{folder.name}: detected with {found}")
            assert found.reasons, f"{folder.name}: say why it is not a match"

    def test_detect_looks_at_a_bounded_number_of_files(
            self, reader_options: dict[str, Any], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        """Check that detect opens few files, however many the folder holds."""
        if not self.detects:
            return
        root = _sample_root(reader_options)
        assert root is not None
        crowd = tmp_path / "osai-crowd"
        shutil.copytree(root, crowd)
        extra = crowd / "osai-extra"
        extra.mkdir()
        for i in range(1500):
            (extra / f"n{i:04d}.json").write_text("{}", encoding="utf-8")
            (extra / f"n{i:04d}.txt").write_text("0 0.5 0.5 0.1 0.1\n", encoding="utf-8")
        with watched(monkeypatch) as watch:
            self.reader_class.detect(crowd)
        assert watch.files() <= _DETECT_OPENS, (
            f"detect opened {watch.files()} files of a folder of 3,000+; look at a bounded "
            f"sample (osai_import.survey), at most {_DETECT_OPENS}")

    # the whole way

    def test_uploads_to_local_server(self, reader_options: dict[str, Any],
                                     sample_records: list[ImageRecord], tmp_path: Path) -> None:
        """Check that the sample uploads through the real engine with every box."""
        with local_server(tmp_path / "osai-server") as server:
            result = OsaiUploader(server, tmp_path / "uploads").upload(
                {"type": self.reader_class.name, **reader_options},
                plugins=self.local_plugins, check=self.upload_check)
        assert result.report.exit_code == 0, f"the upload failed: {result.report.to_dict()}"
        assert len(result.images) == len(sample_records)
        sent = _rows((b.label, b.xmin, b.ymin, b.xmax, b.ymax)
                     for r in sample_records for b in r.boxes)
        stored = _rows(row for rows in result.boxes().values() for row in rows)
        assert _close(sent, stored), f"boxes read {sent} but the server stored {stored}"
