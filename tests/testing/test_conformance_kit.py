"""The conformance kit catches broken readers: each kind of breakage fails its own test.

Every case runs the kit in a pytest session of its own (``pytester``) against a small
reader written below, broken in one way, and checks which of the kit's tests fail.
"""

from __future__ import annotations

import textwrap
from importlib import metadata

import pytest

pytest_plugins = ["pytester"]

READER = '''
import os
import threading
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ConfigDict

from osai_import import (
    Box, Detection, ImageRecord, ItemError, Reader, ReaderOptions, SourceError, hookimpl, survey,
)
from osai_import.testing import BrokenSource, ReaderConformance, make_image

LOCK = threading.Lock()


class BoxOptions(ReaderOptions):
    """Options of the boxfolder reader."""


class BoxFolderReader(Reader):
    """Read a folder of PNGs with `<stem>.box` files of `label xmin ymin xmax ymax` lines."""

    name = "boxfolder"
    Options = BoxOptions

    @classmethod
    def detect(cls, path):
        listing = survey(path, limit=500)
        boxes = listing.named("*.box")
        if not boxes:
            return Detection(0.0, ("no .box file",))
        return Detection(0.9, (f"{len(boxes)} .box files",), ({"path": path},))

    def listing(self, root):
        return sorted(os.listdir(root))

    def records(self):
        root = Path(self.options.path)
        if not root.is_dir():
            raise SourceError(f"{root}: no such folder; fix source.path")
        for name in self.listing(root):
            if name.endswith(".png"):
                yield self.record(root, name)

    def bad_line(self, where):
        raise ItemError("boxfolder.bad_line", f"{where}: not `label xmin ymin xmax ymax`; fix it")

    def record(self, root, name):
        image = root / name
        boxes = []
        box_file = image.with_suffix(".box")
        if box_file.exists():
            with open(box_file, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    parts = line.split()
                    if len(parts) != 5:
                        self.bad_line(f"{box_file.name}:{number}")
                    boxes.append(Box(parts[0], *(float(p) for p in parts[1:])))
        with Image.open(image) as opened:
            width, height = opened.size
        return ImageRecord(key=name, path=image, name=name, boxes=tuple(boxes), width=width,
                           height=height)


def write_sample(root):
    for stem, size in (("a", (40, 30)), ("b", (20, 20)), ("c", (30, 10))):
        make_image(root / f"{stem}.png", *size)
        box = f"cat 1 2 {size[0] - 1} {size[1] - 1}\\n"
        (root / f"{stem}.box").write_text(box, encoding="utf-8")
    return root

#BROKEN

@hookimpl
def register_readers(register):
    register(READER_CLASS)


class TestKit(ReaderConformance):
    reader_class = READER_CLASS
    local_plugins = (__file__,)  # this file registers the reader, like a config's `plugins:`

    @pytest.fixture
    def reader_options(self, tmp_path):
        return {"path": str(write_sample(tmp_path / "sample"))}

    @pytest.fixture
    def broken_source(self, tmp_path):
        root = write_sample(tmp_path / "broken")
        (root / "b.box").write_text("cat 1 2\\n", encoding="utf-8")
        return BrokenSource({"path": str(root)}, "b.box:1")
'''

