"""Tests of the `csv` reader on real manifests and images built in the test and on realdata."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from osai_import.default_plugins.csv_reader.reader import CsvReader
from osai_import.errors import SourceError
from osai_import.plugin.base import Reader
from osai_import.plugin.manager import build_plugins
from osai_import.records import Box, ImageRecord, Severity
from tests.support import CONFIGS, DOCS, REALDATA, make_image


def reader_cls() -> type[Reader]:
    return build_plugins(entry_points=False).readers.get("csv").cls


def read(csv_path: Path, **options: Any) -> list[ImageRecord]:
    cls = reader_cls()
    return list(cls(cls.parse_options({"path": str(csv_path), **options})).records())


def manifest(folder: Path, text: str | bytes, *images: str, name: str = "data.csv") -> Path:
    for rel in images:
        make_image(folder / rel)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def boxes(record: ImageRecord) -> list[list[Any]]:
    return [[b.label, b.xmin, b.ymin, b.xmax, b.ymax] for b in record.boxes]


def codes(record: ImageRecord) -> list[str]:
    return [p.code for p in record.problems]


# --- registration and options ----------------------------------------------------------


def test_registered_with_documented_defaults(tmp_path: Path) -> None:
    cls = reader_cls()
    assert cls is CsvReader and cls.name == "csv"
    options = cls.parse_options({"path": "m.csv", "images": "pics"}, tmp_path)
    assert options.path == tmp_path / "m.csv" and options.images == tmp_path / "pics"
    assert (options.image_column, options.label_column, options.box_format) == (
        "image",
        "label",
        "xyxy",
    )
    assert (options.header, options.delimiter, options.encoding, options.format) == (
        True,
        ",",
        "utf-8-sig",
        "rows",
    )


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"delimiter": ";;"}, "one character"),
        ({"encoding": "utf-42"}, "unknown encoding"),
        ({"decimal": ","}, "another delimiter"),
        ({"x_column": "left"}, "x_column apply to box_format: xywh"),
        ({"box_format": "xywh", "xmin_column": "l"}, "apply to box_format: xyxy"),
        ({"bbox_column": "b", "xmin_column": "l"}, "either bbox_column"),
        ({"header": False}, "give image_column"),
        (
            {"header": False, "image_column": 0, "label_column": "lab"},
            "0-based numbers; fix label_column",
        ),
        ({"format": "onehot", "header": False, "image_column": 0}, "set header: true"),
        ({"format": "onehot", "label_column": "x"}, "remove label_column"),
        ({"imgaes": "x"}, "Extra inputs"),
    ],
)
def test_inconsistent_options_are_config_errors(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        reader_cls().parse_options({"path": "m.csv", **options})
    assert needle in str(info.value)


def test_tab_alias() -> None:
    assert reader_cls().parse_options({"path": "m.csv", "delimiter": "tab"}).delimiter == "\t"


# --- one row per image -----------------------------------------------------------------


def test_one_row_per_image_with_categories_and_subfolders(tmp_path: Path) -> None:
    path = manifest(
        tmp_path,
        "image,label,note\nimgs/a.jpg,cat,x\nimgs/sub/b.png,dog,\nc.jpg,,\n\n,,\n"
        "imgs\\win.jpg, bird ,\n",
        "imgs/a.jpg",
        "imgs/sub/b.png",
        "c.jpg",
        "imgs/win.jpg",
    )
    records = read(path)
    assert [(r.key, r.name, r.category, r.boxes, codes(r)) for r in records] == [
        ("imgs/a.jpg", "a.jpg", "cat", (), []),
        ("imgs/sub/b.png", "b.png", "dog", (), []),
        ("c.jpg", "c.jpg", None, (), []),
        ("imgs/win.jpg", "win.jpg", "bird", (), []),
    ]
    assert records[1].path == tmp_path / "imgs" / "sub" / "b.png"
    assert all(r.path.is_file() for r in records)
    assert [r.extras["line"] for r in records] == [2, 3, 4, 7]


def test_images_option_and_case_insensitive_header(tmp_path: Path) -> None:
    path = manifest(tmp_path / "meta", "Image,LABEL\na.jpg,cat\n")
    make_image(tmp_path / "pics" / "a.jpg")
    (record,) = read(path, images=str(tmp_path / "pics"))
    assert (record.path, record.category) == (tmp_path / "pics" / "a.jpg", "cat")


def test_image_list_without_labels(tmp_path: Path) -> None:
    (record,) = read(manifest(tmp_path, "image\na.jpg\n", "a.jpg"))
    assert record.category is None and record.boxes == ()


def test_category_column_wins_without_boxes(tmp_path: Path) -> None:
    (record,) = read(
        manifest(tmp_path, "image,label,kind\na.jpg,cat,animal\n", "a.jpg"), category_column="kind"
    )
    assert record.category == "animal"


def test_rows_of_one_image_with_different_labels_conflict(tmp_path: Path) -> None:
    (record,) = read(manifest(tmp_path, "image,label\na.jpg,cat\na.jpg,cat\na.jpg,dog\n", "a.jpg"))
    assert record.category == "cat"
    assert codes(record) == ["csv.conflict"]
    assert "'cat' (line 2), 'dog' (line 4)" in record.problems[0].message


def test_names_without_extension_are_found(tmp_path: Path) -> None:
    path = manifest(tmp_path, "image,label\n1,cat\n2,dog\n3,cow\n", "1.JPG", "2.jpg", "2.png")
    one, two, three = read(path)
    assert (one.key, one.name, one.path) == ("1", "1.JPG", tmp_path / "1.JPG")
    assert codes(one) == []
    assert codes(two) == ["image.ambiguous"] and "2.jpg, 2.png" in two.problems[0].message
    assert (three.name, three.path) == ("3", tmp_path / "3")  # the check step reports it missing


# --- one row per box -------------------------------------------------------------------


def test_box_rows_are_merged_in_first_appearance_order(tmp_path: Path) -> None:
    text = (
        "image,label,xmin,ymin,xmax,ymax,category,w,h\n"
        "a.jpg,cat,1,2,3,4,indoor,32,24\n"
        "b.jpg,dog,5,6,7.5,8,,32,24\n"
        "a.jpg,cat,10,20,30,40,,32,24\n"
        "c.jpg,,,,,,outdoor,,\n"
        "a.jpg,mouse,0.5,0.25,1,1,indoor,32,24\n"
        "b.jpg,dog,1,1,2,2,,,\n"
    )
    path = manifest(tmp_path, text, "a.jpg", "b.jpg", "c.jpg")
    a, b, c = read(
        path, category_column="category", image_width_column="w", image_height_column="h"
    )
    assert (a.key, b.key, c.key) == ("a.jpg", "b.jpg", "c.jpg")
    assert boxes(a) == [["cat", 1, 2, 3, 4], ["cat", 10, 20, 30, 40], ["mouse", 0.5, 0.25, 1, 1]]
    assert boxes(b) == [["dog", 5, 6, 7.5, 8], ["dog", 1, 1, 2, 2]]
    assert boxes(c) == []
    assert (a.category, b.category, c.category) == ("indoor", None, "outdoor")
    assert (a.width, a.height, c.width) == (32, 24, None)
    assert all(r.problems == () for r in (a, b, c))
    assert a.boxes[0] == Box("cat", 1.0, 2.0, 3.0, 4.0)


def test_xywh_with_renamed_columns(tmp_path: Path) -> None:
    path = manifest(tmp_path, "file;cls;left;top;w;h\na.jpg;cat;1,5;2;10;20\n", "a.jpg")
    (record,) = read(
        path,
        delimiter=";",
        decimal=",",
        image_column="file",
        label_column="cls",
        box_format="xywh",
        x_column="left",
        y_column="top",
        width_column="w",
        height_column="h",
    )
    assert boxes(record) == [["cat", 1.5, 2.0, 11.5, 22.0]]


def test_bbox_column_encodings(tmp_path: Path) -> None:
    text = (
        'image,label,bbox\na.jpg,x,"[0,1,2,3]"\na.jpg,y,1 2 3 4\na.jpg,z,"(1.5; 2; 3; 4)"\n'
        'b.jpg,,\nc.jpg,w,"1,2,3"\n'
    )
    a, b, c = read(manifest(tmp_path, text, "a.jpg", "b.jpg", "c.jpg"), bbox_column="bbox")
    assert boxes(a) == [["x", 0, 1, 2, 3], ["y", 1, 2, 3, 4], ["z", 1.5, 2, 3, 4]]
    assert boxes(b) == [] and codes(b) == []
    assert codes(c) == ["csv.value"] and "does not hold four numbers" in c.problems[0].message


def test_row_errors_are_problems_on_their_item(tmp_path: Path) -> None:
    text = (
        "image,label,xmin,ymin,xmax,ymax\n"
        "a.jpg,cat,1,2,three,4\n"
        "b.jpg,cat,1,2,,4\n"
        "c.jpg,cat,1,2\n"
        "d.jpg,cat,nan,1_0,3,4\n"
        "e.jpg,cat,1,2,3,4\n"
        "f.jpg,,1,2,3,4\n"
    )
    path = manifest(tmp_path, text, *"abcdef")
    records = read(path)
    assert [(r.key, codes(r)) for r in records] == [
        ("a.jpg", ["csv.value"]),
        ("b.jpg", ["csv.box"]),
        ("c.jpg", ["csv.row"]),
        ("d.jpg", ["csv.value"]),
        ("e.jpg", []),
        ("f.jpg", []),
    ]
    assert records[0].problems[0].message.startswith(f"{path}:2: ")
    assert "'three'" in records[0].problems[0].message
    assert records[2].problems[0].message.startswith(f"{path}:4: the row has 4 cells")
    assert "'nan', '1_0'" in records[3].problems[0].message
    assert all(
        p.severity is Severity.ERROR and p.item == r.key for r in records for p in r.problems
    )
    assert boxes(records[5]) == [["", 1, 2, 3, 4]]  # the check step reports the missing label


def test_size_conflict_and_bad_size(tmp_path: Path) -> None:
    text = "image,w,h\na.jpg,32,24\na.jpg,33,24\nb.jpg,-1,2.5\n"
    a, b = read(manifest(tmp_path, text), image_width_column="w", image_height_column="h")
    assert codes(a) == ["csv.conflict"] and "[32, 33]" in a.problems[0].message
    assert codes(b) == ["csv.value", "csv.value"] and b.width is None


def test_missing_columns_name_the_existing_ones(tmp_path: Path) -> None:
    path = manifest(tmp_path, "file,label,xmin,ymin\na.jpg,cat,1,2\n")
    with pytest.raises(SourceError) as info:
        read(path)
    message = str(info.value)
    assert message.startswith(f"{path}:1: missing column(s) image_column: 'image'")
    assert "box columns 'xmax', 'ymax'" in message
    assert "The columns are: 'file', 'label', 'xmin', 'ymin'" in message
    with pytest.raises(SourceError, match="label_column: 'cls'"):
        read(
            path,
            image_column="file",
            label_column="cls",
            xmin_column="xmin",
            ymin_column="ymin",
            xmax_column="xmin",
            ymax_column="ymin",
        )
    with pytest.raises(SourceError, match=r"image_column: 7 \(there are 4 columns\)"):
        read(path, image_column=7)


def test_duplicate_header_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"'image' .image_column. appears 2 times"):
        read(manifest(tmp_path, "image,label,image\na.jpg,cat,b.jpg\n"))


def test_empty_image_cells_stop_before_any_record(tmp_path: Path) -> None:
    path = manifest(tmp_path, "image,label\na.jpg,cat\n,dog\nb.jpg,cat\n  ,cow\n", "a.jpg", "b.jpg")
    cls = reader_cls()
    stream = cls(cls.parse_options({"path": str(path)})).records()
    with pytest.raises(SourceError) as info:
        next(stream)
    assert str(info.value) == (
        f"{path}: line 3, 5: the image cell (column 'image') is empty; fill it in or delete the row"
    )


def test_header_false_uses_column_numbers(tmp_path: Path) -> None:
    path = manifest(tmp_path, "a.jpg,cat,1,2,3,4\nb.jpg,dog,,,,\n", "a.jpg", "b.jpg")
    a, b = read(
        path,
        header=False,
        image_column=0,
        label_column=1,
        xmin_column=2,
        ymin_column=3,
        xmax_column=4,
        ymax_column=5,
    )
    assert boxes(a) == [["cat", 1, 2, 3, 4]] and boxes(b) == []
    a, b = read(path, header=False, image_column=0, label_column=1)
    assert (a.category, b.category) == ("cat", "dog")


def test_quoted_fields_and_multiline_records_keep_line_numbers(tmp_path: Path) -> None:
    text = 'image,label\n"a,1.jpg","cat, big"\n"b.jpg","two\nlines"\nc.jpg,x,extra\nd.jpg,bad\xa0\n'
    a, b, c, d = read(manifest(tmp_path, text, "a,1.jpg", "b.jpg"))
    assert (a.key, a.category) == ("a,1.jpg", "cat, big")
    assert b.category == "two\nlines"
    assert [r.extras["line"] for r in (a, b, c, d)] == [2, 3, 5, 6]


# --- delimiters and encodings ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_auto(tmp_path: Path, delimiter: str) -> None:
    text = f"image{delimiter}label\na.jpg{delimiter}cat\nb.jpg{delimiter}dog\n"
    records = read(manifest(tmp_path, text), delimiter="auto")
    assert [(r.key, r.category) for r in records] == [("a.jpg", "cat"), ("b.jpg", "dog")]


def test_delimiter_auto_single_column(tmp_path: Path) -> None:
    assert [r.key for r in read(manifest(tmp_path, "image\na.jpg\n"), delimiter="auto")] == [
        "a.jpg"
    ]


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    text = "image,label\na.jpg,cat\nb.jpg,caf\u00e9\n".encode("cp1252")
    path = manifest(tmp_path, text)
    with pytest.raises(SourceError) as info:
        read(path)
    assert str(info.value).startswith(f"{path}:3: bytes (e9 0a) that are not valid utf-8-sig")
    assert "encoding" in str(info.value)
    assert [r.category for r in read(path, encoding="cp1252")] == ["cat", "caf\u00e9"]


def test_bom_and_utf16(tmp_path: Path) -> None:
    (record,) = read(manifest(tmp_path, "\ufeffimage,label\na.jpg,cat\n".encode()))
    assert (record.key, record.category) == ("a.jpg", "cat")
    path = manifest(
        tmp_path, "image;label\r\na.jpg;ch\u00e2t\r\nb.jpg;dog\r\n".encode("utf-16"), name="u16.csv"
    )
    records = read(path, encoding="utf-16", delimiter="auto")
    assert [(r.key, r.category, r.extras["line"]) for r in records] == [
        ("a.jpg", "ch\u00e2t", 2),
        ("b.jpg", "dog", 3),
    ]


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open the CSV file"):
        read(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="the file is empty"):
        read(manifest(tmp_path, "\n\n"))
    assert read(manifest(tmp_path, "image,label\n", name="header_only.csv")) == []


# --- hostile paths ---------------------------------------------------------------------


def test_paths_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    make_image(secret)
    root = tmp_path / "data"
    text = (
        "image,label\n../secret.jpg,x\nsub/../../secret.jpg,x\n/etc/passwd,x\nC:\\Windows\\a.jpg,x\n"
        f"{secret},x\n{root}/ok.jpg,y\nsub/../ok.jpg,y\n./ok.jpg,y\n"
    )
    path = manifest(root, text, "ok.jpg")
    records = read(path)
    assert [(r.key, codes(r)) for r in records] == [
        ("../secret.jpg", ["path.outside"]),
        ("/etc/passwd", ["path.outside"]),
        ("C:/Windows/a.jpg", ["path.outside"]),
        (str(secret), ["path.outside"]),
        (f"{root}/ok.jpg", []),
        ("ok.jpg", []),
    ]
    assert records[0].extras["line"] == 2  # rows 2 and 3 name the same file
    for record in records[:4]:
        assert record.path == root  # never the outside file
        assert record.problems[0].severity is Severity.ERROR
        assert "outside the image folder" in record.problems[0].message
    assert records[4].path == root / "ok.jpg"


def test_invalid_path_cells(tmp_path: Path) -> None:
    records = read(manifest(tmp_path, "image\n.\nsub/..\n"))
    assert [(r.key, codes(r)) for r in records] == [(".", ["path.invalid"])]


# --- memory and order ------------------------------------------------------------------


# Measured in a child process of its own: tracemalloc counts every thread's allocations,
# and threads an earlier test left running (a pool winding down) made the peak of this
# process a measure of them.
_PEAKS = """
import gc, sys, tracemalloc
from osai_import.plugin.manager import build_plugins

