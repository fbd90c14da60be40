"""Hostile and broken inputs beside good images, through the real `osai-import run`.

For each: one clear line naming the item and what to do, the good images uploaded
anyway, no traceback, and the documented exit code (0 all sent, 1 items skipped or a
source that cannot be read, 2 config error).
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from osai_import.emulator import LocalServer
from tests.reliability.support import LEDGER, TOKEN, datasets, run_cli, stats, stored
from tests.support import make_image

SECRET = "TOP-SECRET-CONTENT-4242"
GOOD = ["good_0.jpg", "good_1.jpg", "good_2.png", "good_3.jpg"]


@dataclass
class Case:
    """A dataset with one bad thing in it, and what the run must say about it."""

    source: dict[str, Any]
    item: str  # the item the message must name ("" for a source or config error)
    says: list[str]  # fragments of that message: the code and what to do
    exit_code: int = 1
    uploaded: list[str] = field(default_factory=lambda: list(GOOD))
    config: dict[str, Any] = field(default_factory=dict)  # merged over the usual config
    warning: bool = False  # the item is uploaded with a warning, not skipped
    lines: int = 1  # lines naming the item: the first one must say it all
    also: list[str] = field(default_factory=list)  # what another line naming it says


def _good_images(folder: Path) -> None:
    for n, name in enumerate(GOOD):
        make_image(folder / name, 20 + n, 16 + n, (40 * n, 90, 200))


def _noise_jpeg(path: Path, size: int = 64) -> bytes:
    rng = random.Random(size)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _voc(name: str) -> str:
    return (f"<annotation><object><name>{name}</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
            "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>")


# --- folder datasets ---------------------------------------------------------------------

FOLDER = {"type": "folder", "path": "data", "category": "none"}


def truncated_jpeg(root: Path) -> Case:
    data = _noise_jpeg(root / "data" / "bad.jpg")
    (root / "data" / "bad.jpg").write_bytes(data[: len(data) * 2 // 3])
    return Case(FOLDER, "bad.jpg", ["[image.truncated]", "copy or download it again"])


def zero_byte_file(root: Path) -> Case:
    (root / "data" / "bad.jpg").write_bytes(b"")
    return Case(FOLDER, "bad.jpg", ["[image.empty]", "replace it with the real image"])


def png_named_jpg(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg", fmt="PNG")
    return Case(FOLDER, "bad.jpg", ["[image.extension_mismatch]", "bad.png"], exit_code=0,
                uploaded=[*GOOD, "bad.png"], warning=True)


def text_named_jpg(root: Path) -> Case:
    (root / "data" / "bad.jpg").write_text("name,label\na.jpg,cat\n")
    return Case(FOLDER, "bad.jpg", ["[image.unsupported]", "text", "convert it"])


def enormous_png_header(root: Path) -> Case:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (root / "data" / "bad.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return Case(FOLDER, "bad.png", ["[image.too_large]", "100000x100000", "not decoded"])


def enormous_jpeg_header(root: Path) -> Case:
    data = bytearray(make_image(root / "data" / "bad.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65_000, 65_000)  # height, width
    (root / "data" / "bad.jpg").write_bytes(bytes(data))
    return Case(FOLDER, "bad.jpg", ["[image.too_large]", "65000x65000", "check.max_pixels"])


def malformed_xml(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    (root / "data" / "bad.xml").write_text("<annotation><object><name>cat</name")
    return Case(FOLDER, "bad.jpg", ["[xml.malformed]", "bad.xml:1", "fix or delete the file"])


def xml_entity_bomb(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    levels = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10)]
    (root / "data" / "bad.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE annotation [{"".join(levels)}]>{_voc("&l9;")}')
    return Case(FOLDER, "bad.jpg", ["[xml.unsafe]", "without expanding", "Remove the DOCTYPE"])


def xml_external_entity(root: Path) -> Case:
    secret = root / "secret.txt"
    secret.write_text(SECRET)
    make_image(root / "data" / "bad.jpg")
    (root / "data" / "bad.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f'{_voc("&xxe;")}')
    return Case(FOLDER, "bad.jpg", ["[xml.unsafe]", "fetching anything", "Remove the DOCTYPE"])


def file_name_not_utf8(root: Path) -> Case:
    # A name the file system holds as bytes that are not UTF-8 (Latin-1 "é"), and empty.
    (root / "data").joinpath(b"caf\xe9.jpg".decode("utf-8", "surrogateescape")).write_bytes(b"")
    return Case(FOLDER, "caf\\xe9.jpg", ["[image.empty]", "replace it with the real image"])


# --- CSV manifests -----------------------------------------------------------------------

CSV = {"type": "csv", "path": "data/labels.csv"}


def _csv(root: Path, rows: list[str], header: str = "image,label,xmin,ymin,xmax,ymax",
         raw: bytes = b"") -> None:
    lines = [header, *(f"{name},thing,1,1,5,5" for name in GOOD), *rows]
    (root / "data" / "labels.csv").write_bytes("\n".join(lines).encode() + b"\n" + raw)


def csv_row_missing_cells(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _csv(root, ["bad.jpg,thing,1"])
    return Case(CSV, "bad.jpg", ["[csv.row]", "labels.csv:6"])


def csv_header_missing_columns(root: Path) -> Case:
    _csv(root, [], header="file,label,xmin,ymin,xmax,ymax")
    return Case(CSV, "", ["labels.csv:1", "image_column", "'file'", "set the reader's"],
                uploaded=[])


def csv_bad_numbers(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _csv(root, ["bad.jpg,thing,1,one,5,5"])
    return Case(CSV, "bad.jpg", ["[csv.value]", "labels.csv:6", "'one'"])


def csv_bytes_not_utf8(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _csv(root, [], raw=b"caf\xe9.jpg,thing,1,1,5,5\n")
    return Case(CSV, "", ["labels.csv:6", "(e9 2e 6a 70)", "not valid utf-8", "set the reader's"],
                uploaded=[])


def csv_path_escaping_the_folder(root: Path) -> Case:
    make_image(root / "outside.jpg")  # a real image: it must still never be read or sent
    _csv(root, ["../outside.jpg,thing,1,1,5,5"])
    return Case(CSV, "../outside.jpg", ["[path.outside]", "labels.csv:6"])


# --- COCO files ----------------------------------------------------------------------------

COCO = {"type": "coco", "path": "data/coco.json"}


def _coco(root: Path, images: list[Any], annotations: list[Any],
          categories: list[Any] | None = None) -> None:
    good = [{"id": n + 1, "file_name": name, "width": 20 + n, "height": 16 + n}
            for n, name in enumerate(GOOD)]
    boxes = [{"id": 100 + n, "image_id": n + 1, "category_id": 1, "bbox": [1, 1, 4, 4]}
             for n in range(len(GOOD))]
    data = {"images": good + images, "annotations": boxes + annotations,
            "categories": categories or [{"id": 1, "name": "thing"}]}
    (root / "data" / "coco.json").write_text(json.dumps(data))


def coco_missing_keys(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _coco(root, [{"id": 9, "file_name": "bad.jpg"}], [{"id": 900, "image_id": 9, "bbox": [1, 1, 2, 2]}])
    return Case(COCO, "bad.jpg", ["[coco.bad_annotation]", "(bad.jpg): annotation 900", "category_id"])


def coco_image_without_file_name(root: Path) -> Case:
    _coco(root, [{"id": 9, "width": 5}], [])
    return Case(COCO, "images[4]", ["[coco.bad_image]", "image 9", "file_name",
                                    "expected a relative path"])


def coco_wrong_types(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _coco(root, [{"id": 9, "file_name": "bad.jpg"}],
          [{"id": 900, "image_id": 9, "category_id": 1, "bbox": "1,1,2,2"}])
    return Case(COCO, "bad.jpg", ["[coco.bad_annotation]", "(bad.jpg): annotation 900", "bbox"])


def coco_unknown_image_ids(root: Path) -> Case:
    _coco(root, [], [{"id": 900, "image_id": 77, "category_id": 1, "bbox": [1, 1, 2, 2]}])
    return Case(COCO, "image_id 77", ["[coco.unknown_image]", "ignored"], exit_code=0,
                warning=True)


def coco_unknown_category_ids(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    _coco(root, [{"id": 9, "file_name": "bad.jpg"}],
          [{"id": 900, "image_id": 9, "category_id": 5, "bbox": [1, 1, 2, 2]}])
    return Case(COCO, "bad.jpg", ["[coco.unknown_category]", "(bad.jpg): annotation 900", "5"])


def coco_duplicate_image_ids(root: Path) -> Case:
    make_image(root / "data" / "bad.jpg")
    make_image(root / "data" / "other.jpg")
    _coco(root, [{"id": 9, "file_name": "bad.jpg"}, {"id": 9, "file_name": "other.jpg"}], [])
    # Both entries carry the first one's key (bad.jpg): the first is refused as a repeated
    # key, the second by the reader itself.
    return Case(COCO, "bad.jpg", ["[record.duplicate]", "2 times", "give every entry its own id"],
                lines=2, also=["[coco.duplicate_image]", "listed again at images[5]",
                               "give every image its own id"])


# --- configs -------------------------------------------------------------------------------


def config_wrong_types(root: Path) -> Case:
    return Case(FOLDER, "", ["upload.workers", "integer"], exit_code=2, uploaded=[],
                config={"upload": {"workers": "many"}})


def config_unknown_keys(root: Path) -> Case:
    return Case(FOLDER, "", ["upload.wrokers"], exit_code=2, uploaded=[],
                config={"upload": {"wrokers": 2}})


def config_unset_variable(root: Path) -> Case:
    return Case(FOLDER, "", ["dataset.name", "OSAI_TEST_UNSET_NAME is not set", "export it"],
                exit_code=2, uploaded=[], config={"dataset": {"name": "${OSAI_TEST_UNSET_NAME}"}})


def config_unset_token_variable(root: Path) -> Case:
    return Case(FOLDER, "", ["OSAI_TEST_NO_TOKEN is not set", "export OSAI_TEST_NO_TOKEN"],
                exit_code=2, uploaded=[], config={"server": {"token_env": "OSAI_TEST_NO_TOKEN"}})


def config_name_looking_like_markup(root: Path) -> Case:
    # The summary is printed with rich: text such as "[/old]" must print, not crash it.
    return Case(FOLDER, "", ["birds [/old]"], exit_code=0, config={"dataset": {"name": "birds [/old]"}})


CASES: list[Callable[[Path], Case]] = [
    truncated_jpeg, zero_byte_file, png_named_jpg, text_named_jpg, enormous_png_header,
    enormous_jpeg_header, malformed_xml, xml_entity_bomb, xml_external_entity,
    file_name_not_utf8, csv_row_missing_cells, csv_header_missing_columns, csv_bad_numbers,
    csv_bytes_not_utf8, csv_path_escaping_the_folder, coco_missing_keys,
    coco_image_without_file_name, coco_wrong_types, coco_unknown_image_ids,
    coco_unknown_category_ids, coco_duplicate_image_ids, config_wrong_types,
    config_unknown_keys, config_unset_variable, config_unset_token_variable,
    config_name_looking_like_markup,
]


def _write_config(root: Path, server: LocalServer, case: Case) -> Path:
    data: dict[str, Any] = {
        "dataset": {"name": "bad-inputs"},
        "source": case.source,
        "server": {"url": server.base_url, "timeout": 10},
        "upload": {"backoff": 0.01, "max_backoff": 0.05},
    }
    for key, value in case.config.items():
        data[key] = {**data.get(key, {}), **value}
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _lines_naming(text: str, item: str) -> list[str]:
    return [line for line in text.splitlines() if f" {item}: [" in line]


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_beside_good_images(tmp_path: Path, server: LocalServer,
                                      make: Callable[[Path], Case]) -> None:
    _good_images(tmp_path / "data")
    case = make(tmp_path)
    config = _write_config(tmp_path, server, case)
    result = run_cli(config)
    result.assert_clean()
    assert result.returncode == case.exit_code, result.stderr
    said = result.stderr
    if case.item:
        # One line names the item, with its code and what to do.
        lines = _lines_naming(said, case.item)
        assert 1 <= len(lines) <= case.lines, said
        line = lines[0]
        assert line.startswith("warning" if case.warning else "skipped"), line
        for fragment in case.says:
            assert fragment in line, (fragment, line)
        if case.also:
            assert any(all(f in other for f in case.also) for other in lines[1:]), said
        assert result.report is not None
        assert any(p["item"] == case.item for p in result.report["problems"])
    else:
        lines = [line for line in said.splitlines() if all(f in line for f in case.says)]
        assert len(lines) == 1, said
    found = datasets(server)
    if not case.uploaded:
        assert found == [], "nothing is created on the server"
        assert stats(server)["total"] == 0, "nothing was sent"
        return
    [dataset] = found
    data = stored(server, dataset["id"])
    LEDGER.add(case.uploaded, Counter(i["name"] for i in data["images"]))
    assert sorted(i["name"] for i in data["images"]) == sorted(case.uploaded)
    assert data["locked"] is False
    assert result.report is not None
    assert result.report["counts"]["uploaded"] == len(case.uploaded)


def test_an_external_entity_is_never_read(tmp_path: Path, server: LocalServer) -> None:
    _good_images(tmp_path / "data")
    xml_external_entity(tmp_path)
    config = _write_config(tmp_path, server, Case(FOLDER, "", []))
    result = run_cli(config, debug=True)
    assert result.returncode == 1
    places = {"stdout": result.stdout, "stderr": result.stderr,
              "report": json.dumps(result.report)}
    for path in [*(tmp_path / "server").rglob("*"), *(tmp_path / ".osai-import").rglob("*")]:
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")
    assert places and all(SECRET not in text for text in places.values())
    assert "bad.jpg" in result.stderr and TOKEN not in result.stderr
