"""The byte-level scan of the `coco` reader's fast path finds every top-level value exactly.

JSON objects of random content (strings full of quotes, brackets and backslashes, nested
values) are written in random styles and scanned with blocks cut down to a few bytes, so
that blocks end inside strings, escapes, numbers and between any two tokens.
"""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osai_import.default_plugins.coco_reader import scan as scan_module
from osai_import.default_plugins.coco_reader.scan import (
    Section,
    items_in_place,
    items_text,
    scan,
)
from tests.default_plugins.test_coco_fast import dump

_text = st.text(alphabet=st.sampled_from('ab"\\[]{},: é\n\t/\u2028𝄞'), max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**17), 10**17)
    | st.floats(-1e15, 1e15, allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=40,
)
_objects = st.dictionaries(_text.filter(lambda key: "." not in key), _values, max_size=6)


def scanned(text: str, block: int) -> tuple[dict[str, Section] | None, bytes]:
    data = text.encode("utf-8")
    original = scan_module.BLOCK
    scan_module.BLOCK = block
    try:
        return scan(io.BytesIO(data), 0), data
    finally:
        scan_module.BLOCK = original


def chunk_items(data: bytes, section: Section) -> list[Any]:
    items: list[Any] = []
    for number, (start, end) in enumerate(section.chunks):
        text = items_text(data[start:end], number == 0)
        assert text is not None
        items += json.loads(text)
    return items


@settings(max_examples=500, deadline=None)
@given(value=_objects, seed=st.integers(0, 2**16), block=st.sampled_from([1, 2, 3, 5, 8, 64]))
def test_the_scan_finds_every_top_level_value_and_chunks_arrays_on_item_ends(
    value: dict[str, Any], seed: int, block: int
) -> None:
    layout, data = scanned(dump(value, random.Random(seed)), block)
    assert layout is not None
    assert list(layout) == list(value)
    for key, section in layout.items():
        assert json.loads(data[section.start:section.end]) == value[key]
        kind = {list: "array", dict: "object", str: "string", bool: "boolean"}.get(
            type(value[key]), "null" if value[key] is None else "number")
        assert section.kind == kind
        if kind == "array":
            assert chunk_items(data, section) == value[key]
            assert data[section.chunks[-1][1]:section.end].strip() == b"]"


def test_big_arrays_come_in_chunks_of_about_a_block() -> None:
    items = [{"id": i, "s": "]}" * (i % 3), "p": [[i, i + 0.5]]} for i in range(3000)]
    layout, data = scanned(json.dumps({"annotations": items, "x": 1}), 4096)
    assert layout is not None
    chunks = layout["annotations"].chunks
    assert len(chunks) > 20 and all(end - start < 2 * 4096 for start, end in chunks)
    assert chunk_items(data, layout["annotations"]) == items


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 18])
def test_nesting_is_measured_as_ijson_measures_it(block: int) -> None:
    def document(levels: int) -> str:  # the top-level object and "a" are two levels
        return '{"b": "[[[[", "a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    assert scanned(document(scan_module.MAX_DEPTH), block)[0] is not None
    assert scanned(document(scan_module.MAX_DEPTH + 1), block)[0] is None


@pytest.mark.parametrize("block", [1, 3, 7, 19, 64, 65])
@pytest.mark.parametrize("shift", range(0, 40, 3))
def test_numbers_ijson_refuses_are_found_across_block_ends(block: int, shift: int) -> None:
    pad = "x" * shift
    fine = ["922337203685477580", "-922337203685477580", "1e-400", "2E+99", "1.0e0",
            '"12345678901234567890"', '"3e456f"', "0.12345678901234567890123"]
    # ijson refuses these; with 19 digits or a 3-digit exponent the scan steps aside
    # even where ijson would not (9223372036854775807 fits, 1e300 does not overflow).
    refused = ["9223372036854775808", "-9223372036854775809", "1" + "0" * 40, "1e400",
               "2E+308", "1e0400", "[12345678901234567890]", "9223372036854775807", "1e300"]
    for number in fine:
        assert scanned(f'{{"p": "{pad}", "n": {number}}}', block)[0] is not None, number
    for number in refused:
        assert scanned(f'{{"p": "{pad}", "n": {number}}}', block)[0] is None, number


@pytest.mark.parametrize("text", [
    '{"a": [1, 2], "a": [3]}',  # a key met twice
    '{"a.b": 1}',  # ijson would take it for a path
    '{"a": [1, 2,]}', '{"a": [1 2]}', '{"a": [1], }', '{"a": 1} x', '{"a": "\\x"}',
    '{"a": "\\ud800"}', '{"a": [}', '{"a": [1, {"b": }]}', '{"a" 1}', "", "[1]", '{"a": 01}',
    '{"a": "line\nbreak"}', '{"a": [1]\f}', '{"a": [1, 2]',
])
def test_anything_unusual_or_invalid_is_left_to_ijson(text: str) -> None:
    for block in (1, 4, 1 << 18):
        assert scanned(text, block)[0] is None, (text, block)


def test_invalid_utf8_is_left_to_ijson() -> None:
    for data in (b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc3'):
        assert scan(io.BytesIO(data), 0) is None
    assert scan(io.BytesIO('{"a": "é𝄞"}'.encode()), 0) is not None


def test_items_text_makes_each_chunk_an_array() -> None:
    assert items_text(b' {"a": 1}, 2', True) == b'[{"a": 1}, 2]'
    assert items_text(b' , {"a": 1}', False) == b'[ {"a": 1}]'
    assert items_text(b" \n", False) == b"[]"  # the last item ended with a block
    assert items_text(b", ", False) is None  # a trailing comma
    assert items_text(b'{"a": 1}', False) is None  # no comma between two items


@pytest.mark.parametrize("data", [
    b' {"a": 1}, 2', b' , {"a": 1}', b" \n", b"", b", ", b",", b'{"a": 1}', b' \t, [1, 2] ,3 ',
    b", \n ", b",,1", b"\r\n,\r\n1\r\n",
])
@pytest.mark.parametrize("first", [True, False])
def test_items_in_place_makes_the_array_items_text_makes(data: bytes, first: bool) -> None:
    # Left over from a longer chunk read before: what lies past this one is never looked at.
    buffer = bytearray(b"]  , x" * 8)
    buffer[1:1 + len(data)] = data
    ok = items_in_place(buffer, len(data), first)
    expected = items_text(data, first)
    assert ok == (expected is not None)
    if expected is not None:
        made = bytes(buffer[:len(data) + 2])
        assert made[:1] == b"[" and made[-1:] == b"]" and len(made) == len(data) + 2
        assert parsed(made) == parsed(expected)


def parsed(text: bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # not JSON either way: the decoding that follows says so
        return "invalid"
