"""Tests of osai_import.source.voc.parse_voc: content, coordinates, errors and hostile XML."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from osai_import.errors import ItemError
from osai_import.records import Box
from osai_import.source.voc import MAX_XML_BYTES, VocAnnotation, parse_voc
from tests.support import REALDATA

FULL = b"""<?xml version="1.0" encoding="UTF-8"?>
<annotation>
  <folder>imgs</folder>
  <filename>street.jpg</filename>
  <size><width>640</width><height>480</height><depth>3</depth></size>
  <object>
    <name> car </name>
    <pose>Left</pose>
    <truncated>1</truncated>
    <difficult>true</difficult>
    <occluded>FALSE</occluded>
    <bndbox><xmax>120.5</xmax><ymin>20</ymin><xmin>10.25</xmin><ymax>80</ymax></bndbox>
  </object>
  <object>
    <name>person</name>
    <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox>
    <part>
      <name>head</name>
      <bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>2</xmax><ymax>3</ymax></bndbox>
    </part>
  </object>
</annotation>
"""


def _voc(objects: str, size: str = "") -> bytes:
    return f"<annotation><filename>a.jpg</filename>{size}{objects}</annotation>".encode()


def _obj(
    name: str = "<name>cat</name>",
    box: str = "<xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>",
    extra: str = "",
) -> str:
    return f"<object>{name}{extra}<bndbox>{box}</bndbox></object>"


def _error(data: bytes | Path, source: str = "ann/a.xml") -> ItemError:
    with pytest.raises(ItemError) as info:
        parse_voc(data, source=source)
    return info.value


def test_full_document_is_read_with_every_field() -> None:
    voc = parse_voc(FULL, source="street.xml")
    assert voc == VocAnnotation(
        filename="street.jpg",
        width=640,
        height=480,
        depth=3,
        boxes=(
            Box(
                "car",
                10.25,
                20.0,
                120.5,
                80.0,
                difficult=True,
                truncated=True,
                occluded=False,
                pose="Left",
            ),
            Box("person", 1.0, 2.0, 3.0, 4.0),
        ),
    )


def test_path_and_bytes_give_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "street.xml"
    path.write_bytes(FULL)
    assert parse_voc(path, source=str(path)) == parse_voc(FULL, source="x")
    assert parse_voc(str(path), source=str(path)) == parse_voc(FULL, source="x")


def test_missing_or_zero_size_is_unknown_and_no_objects_is_empty() -> None:
    voc = parse_voc(_voc("", "<size><width>0</width><height></height></size>"), source="a.xml")
    assert (voc.width, voc.height, voc.depth, voc.boxes) == (None, None, None, ())
    voc = parse_voc(b"<annotation/>", source="a.xml")
    assert voc == VocAnnotation(None, None, None, None, ())


def test_integral_float_size_is_accepted_and_bad_size_refused() -> None:
    assert parse_voc(_voc("", "<size><width>20.0</width></size>"), source="a.xml").width == 20
    err = _error(_voc("", "<size><width>wide</width></size>"))
    assert err.code == "xml.invalid"
    assert "ann/a.xml" in str(err) and "<width>" in str(err)


def test_flags_accept_words_and_refuse_other_values() -> None:
    voc = parse_voc(
        _voc(
            _obj(extra="<difficult>True</difficult><occluded>1</occluded><truncated>0</truncated>")
        ),
        source="a",
    )
    assert voc.boxes[0].difficult and voc.boxes[0].occluded and not voc.boxes[0].truncated
    err = _error(_voc(_obj() + _obj(extra="<difficult>2</difficult>")))
    assert err.code == "xml.invalid"
    assert "object 2 of 2" in str(err) and "<difficult>" in str(err)


def test_names_are_normalized_to_nfc() -> None:
    voc = parse_voc(_voc(_obj(name="<name>cafe\u0301</name>")), source="a")
    assert voc.boxes[0].label == "caf\u00e9"


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        (_obj(name=""), "has no <name>"),
        (_obj(name="<name>  </name>"), "has no <name>"),
        ("<object><name>cat</name></object>", "has no <bndbox>"),
        (_obj(box="<xmin>1</xmin><ymin>2</ymin><xmax>3</xmax>"), "no <ymax>"),
        (_obj(box="<xmin>1</xmin><ymin>2</ymin><xmax>abc</xmax><ymax>4</ymax>"), "'abc'"),
        (_obj(box="<xmin>nan</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"), "'nan'"),
        (_obj(box="<xmin>inf</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"), "'inf'"),
    ],
)
def test_invalid_objects_name_the_file_and_object(obj: str, needle: str) -> None:
    err = _error(_voc(_obj() + _obj() + obj))
    assert err.code == "xml.invalid"
    assert str(err).startswith("ann/a.xml: object 3 of 3")
    assert needle in str(err)


def test_wrong_root_is_invalid() -> None:
    err = _error(b"<coco><images/></coco>")
    assert err.code == "xml.invalid" and "<coco>" in str(err)


def test_malformed_xml_gives_the_line() -> None:
    err = _error(
        b'<?xml version="1.0"?>\n<annotation>\n  <object>\n    <name>cat</nam>\n</annotation>\n'
    )
    assert err.code == "xml.malformed"
    assert str(err).startswith("ann/a.xml:4: malformed XML")
    for data in (b"", b"not xml at all", b"<annotation>"):
        assert _error(data).code == "xml.malformed"


def test_undefined_entity_is_malformed_not_unsafe() -> None:
    assert _error(b"<annotation><filename>&nope;</filename></annotation>").code == "xml.malformed"


def test_utf16_document_is_read() -> None:
    text = "<?xml version='1.0' encoding='utf-16'?>" + _voc(_obj(name="<name>chat</name>")).decode()
    assert parse_voc(text.encode("utf-16"), source="a").boxes[0].label == "chat"


def test_missing_file_and_directory_are_unreadable(tmp_path: Path) -> None:
    err = _error(tmp_path / "nope.xml", source="nope.xml")
    assert err.code == "xml.unreadable" and "nope.xml" in str(err)
    assert _error(tmp_path, source="dir").code == "xml.unreadable"


def test_oversized_file_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    with open(path, "wb") as handle:
        handle.truncate(MAX_XML_BYTES + 1)  # sparse: costs no disk
    err = _error(path, source="huge.xml")
    assert err.code == "xml.invalid" and "huge.xml" in str(err)


# --- hostile documents -----------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><object><name>&lol9;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>
"""