cls = build_plugins(entry_points=False).readers.get("csv").cls
reader = cls(cls.parse_options({"path": sys.argv[1]}))


def peak(consume):
    gc.collect()
    tracemalloc.start()
    try:
        consume(reader.records())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


list(reader.records())  # the first read imports what the reader needs: not measured
print(peak(lambda records: sum(len(r.boxes) for r in records)), peak(list))
"""


def test_memory_stays_bounded_for_grouped_rows(tmp_path: Path) -> None:
    lines = ["image,label,xmin,ymin,xmax,ymax"]
    for i in range(6000):
        lines += [f"img{i:05d}.jpg,cat,1,2,3,4", f"img{i:05d}.jpg,dog,5,6,7,8"]
    path = manifest(tmp_path, "\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-c", _PEAKS, str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    streamed, kept = map(int, done.stdout.split())
    # Streaming holds the index of last rows and one image, not every record.
    assert streamed < 0.4 * kept, (streamed, kept)


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.sampled_from(["cat", "dog", "é"]),
        st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=4, max_size=4),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy)
def test_any_row_order_merges_by_first_appearance(rows: list[tuple[int, str, list[float]]]) -> None:
    expected: dict[str, list[list[Any]]] = {}
    lines = ["image,label,xmin,ymin,xmax,ymax"]
    for index, label, numbers in rows:
        expected.setdefault(f"img{index}.jpg", []).append([label, *numbers])
        lines.append(f"img{index}.jpg,{label}," + ",".join(repr(n) for n in numbers))
    with tempfile.TemporaryDirectory() as folder:
        records = read(manifest(Path(folder), "\n".join(lines) + "\n"))
    assert [(r.key, boxes(r)) for r in records] == list(expected.items())


# --- real manifests ----------------------------------------------------------------------


def _oracle(folder: str, view: str) -> list[dict[str, Any]]:
    oracle = json.loads((REALDATA / folder / "ORACLE.json").read_text())
    return oracle["views"][view]["oracles"]["datumaro"]["images"]


KAGGLE = {"image_column": "image_name", "label_column": "label_name"}


@pytest.mark.parametrize("name", ["ann.csv", "ann_wo_ext.csv"])
def test_datumaro_classification(name: str) -> None:
    folder = REALDATA / "datumaro_csv_classification"
    records = read(folder / name, images=str(folder / "images"), **KAGGLE)
    expected = [
        (img["file"], img["labels"][0])
        for img in _oracle("datumaro_csv_classification", f"csv:{name}")
    ]
    assert [(str(r.path.relative_to(folder)), r.category) for r in records] == expected
    assert all(r.problems == () and r.path.is_file() for r in records)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        (
            "ann.csv",
            {"xmin_column": "x1", "ymin_column": "y1", "xmax_column": "x2", "ymax_column": "y2"},
        ),
        (
            "ann2.csv",
            {
                "box_format": "xywh",
                "x_column": "x1",
                "y_column": "y1",
                "width_column": "w",
                "height_column": "h",
            },
        ),
        ("ann3.csv", {"bbox_column": "bbox"}),
    ],
)
def test_datumaro_detection(name: str, options: dict[str, Any]) -> None:
    folder = REALDATA / "datumaro_csv_detection"
    records = read(folder / name, images=str(folder / "images"), **KAGGLE, **options)
    expected = [
        (img["file"], img["boxes"]) for img in _oracle("datumaro_csv_detection", f"csv:{name}")
    ]
    assert [(str(r.path.relative_to(folder)), boxes(r)) for r in records] == expected
    assert all(r.problems == () for r in records)


def test_vott_exports_with_default_columns() -> None:
    folder = REALDATA / "datumaro_vott_csv"
    expected = {
        img["file"]: (img["subset"], img["boxes"])
        for img in _oracle("datumaro_vott_csv", "csv:<subset>-export.csv (VoTT)")
    }
    got = {}
    for subset in ("train", "test"):
        for record in read(folder / f"{subset}-export.csv"):
            assert record.problems == ()
            got[record.key] = (subset, boxes(record))
    assert got == expected


def test_roboflow_onehot() -> None:
    folder = REALDATA / "datumaro_roboflow_multiclass_csv"
    expected = {
        img["file"]: img["labels"]
        for img in _oracle(
            "datumaro_roboflow_multiclass_csv", "csv:<subset>/_classes.csv (one-hot multiclass)"
        )
    }
    for subset in ("train", "val"):
        for record in read(
            folder / subset / "_classes.csv", format="onehot", image_column="filename"
        ):
            labels = expected[f"{subset}/{record.key}"]
            assert record.category == labels[0]
            # OSAI holds one category per image: several classes are an error, not a guess.
            assert codes(record) == (["csv.multilabel"] if len(labels) > 1 else [])


def test_onehot_bad_value_and_no_class(tmp_path: Path) -> None:
    text = "file,a,b,w\nx.jpg,1,0,32\ny.jpg,0,0,32\nz.jpg,yes,0,32\n"
    x, y, z = read(
        manifest(tmp_path, text), format="onehot", image_column="file", image_width_column="w"
    )
    assert (x.category, x.width, y.category) == ("a", 32, None)
    assert codes(z) == ["csv.value"] and "'a' holds 'yes'" in z.problems[0].message


def test_example_config_runs() -> None:
    from osai_import.config.resolve import load_config, resolve

    config = CONFIGS / "csv.yaml"
    resolved = resolve(load_config(config), build_plugins(entry_points=False))
    records = list(resolved.reader().records())
    assert [(r.key, r.category, boxes(r)) for r in records] == [
        ("images/street_01.jpg", "city", [["car", 4, 20, 40, 44], ["person", 50, 4, 66, 44]]),
        ("images/street_02.jpg", "park", [["tree", 30, 10, 70, 40]]),
        ("images/night/street_03.png", "city", []),
    ]
    assert all(r.problems == () and r.path.is_file() for r in records)


def test_missing_image_folder_stops_the_read(tmp_path: Path) -> None:
    path = manifest(tmp_path, "image\na.jpg\n", "a.jpg")
    with pytest.raises(SourceError, match=r"the image folder .option `images`. is not a folder"):
        read(path, images=str(tmp_path / "nope"))


def test_every_option_is_documented_with_its_default() -> None:
    doc = (DOCS / "readers" / "csv.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    for name, field in CsvReader.Options.model_fields.items():
        row = next((r for r in rows if f"`{name}`" in r.split("|")[1]), None)
        assert row is not None, name
        default = field.get_default(call_default_factory=True)
        if isinstance(default, (str, bool)) or (isinstance(default, list) and default):
            shown = "[" + ", ".join(default) + "]" if isinstance(default, list) else default
            assert f"`{str(shown).lower()}`" in row, name


def test_boxes_without_the_label_column_stop_naming_the_columns_there_are(tmp_path: Path) -> None:
    path = manifest(tmp_path, "image,class,xmin,ymin,xmax,ymax\na.jpg,cat,1,2,3,4\n", "a.jpg")
    with pytest.raises(SourceError) as caught:
        read(path)
    message = str(caught.value)
    assert "label_column: 'label' (the boxes need labels)" in message
    assert "The columns are: 'image', 'class', 'xmin', 'ymin', 'xmax', 'ymax'" in message
    assert [b.label for r in read(path, label_column="class") for b in r.boxes] == ["cat"]


def test_a_manifest_without_any_class_column_warns_once_naming_its_columns(
        tmp_path: Path) -> None:
    path = manifest(tmp_path, "image,kind\na.jpg,cat\nb.jpg,dog\n", "a.jpg", "b.jpg")
    cls = reader_cls()
    reader = cls(cls.parse_options({"path": str(path)}))
    records = list(reader.records())
    assert [r.category for r in records] == [None, None]
    (note,) = reader.source_problems()
    assert note.code == "csv.no_label" and note.severity is Severity.WARNING
    assert "the columns are: 'image', 'kind'" in note.message
    assert "Set label_column" in note.message
    labelled = cls(cls.parse_options({"path": str(path), "label_column": "kind"}))
    assert [r.category for r in labelled.records()] == ["cat", "dog"]
    assert labelled.source_problems() == ()
