"""Images held as base64 text in JSON files: read when needed, uploaded as any image."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import textwrap
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from osai_import import embedded_image, locate
from osai_import.errors import ItemError
from osai_import.location import SourcePath
from osai_import.source.files import read_blob
from osai_import.testing import OsaiUploader


def _png(width: int, height: int, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_the_image_is_the_decoded_text_at_the_pointer(tmp_path: Path) -> None:
    data = _png(7, 5)
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps({"imageData": _b64(data), "shapes": []}), encoding="utf-8")
    path = embedded_image(doc, ["imageData"], "a.png")
    assert isinstance(path, SourcePath)
    assert (path.name, path.suffix, path.is_file(), path.stat().st_size) == (
        "a.png", ".png", True, len(data))
    assert path.read_bytes() == data
    with path.open("rb") as stream:
        assert stream.read() == data
    assert str(path) == f"{doc}#/imageData"
    assert pickle.loads(pickle.dumps(path)) == path
    assert path != embedded_image(doc, ["imageData"], "b.png")


def test_a_data_uri_deep_in_a_list_and_wrapped_base64(tmp_path: Path) -> None:
    data = _png(3, 9)
    wrapped = "\n".join(textwrap.wrap(_b64(data), 76))  # MIME wraps base64 at 76 columns
    doc = tmp_path / "tasks.json"
    doc.write_text(json.dumps([{"data": {}}, {"data": {
        "image": f"data:image/png;base64,{_b64(data)}", "raw": wrapped}}]), encoding="utf-8")
    assert embedded_image(doc, [1, "data", "image"], "t.png").read_bytes() == data
    assert embedded_image(doc, [1, "data", "raw"], "t.png").read_bytes() == data


@pytest.mark.parametrize(("value", "words"), [
    (None, "the key 'imageData' is missing"),
    (42, "holds int, not base64 text"),
    ("not*base64!", "not valid base64"),
    ("data:image/png,rawtext", "a data: URI that is not base64"),
])
def test_a_bad_embedding_is_unreadable_naming_the_file_and_the_pointer(
        tmp_path: Path, value: object, words: str) -> None:
    doc = tmp_path / "bad.json"
    doc.write_text(json.dumps({} if value is None else {"imageData": value}), encoding="utf-8")
    path = embedded_image(doc, ["imageData"], "bad.jpg")
    assert path.is_file()  # there is a file; reading it fails, with the reason
    with pytest.raises(ItemError) as caught:
        read_blob(path)
    assert caught.value.code == "image.unreadable"
    assert f"{doc}#/imageData" in str(caught.value) and words in str(caught.value)


def test_a_container_inside_a_zip(tmp_path: Path) -> None:
    data = _png(4, 4)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("ann/x.json", json.dumps({"imageData": _b64(data)}))
    container = locate(str(archive / "ann" / "x.json"))
    assert isinstance(container, SourcePath)
    path = embedded_image(container, ["imageData"], "x.png")
    assert path.read_bytes() == data
    assert str(path) == f"{archive}/ann/x.json#/imageData"


def test_names_with_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be a file name"):
        embedded_image(tmp_path / "a.json", ["imageData"], "sub/a.png")


_PLUGIN = '''
"""A reader of JSON files that each embed one photo: the test's in-house layout."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from osai_import import Box, ImageRecord, Reader, ReaderOptions, embedded_image, hookimpl


class Embedded(Reader):
    """Read one JSON file per image, the photo inside it as base64."""

    name = "embedded-test"
    Options = ReaderOptions
    any_storage = True

    def records(self) -> Iterator[ImageRecord]:
        for path in sorted(self.options.path.glob("*.json")):
            doc = json.loads(path.read_bytes())
            boxes = [Box(label, *corners) for label, *corners in doc["boxes"]]
            yield ImageRecord(path.stem, embedded_image(path, ["photo"], doc["name"]),
                              doc["name"], boxes=boxes)


@hookimpl
def register_readers(register: Callable[[type[Reader]], None]) -> None:
    register(Embedded)
'''


def test_embedded_photos_upload_and_a_broken_one_is_named(
        osai_uploader: OsaiUploader, tmp_path: Path) -> None:
    plugin = tmp_path / "embedded_layout.py"
    plugin.write_text(_PLUGIN, encoding="utf-8")
    folder = tmp_path / "export"
    folder.mkdir()
    photos = {f"p{i}.png": _png(20 + i, 10, (i * 40, 0, 0)) for i in range(3)}
    for i, (name, data) in enumerate(photos.items()):
        (folder / f"{i}.json").write_text(json.dumps(
            {"name": name, "photo": _b64(data), "boxes": [["cat", 1, 2, 10, 8]]}),
            encoding="utf-8")
    (folder / "9.json").write_text(json.dumps(
        {"name": "broken.png", "photo": "%%%", "boxes": []}), encoding="utf-8")

    result = osai_uploader.upload({"type": "embedded-test", "path": str(folder)},
                                  plugins=[str(plugin)])

    stored = {image["name"]: image for image in result.images}
    assert sorted(stored) == sorted(photos)
    for name, data in photos.items():
        assert stored[name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.boxes()["p1.png"] == [("cat", 1, 2, 10, 8)]
    failed = [item for item in result.report.to_dict()["problems"]
              if item["code"] == "image.unreadable"]
    assert len(failed) == 1 and f"{folder / '9.json'}#/photo" in failed[0]["message"]
    assert "not valid base64" in failed[0]["message"]