def test_entity_bomb_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    path.write_bytes(BOMB)
    start = time.perf_counter()
    err = _error(path, source=str(path))
    assert time.perf_counter() - start < 1.0
    assert err.code == "xml.unsafe"
    assert str(path) in str(err)
    assert "lol" not in str(err)


def test_bomb_in_utf16_is_refused() -> None:
    text = BOMB.decode().replace('<?xml version="1.0"?>', "<?xml version='1.0' encoding='utf-16'?>")
    assert _error(text.encode("utf-16")).code == "xml.unsafe"
    assert _error(text.encode("utf-16-be")).code == "xml.unsafe"


def test_external_entity_never_leaks_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    doc = (
        f'<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f"<annotation><filename>&xxe;</filename>{_obj(name='<name>&xxe;</name>')}</annotation>"
    ).encode()
    err = _error(doc)
    assert err.code == "xml.unsafe"
    assert "TOP-SECRET" not in str(err)


def _never_opens(fifo: Path, doc: bytes) -> ItemError:
    """Parse ``doc`` (which points at ``fifo``); fail if the parser ever opens the FIFO.

    Opening a FIFO for reading blocks until a writer comes, so a parser that tries to
    read it hangs; the watchdog then unblocks it and the test fails.
    """
    result: dict[str, object] = {}

    def run() -> None:
        try:
            parse_voc(doc, source="hostile.xml")
        except ItemError as exc:
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY))
        worker.join(5)
        pytest.fail("the parser opened the file named by the XML")
    assert isinstance(result.get("error"), ItemError)
    return result["error"]  # type: ignore[return-value]


@pytest.mark.parametrize(
    "template",
    [
        '<!DOCTYPE annotation [<!ENTITY x SYSTEM "file://{fifo}">]><annotation><filename>&x;</filename></annotation>',
        '<!DOCTYPE annotation SYSTEM "file://{fifo}"><annotation><filename>a</filename></annotation>',
        '<!DOCTYPE annotation PUBLIC "-//x//EN" "file://{fifo}"><annotation/>',
        '<!DOCTYPE annotation [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]><annotation/>',
    ],
)
def test_external_references_are_refused_without_reading(tmp_path: Path, template: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    err = _never_opens(fifo, template.format(fifo=fifo).encode())
    assert err.code == "xml.unsafe"
    assert "hostile.xml" in str(err)


def test_fifo_given_as_the_xml_file_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "a.xml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    assert _error(fifo).code == "xml.unreadable"
    assert time.perf_counter() - start < 1.0


def test_plain_doctype_without_entities_is_accepted() -> None:
    voc = parse_voc(
        b"<!DOCTYPE annotation><annotation><filename>a.jpg</filename></annotation>", source="a"
    )
    assert voc.filename == "a.jpg"


# --- real VOC files written by other tools ---------------------------------------------


def _datumaro_boxes(folder: str) -> dict[str, list[list[object]]]:
    oracle = json.loads((REALDATA / folder / "ORACLE.json").read_text())
    view = next(
        v for name, v in oracle["views"].items() if "detection" in name or "roboflow" in name
    )
    return {Path(img["file"]).stem: img["boxes"] for img in view["oracles"]["datumaro"]["images"]}


@pytest.mark.parametrize(
    ("folder", "pattern"),
    [
        ("datumaro_voc1", "Annotations/*.xml"),
        ("datumaro_voc2_noimages", "Annotations/*.xml"),
        ("datumaro_voc3", "Annotations/*.xml"),
        ("datumaro_roboflow_voc", "*/*.xml"),
    ],
)
def test_real_voc_files_match_the_oracle(folder: str, pattern: str) -> None:
    expected = _datumaro_boxes(folder)
    files = sorted((REALDATA / folder).glob(pattern))
    assert files
    for path in files:
        voc = parse_voc(path, source=str(path))
        got = [[b.label, b.xmin, b.ymin, b.xmax, b.ymax] for b in voc.boxes]
        assert got == expected[path.stem], path


def test_real_voc_flags_and_parts() -> None:
    voc = parse_voc(REALDATA / "datumaro_voc1/Annotations/2007_000001.xml", source="voc1")
    assert (voc.width, voc.height, voc.depth) == (20, 10, 3)
    cat, person = voc.boxes
    assert cat.truncated and not cat.difficult and cat.pose == "Unspecified"
    assert person == Box("person", 4.0, 5.0, 6.0, 7.0)  # the <part> head box is not a box
    occluded = parse_voc(REALDATA / "datumaro_voc2_noimages/Annotations/a.xml", source="a")
    assert occluded.boxes[0].occluded and occluded.width is None
