"""The `coco` reader's msgspec path gives the records, problems and errors of its ijson path.

Compared on every COCO file of the repository, on files of hostile shape (sections in
any order, escapes everywhere, nested ``info``, long strings, blanks everywhere, strings
full of brackets and quotes) and on random documents written in random styles, with the
scan's block size cut down so that every byte boundary case comes up. Files the fast path
must not vouch for go to ijson (``path_taken``), and still read the same.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osai_import.default_plugins.coco_reader import names as names_module
from osai_import.default_plugins.coco_reader import scan as scan_module
from osai_import.default_plugins.coco_reader.reader import CocoReader
from osai_import.errors import SourceError
from tests.support import CONFIGS, REALDATA

REPO = CONFIGS.parent
COCO_FILES = sorted(
    path for folder in (REPO / "tests", CONFIGS) for path in folder.rglob("*.json")
    if path.name != "ORACLE.json" and '"images"' in path.read_text(encoding="utf-8", errors="replace")
)


def outcome(path: Path, fast: bool, **options: Any) -> tuple[Any, str]:
    """Return what one path reads from ``path`` (records and problems, or the error), and the path."""
    reader = CocoReader(CocoReader.parse_options({"path": str(path), **options}))
    reader.fast = fast
    try:
        read = (list(reader.records()), reader.source_problems())
    except SourceError as exc:
        read = ("SourceError", str(exc))
    return read, reader.path_taken


def same_on_both_paths(path: Path, **options: Any) -> str:
    """Assert both paths read ``path`` alike; return the path the fast one took in the end."""
    fast, taken = outcome(path, True, **options)
    slow, _ = outcome(path, False, **options)
    assert fast == slow
    return taken


def test_the_repository_has_coco_files_to_compare() -> None:
    assert {p.relative_to(REALDATA).parts[0] for p in COCO_FILES if REALDATA in p.parents} >= {
        "datumaro_coco_instances", "datumaro_roboflow_coco", "sahi_terrain_coco"}
    assert CONFIGS / "examples" / "coco" / "annotations.json" in COCO_FILES


@pytest.mark.parametrize("path", COCO_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
@pytest.mark.parametrize("options", [
    {}, {"iscrowd": "box", "image_category": "largest"},
    {"iscrowd": "difficult", "drop_empty": True, "image_category": "single"},
])
def test_every_coco_file_in_the_repository_reads_the_same(path: Path, options: dict[str, Any]) -> None:
    assert same_on_both_paths(path, images=str(path.parent), **options) == "msgspec"


# --- JSON written in hostile styles -------------------------------------------------------


def dump(value: Any, rng: random.Random, blanks: str = " \t\n\r", escape: float = 0.3) -> str:
    """Write ``value`` as JSON with random blanks between tokens and random escapes."""
    def gap() -> str:
        return "".join(rng.choice(blanks) for _ in range(rng.choice((0, 0, 1, 3))))

    def text(s: str) -> str:
        out = []
        for char in s:
            code = ord(char)
            if char in '"\\' or code < 0x20 or rng.random() < escape:
                if char in '"\\/' and rng.random() < 0.5:
                    out.append("\\" + char)
                elif code > 0xFFFF:
                    code -= 0x10000
                    out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}")
                else:
                    out.append(f"\\u{code:04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'

    def write(v: Any) -> str:
        if isinstance(v, dict):
            body = ",".join(f"{gap()}{text(k)}{gap()}:{gap()}{write(x)}{gap()}" for k, x in v.items())
            return "{" + (body or gap()) + "}"
        if isinstance(v, list):
            return "[" + (",".join(f"{gap()}{write(x)}{gap()}" for x in v) or gap()) + "]"
        if isinstance(v, str):
            return text(v)
        if isinstance(v, float):
            return repr(v).replace("e", rng.choice("eE"))
        return json.dumps(v)

    return gap() + write(value) + gap()


def hostile_document() -> dict[str, Any]:
    """A valid COCO document with every shape the scan has to step around."""
    tricky = 'a "quoted" [b]racket {c}url}y\\ back\\slash \\" é ✓ 𝄞 \u2028 ],{"x": [1]}'
    return {
        "info": {"description": tricky * 3, "nested": {"deeper": [[{"k": [tricky, {}]}], []]},
                 "long": "x]" * 200_000},
        "licenses": [{"id": 1, "name": tricky, "url": "http://example.org/[1]"}],
        "categories": [{"id": 1, "name": "cat " + tricky}, {"id": "2", "name": "dog"}],
        "annotations": [
            {"id": i, "image_id": i % 7, "category_id": 1 + i % 2, "iscrowd": int(i % 11 == 0),
             "bbox": [i % 50 + 0.5, 2, 10.25, 20], "area": 205.0, "attributes": {"note": tricky},
             "segmentation": [[1, 2, 3.5, 4, 5, 6e-3]] if i % 3 else
             {"counts": [0, 5, 10], "size": [10, 10]}}
            for i in range(400)
        ],
        "images": [
            {"id": i, "file_name": name, "width": 64, "height": 48, "extra": tricky}
            for i, name in enumerate(["a.jpg", "dir/b [1].png", 'q"uote.jpg', "back\\slash.jpg",
                                      "caf\u00e9.jpg", "x/../y.jpg", "ok/c.jpg"])
        ],
        "zzz_unknown": [[[[{"a": tricky}]]], "]]]", {"}": "{"}],
    }


@pytest.mark.parametrize("order", [
    ("info", "licenses", "images", "annotations", "categories", "zzz_unknown"),
    ("categories", "zzz_unknown", "annotations", "images", "licenses", "info"),
    ("images", "info", "categories", "licenses", "annotations", "zzz_unknown"),
])
@pytest.mark.parametrize("block", [64, 4096, scan_module.BLOCK])
def test_hostile_shapes_read_the_same_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: tuple[str, ...], block: int
) -> None:
    monkeypatch.setattr(scan_module, "BLOCK", block)
    document = hostile_document()
    path = tmp_path / "coco.json"
    path.write_text(dump({key: document[key] for key in order}, random.Random(block)),
                    encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == document  # the writer is sound
    for options in ({}, {"iscrowd": "difficult", "image_category": "largest"}):
        assert same_on_both_paths(path, **options) == "msgspec"
    records, _ = outcome(path, True)[0]
    kept = [sum(1 for a in document["annotations"] if a["image_id"] == i and not a["iscrowd"])
            for i in range(7)]
    assert [len(r.boxes) for r in records] == kept and min(kept) > 40  # crowds left out
    assert [r.key for r in records][:3] == ["a.jpg", "dir/b [1].png", 'q"uote.jpg']


def documents(huge: bool) -> st.SearchStrategy[dict[str, Any]]:
    """COCO-like documents: mostly plain, with every odd shape a field can take.

    ``huge`` adds numbers and category lists the fast path leaves to ijson.
    """
    ids = st.one_of(st.integers(-3, 12), st.sampled_from(["1", "07", " ", "", "x"]), st.none(),
                    st.booleans(), st.sampled_from([1.0, 2.5]))
    numbers = st.one_of(st.integers(-10, 10**6), st.floats(-1e6, 1e6, allow_nan=False),
                        st.sampled_from([-0.0, 5e-324, 1e-7, 1.5e22]), st.booleans(),
                        st.sampled_from(["1"]))
    if huge:  # (1e300 is fine for ijson, but its exponent makes the fast path step aside)
        numbers = numbers | st.sampled_from([2**63, -(2**63) - 1, 10**30, 2**63 - 1, 1e300])
    segmentation = st.one_of(
        st.lists(st.lists(numbers, max_size=7), max_size=3), st.none(), st.just({}),
        st.just("x"),
        st.fixed_dictionaries({"counts": st.one_of(st.lists(st.integers(0, 9), max_size=6),
                                                   st.sampled_from(["0d0n0", "0d0o", 7])),
                               "size": st.sampled_from([[3, 4], [0, 3], [3]])}))
    plain_annotation = st.fixed_dictionaries(
        {"image_id": st.one_of(st.integers(0, 6), st.sampled_from(["3", "x"])),
         "category_id": st.sampled_from([1, 2, "2", "3"])},
        optional={"id": st.integers(0, 99), "iscrowd": st.sampled_from([0, 1, None]),
                  "bbox": st.lists(st.floats(0, 500, allow_nan=False), min_size=4, max_size=4)
                  | st.lists(st.integers(0, 500), min_size=4, max_size=4),
                  "segmentation": segmentation, "area": numbers})
    odd_annotation = st.one_of(
        st.fixed_dictionaries({"id": ids, "image_id": ids, "category_id": ids},
                              optional={"bbox": st.lists(numbers, max_size=5) | st.none()
                                        | st.just("box"),
                                        "iscrowd": st.one_of(ids, st.just(2)),
                                        "segmentation": segmentation}),
        st.sampled_from(["junk", 7, None, [], [1]]))
    file_names = st.one_of(
        st.sampled_from(["a.jpg", "b/c.png", "a.jpg", "../x.jpg", "/abs.jpg", "d/", ".h.jpg",
                         "x//y.jpg", "e\\f.jpg", "\u00e9.jpg", "cafe\u0301.jpg", "a\x00b.jpg",
                         " ", "s p/a ce.jpg", "[b].jpg", 'q"t.jpg']),
        st.text(max_size=8), st.none(), st.integers(-5, 5))
    image = st.one_of(
        st.fixed_dictionaries({"id": st.one_of(st.integers(0, 6), ids), "file_name": file_names},
                              optional={"width": numbers, "height": numbers,
                                        "license": st.integers(0, 3)}),
        st.sampled_from(["junk", 3, None]))
    good_categories = [{"id": 1, "name": "cat"}, {"id": "2", "name": "dog"}, {"id": 3, "name": "]"}]
    categories = [good_categories, [{"id": 1, "name": "cat"}, {"id": 1, "name": "cat"}]]
    if huge:
        categories += [[], [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}], [{"id": 1}], ["x"]]
    return st.fixed_dictionaries(
        {"images": st.lists(image, max_size=8),
         "annotations": st.lists(st.one_of(plain_annotation, plain_annotation, odd_annotation),
                                 max_size=20),
         "categories": st.sampled_from(categories)},
        optional={"info": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
                  "licenses": st.lists(st.fixed_dictionaries({"id": numbers}), max_size=2)})


def write_styled(path: Path, document: dict[str, Any], seed: int) -> None:
    """Write ``document`` with its keys shuffled, in a random style."""
    rng = random.Random(seed)
    keys = list(document)
    rng.shuffle(keys)
    path.write_text(dump({k: document[k] for k in keys}, rng), encoding="utf-8")


_OPTIONS = st.sampled_from([{}, {"iscrowd": "box", "drop_empty": True},
                            {"iscrowd": "difficult", "image_category": "largest"}])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents(huge=True), seed=st.integers(0, 2**16),
       block=st.sampled_from([1, 3, 16, 4096]), options=_OPTIONS)
def test_random_documents_in_random_styles_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: dict[str, Any], seed: int,
    block: int, options: dict[str, Any]
) -> None:
    monkeypatch.setattr(scan_module, "BLOCK", block)
    write_styled(tmp_path / "coco.json", document, seed)
    same_on_both_paths(tmp_path / "coco.json", **options)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents(huge=False), seed=st.integers(0, 2**16),
       block=st.sampled_from([1, 7, 64, 4096]), options=_OPTIONS)
def test_random_documents_without_numbers_ijson_refuses_stay_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: dict[str, Any], seed: int,
    block: int, options: dict[str, Any]
) -> None:
    monkeypatch.setattr(scan_module, "BLOCK", block)
    write_styled(tmp_path / "coco.json", document, seed)
    assert same_on_both_paths(tmp_path / "coco.json", **options) == "msgspec"


# --- what the fast path leaves to ijson -------------------------------------------------

_PLAIN = ('"images": [{"id": 1, "file_name": "a.jpg"}], '
          '"categories": [{"id": 1, "name": "cat"}], "annotations": [')
_ANN = '{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]%s}'


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("text", "words"), [
    ("{" + _PLAIN + _ANN % ', "area": 9223372036854775808' + "]}", "integer overflow"),
    ("{" + _PLAIN + _ANN % ', "area": -9223372036854775809' + "]}", "integer overflow"),
    ("{" + _PLAIN + _ANN % ', "segmentation": [[1, 2, 3, 4E+999]]' + "]}", "overflow"),
    ("{" + _PLAIN + _ANN % ', "area": 1e400' + "]}", "overflow"),
    ('{"info": {"x": "\xff"}, ' + _PLAIN + _ANN % "" + "]}", "UTF8"),
    ("{" + _PLAIN + _ANN % f', "x": {nested(62)}' + "]}", "nested more than 64 levels"),
    ("{" + _PLAIN + _ANN % "" + "]} x", "trailing garbage"),
    ("{" + _PLAIN + _ANN % "" + "]", "ends too early"),
    ("{" + _PLAIN + _ANN % "" + " " + _ANN % "" + "]}", "not valid JSON at line 1"),
    ("{" + _PLAIN.replace('"categories": [{"id": 1, "name": "cat"}], ', "") + _ANN % "" + "]}",
     "no usable `categories`"),
    ('{"images": [], "annotations": {"a": 1}}', "`annotations` is a JSON object"),
    ('{"annotations": []}', "there is no `images` list"),
    ('{"images": [], "annotations": null}', "`annotations` is a JSON null"),
])
def test_what_the_fast_path_cannot_vouch_for_is_refused_by_ijson(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "coco.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    fast, taken = outcome(path, True)
    assert fast == outcome(path, False)[0] and taken == "ijson"
    assert fast[0] == "SourceError" and words in fast[1], fast


@pytest.mark.parametrize(("text", "boxes", "taken"), [
    ("{" + _PLAIN + _ANN % f', "x": {nested(61)}' + "]}", 1, "msgspec"),  # 64 levels: the limit
    ('{"images": [{"id": 1, "file_name": "\\ud800.jpg"}]}', 0, "ijson"),  # a lone surrogate
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "images": [{"id": 2, "file_name": "b"}]}',
     0, "ijson"),
    ('{"images.item": {"id": 1, "file_name": "a.jpg"}, "images": []}', 0, "ijson"),
    ("{" + _PLAIN + _ANN % "" + "]\f}", 1, "ijson"),  # yajl takes a form feed for a blank
])
def test_odd_but_valid_files_read_the_same(
    tmp_path: Path, text: str, boxes: int, taken: str
) -> None:
    path = tmp_path / "coco.json"
    path.write_text(text, encoding="utf-8")
    fast, path_taken = outcome(path, True)
    assert fast == outcome(path, False)[0] and path_taken == taken
    assert fast[0] != "SourceError" and sum(len(r.boxes) for r in fast[0]) == boxes


def test_a_chunk_too_large_to_hold_goes_to_ijson(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "coco.json"
    path.write_text("{" + _PLAIN + _ANN % f', "note": "{"x" * 5000}"' + "]}", encoding="utf-8")
    assert same_on_both_paths(path) == "msgspec"
    monkeypatch.setattr(scan_module, "MAX_SPAN", 4000)
    assert same_on_both_paths(path) == "ijson"


def test_a_bom_and_blanks_before_the_object_stay_on_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "coco.json"
    path.write_bytes(b"\xef\xbb\xbf \n\t{" + (_PLAIN + _ANN % "" + "]}").encode())
    assert same_on_both_paths(path) == "msgspec"
    assert sum(len(r.boxes) for r in outcome(path, True)[0][0]) == 1


def test_a_file_that_changes_under_the_images_pass_stops_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "BLOCK", 4096)
    path = tmp_path / "coco.json"
    images = [{"id": i, "file_name": f"{i:04d}.jpg"} for i in range(3000)]  # past read buffers
    path.write_text(json.dumps({"images": images, "annotations": []}), encoding="utf-8")
    reader = CocoReader(CocoReader.parse_options({"path": str(path)}))
    records = reader.records()
    assert next(records).key == "0000.jpg"
    path.write_text(json.dumps({"images": images[:3]}), encoding="utf-8")
    with pytest.raises(SourceError, match="changed while it was read"):
        list(records)
    assert reader.path_taken == "msgspec"


# --- the fast path's shortcuts for plain file names ---------------------------------------

_NAME_CHARS = st.sampled_from(["a", "b", "/", ".", "..", "\\", "\x00", " ", "\t", "\x1c", "é",
                               "//", "./", "/."])


@settings(max_examples=2000, deadline=None)
@given(names=st.lists(st.lists(_NAME_CHARS, max_size=6).map("".join), min_size=1, max_size=6))
def test_a_chunk_of_names_is_plain_when_each_of_them_is(names: list[str]) -> None:
    assert names_module.plain_names(names) == all(map(names_module.plain_name, names))


def test_plain_names_are_what_normalizing_leaves_alone(tmp_path: Path) -> None:
    for name in ("a.jpg", "dir/b.png", "a/b/c d.jpg", "x..y/z.", "a-b_c"):
        assert names_module.plain_name(name)
        assert os.path.normpath(os.path.join(tmp_path, name)) == os.path.join(tmp_path, name)
    for name in ("", " ", "\t", ".a", "a/.b", "a//b", "/a", "a/", "a\\b", "caf\u00e9", "a\x00"):
        assert not names_module.plain_name(name), name


@settings(max_examples=300, deadline=None)
@given(name=st.lists(st.sampled_from(["a", "b.jpg", "c d", "x..y", "0", "é"]), min_size=1,
                     max_size=4).map("/".join))
def test_a_plain_name_joins_the_image_folder_as_pathlib_joins_it(name: str) -> None:
    root = Path(os.path.abspath("images"))
    for join in (names_module.joiner(root), names_module.joiner(root / "nested dir")):
        made, expected = join(name), Path(join("x").parent) / name
        assert type(made) is type(expected) and made == expected
        assert str(made) == str(expected) and made.parts == expected.parts
        assert hash(made) == hash(expected) and made.name == expected.name
        assert made.parent == expected.parent and made.suffix == expected.suffix
        assert pickle.loads(pickle.dumps(made)) == expected and made.exists() == expected.exists()
