"""The VOC parser and the image header reader, called directly."""

from __future__ import annotations

import time

import pytest

from osai_import.emulator.images import ImageError, read_header, sniff
from osai_import.emulator.voc import VocError, decode_base64, parse_voc

from .support import make_image, voc_xml


def test_parses_objects_in_any_bndbox_order() -> None:
    document = ("<annotation><object><name> cat </name><truncated>1</truncated><bndbox>"
                "<ymax>9.5</ymax><xmin>1</xmin><ymin>2</ymin><xmax>8</xmax></bndbox></object>"
                "<object><name>dog</name><bndbox><xmin>0</xmin><xmax>3</xmax><ymin>0</ymin>"
                "<ymax>3</ymax></bndbox></object></annotation>")
    cat, dog = parse_voc(document.encode())
    assert (cat.name, cat.xmin, cat.ymin, cat.xmax, cat.ymax) == ("cat", 1, 2, 8, 9.5)
    assert (cat.truncated, cat.difficult, dog.truncated) == (1, 0, 0)


def test_annotation_without_objects_is_fine() -> None:
    assert parse_voc(voc_xml("a.jpg", 3, 3, []).encode()) == []


def test_billion_laughs_is_refused_fast() -> None:
    entities = "".join(f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, 30))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY e0 "ha">{entities}]>'
            "<annotation><object><name>&e29;</name></object></annotation>").encode()
    started = time.perf_counter()
    with pytest.raises(VocError, match="DTD"):
        parse_voc(bomb)
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("document", [
    '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation>&x;</annotation>',
    '<!DOCTYPE annotation SYSTEM "http://127.0.0.1:9/voc.dtd"><annotation/>',
])
def test_external_entities_and_dtds_are_refused(document: str) -> None:
    with pytest.raises(VocError, match="DTD"):
        parse_voc(document.encode())


def test_a_dtd_hidden_in_utf16_is_refused() -> None:
    document = ('<?xml version="1.0" encoding="UTF-16"?>'
                '<!DOCTYPE annotation [<!ENTITY x "y">]><annotation/>')
    with pytest.raises(VocError, match="DTD"):
        parse_voc(document.encode("utf-16"))


@pytest.mark.parametrize("text", ["", "  "])
def test_empty_base64(text: str) -> None:
    assert decode_base64(text) == b""


def test_base64_like_dotnet() -> None:
    assert decode_base64("PGE+\n PC9hPg==") == b"<a></a>"
    for bad in ("PGE", "PGE+PC9hPg=", "not base64!", "ü123"):
        with pytest.raises(VocError, match="base64"):
            decode_base64(bad)


@pytest.mark.parametrize("flag", ["2", "yes", "-1"])
def test_flags_are_0_or_1(flag: str) -> None:
    document = (f"<annotation><object><name>a</name><difficult>{flag}</difficult><bndbox>"
                "<xmin>0</xmin><ymin>0</ymin><xmax>1</xmax><ymax>1</ymax></bndbox></object>"
                "</annotation>")
    with pytest.raises(VocError, match="expected 0 or 1"):
        parse_voc(document.encode())


def test_non_finite_coordinates() -> None:
    document = ("<annotation><object><name>a</name><bndbox><xmin>nan</xmin><ymin>0</ymin>"
                "<xmax>1</xmax><ymax>1</ymax></bndbox></object></annotation>")
    with pytest.raises(VocError, match="not finite"):
        parse_voc(document.encode())


def test_sniff_and_header() -> None:
    jpeg, png = make_image("jpeg", 31, 7), make_image("png", 5, 9)
    assert (sniff(jpeg), sniff(png), sniff(b"GIF89a"), sniff(b"")) == ("jpeg", "png", None, None)
    assert (read_header(jpeg, "jpeg").width, read_header(jpeg, "jpeg").height) == (31, 7)
    assert (read_header(png, "png").width, read_header(png, "png").height) == (5, 9)
    with pytest.raises(ImageError, match="header cannot be read"):
        read_header(jpeg[:20], "jpeg")
    with pytest.raises(ImageError):
        read_header(png[:12], "png")


def test_header_only_is_fast() -> None:
    # A big image whose pixels are cut off: the header is enough, nothing is decoded.
    big = make_image("jpeg", 4000, 3000)
    started = time.perf_counter()
    info = read_header(big[: len(big) // 4], "jpeg")
    assert (info.width, info.height) == (4000, 3000)
    assert time.perf_counter() - started < 0.05