BROKEN = {
    "a detect that does not know its own sample": (
        """
class Broken(BoxFolderReader):
    @classmethod
    def detect(cls, path):
        return Detection(0.2, ("not sure",), ({"path": path},))
""",
        {"test_detects_its_own_sample"},
    ),
    "a detect that claims everything": (
        """
class Broken(BoxFolderReader):
    @classmethod
    def detect(cls, path):
        return Detection(0.9, ("a folder",), ({"path": path},))
""",
        {"test_detect_says_why_not_elsewhere"},
    ),
    "a detect that opens every file": (
        """
class Broken(BoxFolderReader):
    @classmethod
    def detect(cls, path):
        for file in sorted(Path(path).rglob("*")):
            if file.is_file():
                file.read_bytes()
        return super().detect(path)
""",
        {"test_detect_looks_at_a_bounded_number_of_files"},
    ),
    "duplicate keys": (
        """
class Broken(BoxFolderReader):
    def record(self, root, name):
        record = super().record(root, name)
        return ImageRecord(key="item", path=record.path, name=record.name, boxes=record.boxes)
""",
        {"test_keys_are_unique"},
    ),
    "order from the file system": (
        """
class Broken(BoxFolderReader):
    def listing(self, root):
        return os.listdir(root)
""",
        {"test_order_is_deterministic"},
    ),
    "a list instead of a stream": (
        """
class Broken(BoxFolderReader):
    def records(self):
        root = Path(self.options.path)
        if not root.is_dir():
            raise SourceError(f"{root}: no such folder")
        return [self.record(root, n) for n in self.listing(root) if n.endswith(".png")]
""",
        {"test_yields_image_records", "test_streams_lazily"},
    ),
    "everything read before the first record": (
        """
class Broken(BoxFolderReader):
    def records(self):
        everything = list(super().records())
        yield from everything
""",
        {"test_streams_lazily"},
    ),
    "boxes outside the image": (
        """
class Broken(BoxFolderReader):
    def record(self, root, name):
        record = super().record(root, name)
        boxes = [Box(b.label, b.xmin, b.ymin, b.xmax * 2, b.ymax) for b in record.boxes]
        return ImageRecord(key=record.key, path=record.path, name=record.name, boxes=tuple(boxes))
""",
        {"test_boxes_inside_the_image"},
    ),
    "unknown options accepted": (
        """
class LooseOptions(ReaderOptions):
    \"\"\"Options that take anything.\"\"\"

    model_config = ConfigDict(extra="allow", frozen=True)


class Broken(BoxFolderReader):
    Options = LooseOptions
""",
        {"test_options_reject_unknown_fields"},
    ),
    "a bare ValueError": (
        """
class Broken(BoxFolderReader):
    def bad_line(self, where):
        raise ValueError("not enough values to unpack")
""",
        {"test_broken_source_names_the_item"},
    ),
    "an error that does not name the item": (
        """
class Broken(BoxFolderReader):
    def bad_line(self, where):
        raise ItemError("boxfolder.bad_line", "bad line")
""",
        {"test_broken_source_names_the_item"},
    ),
    "a missing folder read as empty": (
        """
class Broken(BoxFolderReader):
    def records(self):
        if Path(self.options.path).is_dir():
            yield from super().records()
""",
        {"test_missing_source_is_an_error"},
    ),
    "a wrong size": (
        """
class Broken(BoxFolderReader):
    def record(self, root, name):
        record = super().record(root, name)
        return ImageRecord(key=record.key, path=record.path, name=record.name,
                           width=record.width + 1, height=record.height, boxes=record.boxes)
""",
        {"test_sizes_match_the_image_files"},
    ),
    "extras that do not pickle": (
        """
class Broken(BoxFolderReader):
    def record(self, root, name):
        record = super().record(root, name)
        return ImageRecord(key=record.key, path=record.path, name=record.name, boxes=record.boxes,
                           extras={"lock": LOCK})
""",
        {"test_records_survive_the_journal"},
    ),
    "a name with folders": (
        """
class Broken(BoxFolderReader):
    def record(self, root, name):
        record = super().record(root, name)
        return ImageRecord(key=record.key, path=record.path, name=f"sub/{record.name}",
                           boxes=record.boxes)
""",
        {"test_record_fields_are_valid"},
    ),
}


# Inner sessions leave out plugins that only cost time (hypothesis' summary takes a second).
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def outcomes(pytester: pytest.Pytester, broken: str, reader: str, *args: str) -> dict[str, str]:
    """Run the kit against ``reader``; return {test name: outcome} of the call phase."""
    source = READER.replace("#BROKEN", textwrap.dedent(broken)).replace("READER_CLASS", reader)
    pytester.makepyfile(test_kit=source)
    recorded = pytester.inline_run(*QUIET, *args)
    results: dict[str, str] = {}
    for report in recorded.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            results[report.nodeid.rsplit("::", 1)[-1]] = report.outcome
    assert results, "the kit collected no tests"
    return results


def test_a_reader_that_keeps_the_contract_passes_everything(pytester: pytest.Pytester) -> None:
    results = outcomes(pytester, "", "BoxFolderReader")
    assert set(results.values()) == {"passed"}, results
    assert "test_uploads_to_local_server" in results and len(results) >= 15


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_the_kit_catches(pytester: pytest.Pytester, breakage: str) -> None:
    source, expected = BROKEN[breakage]
    results = outcomes(pytester, source, "Broken", "-k", "not uploads and not registered")
    failed = {name for name, outcome in results.items() if outcome == "failed"}
    assert failed == expected, results


def test_a_subclass_that_gives_no_sample_is_told_what_to_override(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_empty="""
from osai_import.testing import ReaderConformance
from osai_import import Reader, ReaderOptions


class Nothing(Reader):
    \"\"\"Read nothing.\"\"\"

    name = "nothing"

    def records(self):
        yield from ()


class TestNothing(ReaderConformance):
    reader_class = Nothing
"""
    )
    result = pytester.runpytest_inprocess(*QUIET, "-k", "yields")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*TestNothing must override the `reader_options` fixture*"])


def test_the_kit_is_a_pytest_plugin_with_server_fixtures(pytester: pytest.Pytester) -> None:
    (entry,) = [
        ep for ep in metadata.entry_points(group="pytest11") if ep.value == "osai_import.testing"
    ]
    assert entry.name == "osai_import"
    pytester.makepyfile(
        test_server="""
import requests


def test_server_and_uploader(osai_local_server, osai_uploader, tmp_path):
    health = requests.get(f"{osai_local_server.root_url}/_emulator/health", timeout=5)
    assert health.json() == {"ok": True}
    assert osai_uploader.server is osai_local_server
"""
    )
    pytester.runpytest_inprocess(*QUIET).assert_outcomes(passed=1)
