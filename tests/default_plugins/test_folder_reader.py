"""Tests of the `folder` reader on real image trees built in the test and on realdata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from osai_import.default_plugins.folder_reader.patterns import PathTemplate, compile_glob
from osai_import.default_plugins.folder_reader.reader import FolderReader
from osai_import.errors import SourceError
from osai_import.plugin.base import Reader
from osai_import.plugin.manager import build_plugins
from osai_import.records import Box, ImageRecord, Severity
from tests.support import CONFIGS, DOCS, REALDATA, make_image

SIDECAR = """<annotation><filename>{name}</filename>
<size><width>32</width><height>24</height><depth>3</depth></size>
<object><name>{label}</name><bndbox><xmin>1</xmin><ymin>2.5</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object>
</annotation>"""


def reader_cls() -> type[Reader]:
    return build_plugins(entry_points=False).readers.get("folder").cls


def read(root: Path, **options: Any) -> list[ImageRecord]:
    cls = reader_cls()
    return list(cls(cls.parse_options({"path": str(root), **options})).records())


def summary(records: list[ImageRecord]) -> list[tuple[Any, ...]]:
    return [
        (
            r.key,
            r.name,
            r.category,
            dict(r.extras),
            [(p.code, p.severity.value) for p in r.problems],
        )
        for r in records
    ]


def tree(root: Path, *images: str, files: dict[str, str] | None = None) -> Path:
    for rel in images:
        make_image(root / rel)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# --- registration and options ----------------------------------------------------------


def test_registered_as_a_plugin_and_paths_resolve_against_the_config(tmp_path: Path) -> None:
    cls = reader_cls()
    assert cls is FolderReader and cls.name == "folder"
    assert cls.description().startswith("Read a folder of images")
    options = cls.parse_options({"path": "data"}, tmp_path)
    assert options.path == tmp_path / "data"
    assert (options.category, options.recursive, options.extensions) == (
        "parent",
        True,
        ["jpg", "jpeg", "png"],
    )
    assert (options.include, options.exclude, options.annotations, options.follow_symlinks) == (
        [],
        [],
        "sidecar",
        False,
    )


@pytest.mark.parametrize(
    ("category", "needle"),
    [
        ("parnet", "did you mean 'parent'"),
        ("{category}/{file}/x", "`{file}` can only be the last segment"),
        ("{category}", "end it with `{file}`"),
        ("{a}/{a}/{file}", "twice"),
        ("**/{x:**}/{file}", "more than one `**`"),
        ("{category}_{n}/{file}", "must be a whole"),
        ("a//{category}/{file}", "empty segment"),
    ],
)
def test_bad_category_option_is_a_config_error(category: str, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        reader_cls().parse_options({"path": "x", "category": category})
    assert needle in str(info.value)


def test_unknown_option_and_bad_extension_are_refused() -> None:
    with pytest.raises(ValidationError):
        reader_cls().parse_options({"path": "x", "recursve": False})
    with pytest.raises(ValidationError):
        reader_cls().parse_options({"path": "x", "extensions": [" . "]})


def test_missing_root_and_file_root_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open the source folder"):
        read(tmp_path / "nope")
    (tmp_path / "file.jpg").write_text("x")
    with pytest.raises(SourceError, match="is not a folder"):
        read(tmp_path / "file.jpg")


# --- categories ------------------------------------------------------------------------


def test_parent_mode_root_nested_hidden_and_other_files(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "root.jpg",
        "cat/a.jpg",
        "cat/B.JPEG",
        "dog/c.PNG",
        "dog/puppy/d.jpg",
        ".hidden/e.jpg",
        "cat/.f.jpg",
        "dog/g.gif",
        files={"notes.txt": "x", "cat/readme.md": "x"},
    )
    records = read(root)
    assert summary(records) == [
        ("cat/B.JPEG", "B.JPEG", "cat", {}, []),
        ("cat/a.jpg", "a.jpg", "cat", {}, []),
        ("dog/c.PNG", "c.PNG", "dog", {}, []),
        ("dog/puppy/d.jpg", "d.jpg", "puppy", {}, []),
        ("root.jpg", "root.jpg", None, {}, []),
    ]
    assert records[0].path == root / "cat" / "B.JPEG"
    assert all(r.boxes == () and r.width is None for r in records)


def test_path_mode_and_none_mode(tmp_path: Path) -> None:
    root = tree(tmp_path, "root.jpg", "animal/cat/a.jpg", "animal/b.jpg")
    assert [(r.key, r.category) for r in read(root, category="path")] == [
        ("animal/b.jpg", "animal"),
        ("animal/cat/a.jpg", "animal/cat"),
        ("root.jpg", None),
    ]
    assert [r.category for r in read(root, category="none")] == [None, None, None]


def test_template_fields_ignored_segments_and_mismatches(tmp_path: Path) -> None:
    root = tree(
        tmp_path, "train/cat/x/a.jpg", "val/dog/y/b.jpg", "train/c.jpg", "test/cat/x/deep/d.jpg"
    )
    records = read(root, category="{split}/{category}/*/{file}")
    assert summary(records) == [
        ("test/cat/x/deep/d.jpg", "d.jpg", None, {}, [("path.template", "error")]),
        ("train/c.jpg", "c.jpg", None, {}, [("path.template", "error")]),
        ("train/cat/x/a.jpg", "a.jpg", "cat", {"split": "train"}, []),
        ("val/dog/y/b.jpg", "b.jpg", "dog", {"split": "val"}, []),
    ]
    message = records[1].problems[0].message
    assert "train/c.jpg" in message and "{split}/{category}/*/{file}" in message
    assert records[1].problems[0].item == "train/c.jpg"
    same = read(root, category="{split}/{category}/{_}/{file}")
    assert summary(same) == summary(records)


def test_template_with_spans_and_literals(tmp_path: Path) -> None:
    root = tree(tmp_path, "images/cat/a.jpg", "images/cat/sub/b.jpg", "masks/cat/c.png", "d.jpg")
    assert [
        (r.key, r.category, [p.code for p in r.problems])
        for r in read(root, category="images/**/{category}/{file}")
    ] == [
        ("d.jpg", None, ["path.template"]),
        ("images/cat/a.jpg", "cat", []),
        ("images/cat/sub/b.jpg", "sub", []),
        ("masks/cat/c.png", None, ["path.template"]),
    ]
    spans = read(root, category="{kind}/{category:**}/{file}")
    assert [(r.category, dict(r.extras)) for r in spans] == [
        (None, {}),
        ("cat", {"kind": "images"}),
        ("cat/sub", {"kind": "images"}),
        ("cat", {"kind": "masks"}),
    ]
    assert [r.category for r in read(root, category="{category}/**/{file}")] == [
        None,
        "images",
        "images",
        "masks",
    ]


def test_path_template_match_unit() -> None:
    template = PathTemplate.parse("{split}/{category:**}/{file}")
    assert template.match(("train", "x.jpg")) == {"split": "train"}
    assert template.match(("train", "a", "b", "x.jpg")) == {"split": "train", "category": "a/b"}
    assert template.match(("x.jpg",)) is None
    literal = PathTemplate.parse("im*/{category}/*.jpg")
    assert literal.match(("images", "cat", "a.jpg")) == {"category": "cat"}
    assert literal.match(("images", "cat", "a.png")) is None
    assert literal.match(("data", "cat", "a.jpg")) is None


# --- walking options -------------------------------------------------------------------


def test_recursive_false_reads_only_the_root(tmp_path: Path) -> None:
    root = tree(tmp_path, "a.jpg", "cat/b.jpg")
    assert [r.key for r in read(root, recursive=False)] == ["a.jpg"]


def test_extensions_any_case_and_custom(tmp_path: Path) -> None:
    root = tree(tmp_path, "a.jpg", "b.PNG", "c.Jpeg", "d.webp.png")
    (tmp_path / "e.TIF").write_bytes(b"II*\x00")
    assert [r.key for r in read(root)] == ["a.jpg", "b.PNG", "c.Jpeg", "d.webp.png"]
    assert [r.key for r in read(root, extensions=[".PNG", "tif"])] == [
        "b.PNG",
        "d.webp.png",
        "e.TIF",
    ]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "train/cat/a.jpg",
        "train/cat/a_aug.jpg",
        "train/dog/b.png",
        "val/cat/c.jpg",
        "backup/cat/d.jpg",
        "x/backup/e.jpg",
        "f.jpg",
    )
    keys = lambda **o: [r.key for r in read(root, **o)]  # noqa: E731
    assert keys(include=["train/**"]) == [
        "train/cat/a.jpg",
        "train/cat/a_aug.jpg",
        "train/dog/b.png",
    ]
    assert keys(include=["*.png"]) == ["train/dog/b.png"]
    assert keys(include=["*/*"]) == []
    assert keys(include=["*/*/*"], exclude=["*_aug.*", "backup/**"]) == [
        "train/cat/a.jpg",
        "train/dog/b.png",
        "val/cat/c.jpg",
        "x/backup/e.jpg",
    ]
    assert keys(exclude=["**/backup/**", "/f.jpg", "train/*/a?aug.jpg"]) == [
        "train/cat/a.jpg",
        "train/dog/b.png",
        "val/cat/c.jpg",
    ]
    assert keys(include=["[tv]*/c[a-z]t/*"], exclude=["*/*/[!a]*"]) == [
        "train/cat/a.jpg",
        "train/cat/a_aug.jpg",
    ]


def test_compile_glob_unit() -> None:
    assert compile_glob("*.jpg")("a/b/c.jpg") and not compile_glob("*.jpg")("a/b/c.png")
    assert compile_glob("a/*")("a/b") and not compile_glob("a/*")("a/b/c")
    assert (
        compile_glob("a/**")("a/b/c")
        and compile_glob("**/c")("c")
        and compile_glob("**/c")("a/b/c")
    )
    assert compile_glob("/a/b?.jpg")("a/b1.jpg") and not compile_glob("/a/b?.jpg")("x/a/b1.jpg")
    assert compile_glob("a/**/d")("a/d") and compile_glob("a/**/d")("a/b/c/d")
    assert not compile_glob("a*")("ab/c") and compile_glob("a", anchored=True)("a")


def test_excluded_folder_is_never_listed(tmp_path: Path) -> None:
    root = tree(tmp_path, "keep/a.jpg", "skip/b.jpg")
    os.chmod(root / "skip", 0)  # unreadable as a normal user; harmless when pruned
    try:
        assert [r.key for r in read(root, exclude=["skip/**"])] == ["keep/a.jpg"]
    finally:
        os.chmod(root / "skip", 0o755)


# --- sidecar annotations ---------------------------------------------------------------


def test_sidecar_boxes_sizes_and_upper_case_extension(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "cat/a.jpg",
        "cat/b.jpg",
        "cat/c.jpg",
        files={
            "cat/a.xml": SIDECAR.format(name="a.jpg", label="cat"),
            "cat/b.XML": SIDECAR.format(name="b.jpg", label="dog"),
        },
    )
    records = read(root)
    assert summary(records) == [
        ("cat/a.jpg", "a.jpg", "cat", {"annotation": "cat/a.xml"}, []),
        ("cat/b.jpg", "b.jpg", "cat", {"annotation": "cat/b.XML"}, []),
        ("cat/c.jpg", "c.jpg", "cat", {}, []),
    ]
    assert records[0].boxes == (Box("cat", 1.0, 2.5, 10.0, 20.0),)
    assert records[1].boxes[0].label == "dog"
    assert (records[0].width, records[0].height, records[0].depth) == (32, 24, 3)
    assert records[2].boxes == () and records[2].width is None
    assert [r.boxes for r in read(root, annotations="none")] == [(), (), ()]


def test_two_sidecar_spellings_use_lower_case_and_warn(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "a.jpg",
        files={
            "a.xml": SIDECAR.format(name="a.jpg", label="low"),
            "a.XML": SIDECAR.format(name="a.jpg", label="up"),
        },
    )
    if len(os.listdir(root)) < 3:
        pytest.fail("this test needs a case-sensitive file system")
    (record,) = read(root)
    assert record.boxes[0].label == "low"
    assert [(p.code, p.severity) for p in record.problems] == [("xml.ambiguous", Severity.WARNING)]
    assert "a.XML" in record.problems[0].message


def test_images_sharing_a_stem_share_the_sidecar(tmp_path: Path) -> None:
    root = tree(
        tmp_path, "a.jpg", "a.png", files={"a.xml": SIDECAR.format(name="a.jpg", label="cat")}
    )
    assert [(r.key, len(r.boxes)) for r in read(root)] == [("a.jpg", 1), ("a.png", 1)]


def test_bad_sidecars_are_item_errors_and_the_stream_goes_on(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-PASSWORD-42")
    root = tree(
        tmp_path / "data",
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "d.jpg",
        "e.jpg",
        files={
            "a.xml": "<annotation><object><name>cat</name>\n</annotation>",
            "b.xml": f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]><annotation><filename>&x;</filename></annotation>',
            "c.xml": "<annotation><object><name>cat</name></object></annotation>",
            "e.xml": SIDECAR.format(name="e.jpg", label="ok"),
        },
    )
    records = read(root)
    assert summary(records) == [
        ("a.jpg", "a.jpg", None, {"annotation": "a.xml"}, [("xml.malformed", "error")]),
        ("b.jpg", "b.jpg", None, {"annotation": "b.xml"}, [("xml.unsafe", "error")]),
        ("c.jpg", "c.jpg", None, {"annotation": "c.xml"}, [("xml.invalid", "error")]),
        ("d.jpg", "d.jpg", None, {}, []),
        ("e.jpg", "e.jpg", None, {"annotation": "e.xml"}, []),
    ]
    assert str(root / "a.xml") + ":2:" in records[0].problems[0].message
    assert all("SECRET" not in p.message for r in records for p in r.problems)
    assert "object 1 of 1" in records[2].problems[0].message
    assert records[4].boxes[0].label == "ok"


# --- symlinks, special files, names ----------------------------------------------------


def test_symlinks_are_not_followed_by_default(tmp_path: Path) -> None:
    outside = tree(
        tmp_path / "outside",
        "cat/x.jpg",
        "y.jpg",
        files={"z.xml": SIDECAR.format(name="z", label="z")},
    )
    root = tree(tmp_path / "data", "a.jpg", "z.jpg")
    (root / "linked").symlink_to(outside / "cat", target_is_directory=True)
    (root / "b.jpg").symlink_to(outside / "y.jpg")
    (root / "z.xml").symlink_to(outside / "z.xml")
    records = read(root)
    assert summary(records) == [
        ("a.jpg", "a.jpg", None, {}, []),
        ("b.jpg", "b.jpg", None, {}, [("path.symlink", "error")]),
        ("z.jpg", "z.jpg", None, {"annotation": "z.xml"}, [("path.symlink", "error")]),
    ]
    assert "follow_symlinks: true" in records[1].problems[0].message
    followed = read(root, follow_symlinks=True)
    assert summary(followed) == [
        ("a.jpg", "a.jpg", None, {}, []),
        ("b.jpg", "b.jpg", None, {}, []),
        ("linked/x.jpg", "x.jpg", "linked", {}, []),
        ("z.jpg", "z.jpg", None, {"annotation": "z.xml"}, []),
    ]
    assert followed[3].boxes[0].label == "z"


def test_symlink_loops_end(tmp_path: Path) -> None:
    root = tree(tmp_path, "a/x.jpg")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "a" / "self").symlink_to(root / "a", target_is_directory=True)
    (root / "b").symlink_to(root / "a", target_is_directory=True)
    assert [r.key for r in read(root, follow_symlinks=True)] == ["a/x.jpg"]


def test_special_file_named_like_an_image_is_an_error_not_a_hang(tmp_path: Path) -> None:
    root = tree(tmp_path, "a.jpg")
    os.mkfifo(root / "pipe.jpg")
    os.mkfifo(root / "a.xml")
    records = read(root)
    assert summary(records) == [
        ("a.jpg", "a.jpg", None, {"annotation": "a.xml"}, [("xml.unreadable", "error")]),
        ("pipe.jpg", "pipe.jpg", None, {}, [("path.special", "error")]),
    ]


def test_names_and_categories_are_nfc_and_keys_stay_as_on_disk(tmp_path: Path) -> None:
    nfd_folder = unicodedata.normalize("NFD", "café")
    nfd_file = unicodedata.normalize("NFD", "crème.jpg")
    root = tree(tmp_path, f"{nfd_folder}/{nfd_file}")
    (record,) = read(root)
    assert record.key == f"{nfd_folder}/{nfd_file}"
    assert record.name == "crème.jpg" and record.category == "café"
    assert record.path.exists()


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"cat", b"caf\xe9.jpg")
    make_image(Path(os.fsdecode(raw)))
    (record,) = read(tmp_path)
    assert record.key == "cat/caf\\xe9.jpg"
    assert record.name == "caf\ufffd.jpg"
    assert record.path.exists()
    assert [p.code for p in record.problems] == ["name.encoding"]
    json.dumps([p.to_dict() for p in record.problems])  # reports can carry it


# --- order and laziness ----------------------------------------------------------------


def test_order_is_sorted_depth_first_and_repeatable(tmp_path: Path) -> None:
    root = tree(tmp_path, "b/2.jpg", "a.jpg", "a/z.jpg", "a/b/1.jpg", "c.jpg", "B/0.jpg")
    first = [r.key for r in read(root)]
    assert first == ["B/0.jpg", "a/b/1.jpg", "a/z.jpg", "a.jpg", "b/2.jpg", "c.jpg"]
    assert [r.key for r in read(root)] == first


def test_records_are_yielded_while_walking(tmp_path: Path) -> None:
    root = tree(tmp_path, "a/1.jpg", "b/2.jpg")
    cls = reader_cls()
    stream = cls(cls.parse_options({"path": str(root)})).records()
    assert next(stream).key == "a/1.jpg"
    # Folder b is listed only now, so a file added after the first record shows up;
    # the root was listed before it, so a new folder there does not.
    make_image(root / "b" / "3.jpg")
    make_image(root / "c" / "4.jpg")
    assert [r.key for r in stream] == ["b/2.jpg", "b/3.jpg"]


# --- real datasets ---------------------------------------------------------------------


def _oracle_images(folder: str) -> list[dict[str, Any]]:
    oracle = json.loads((REALDATA / folder / "ORACLE.json").read_text())
    (view,) = oracle["views"].values()
    return view["oracles"]["datumaro"]["images"]


def test_datumaro_imagenet_matches_the_oracle_with_path_mode() -> None:
    expected = {
        img["file"]: (img.get("labels") or [None])[0] for img in _oracle_images("datumaro_imagenet")
    }
    records = read(REALDATA / "datumaro_imagenet", category="path")
    assert {r.key: r.category for r in records} == expected
    # The default names the immediate folder, as OSAI's documented example does.
    parent = {r.key: r.category for r in read(REALDATA / "datumaro_imagenet")}
    assert parent == {**expected, "label_1/label_1_1/label_1_1.jpg": "label_1_1"}


def test_datumaro_imagenet_subsets_match_the_oracle_with_a_template() -> None:
    images = _oracle_images("datumaro_imagenet_subsets")
    expected = {img["file"]: ((img.get("labels") or [None])[0], img["subset"]) for img in images}
    records = read(REALDATA / "datumaro_imagenet_subsets", category="{split}/{category:**}/{file}")
    assert {r.key: (r.category, r.extras["split"]) for r in records} == expected
    assert all(r.problems == () for r in records)


def test_roboflow_voc_sidecars_match_the_oracle() -> None:
    expected = {
        img["file"]: (img["boxes"], img["width"], img["height"])
        for img in _oracle_images("datumaro_roboflow_voc")
    }
    records = read(REALDATA / "datumaro_roboflow_voc", category="{split}/{file}")
    got = {
        r.key: ([[b.label, b.xmin, b.ymin, b.xmax, b.ymax] for b in r.boxes], r.width, r.height)
        for r in records
    }
    assert got == expected
    assert [r.extras["split"] for r in records] == ["train", "train", "val"]


def test_example_config_runs() -> None:
    from osai_import.config.resolve import load_config, resolve

    config = CONFIGS / "folder.yaml"
    resolved = resolve(load_config(config), build_plugins(entry_points=False))
    records = list(resolved.reader().records())
    assert [(r.key, r.category, len(r.boxes)) for r in records] == [
        ("cats/cat_01.jpg", "cats", 2),
        ("cats/cat_02.png", "cats", 0),
        ("dogs/dog_01.jpg", "dogs", 1),
        ("dogs/dog_02.jpg", "dogs", 0),
    ]
    assert all(r.problems == () and r.path.is_file() for r in records)


def test_every_option_is_documented_with_its_default() -> None:
    doc = (DOCS / "readers" / "folder.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    for name, field in FolderReader.Options.model_fields.items():
        assert f"`{name}`" in rows, name
        default = field.get_default(call_default_factory=True)
        if default is not None and name != "path":
            shown = "[" + ", ".join(default) + "]" if isinstance(default, list) else default
            assert f"`{str(shown).lower()}`" in rows[f"`{name}`"], name


# --- sidecars parsed ahead in a helper process ---------------------------------------------

_READ_ALL = """
import json, sys
from osai_import.source import parse_ahead
from osai_import.plugin.manager import build_plugins
submitted = []
submit = parse_ahead.VocAhead.submit
def spy(self, jobs):
    future = submit(self, jobs)
    submitted.append(future is not None)
    return future
parse_ahead.VocAhead.submit = spy
cls = build_plugins(entry_points=False).readers.get("folder").cls
records = list(cls(cls.parse_options({"path": sys.argv[1]})).records())
print(json.dumps({"helper_batches": sum(submitted), "records": [
    [r.key, r.category, [[b.label, b.xmin, b.ymin, b.xmax, b.ymax, b.difficult] for b in r.boxes],
     r.width, r.height, dict(r.extras), [[p.code, p.severity.value, p.message] for p in r.problems]]
    for r in records]}))
"""


def _read_in_child(root: Path, **env: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _READ_ALL, str(root)], capture_output=True,
                            text=True, check=True, env={**os.environ, **env})
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_sidecars_parsed_in_a_helper_process_give_the_same_records(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for n in range(1500):
        folder = root / f"class_{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img_{n:05d}.jpg").write_bytes(b"\xff\xd8\xff")  # the reader never opens it
        if n % 5:
            (folder / f"img_{n:05d}.xml").write_text(
                f"<annotation><size><width>{40 + n}</width><height>30</height></size><object>"
                f"<name>thing {n % 7}</name><difficult>{n % 2}</difficult><bndbox><xmin>1</xmin>"
                f"<ymin>2</ymin><xmax>{3 + n % 11}</xmax><ymax>9</ymax></bndbox></object>"
                "</annotation>")
    # Past the first 1,024 images, where batches go to the helper: every kind of refusal.
    (root / "class_0" / "img_01200.xml").write_text("<annotation><object>")
    (root / "class_1" / "img_01201.xml").write_text(
        '<!DOCTYPE a [<!ENTITY x "y">]><annotation>&x;</annotation>')
    (root / "class_2" / "img_01202.xml").write_text("<annotation><object><name>x</name>"
                                                     "<bndbox><xmin>a</xmin></bndbox></object>"
                                                     "</annotation>")
    (root / "class_0" / "img_01203.XML").write_text("<annotation/>")
    (root / "class_1" / "img_01204.xml").unlink()
    (root / "class_1" / "img_01204.xml").symlink_to(root / "class_1" / "img_01206.xml")
    helped = _read_in_child(root)
    alone = _read_in_child(root, OSAI_IMPORT_NO_HELPER_PROCESS="1")
    assert helped["helper_batches"] >= 1 and alone["helper_batches"] == 0
    assert helped["records"] == alone["records"]
    records = {r[0]: r for r in helped["records"]}
    assert len(records) == 1500
    codes = {key: [p[0] for p in records[key][6]] for key in (
        "class_0/img_01200.jpg", "class_1/img_01201.jpg", "class_2/img_01202.jpg",
        "class_0/img_01203.jpg", "class_1/img_01204.jpg")}
    assert codes == {"class_0/img_01200.jpg": ["xml.malformed"],
                     "class_1/img_01201.jpg": ["xml.unsafe"],
                     "class_2/img_01202.jpg": ["xml.invalid"],
                     "class_0/img_01203.jpg": ["xml.ambiguous"],
                     "class_1/img_01204.jpg": ["path.symlink"]}
    assert records["class_2/img_01499.jpg"][2] == [["thing 1", 1.0, 2.0, 6.0, 9.0, True]]


def test_a_helper_process_that_fails_hands_the_parsing_back() -> None:
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from osai_import.source.parse_ahead import VocAhead

    ahead = VocAhead()
    dead: Future[Any] = Future()
    dead.set_exception(BrokenProcessPool("the helper was killed"))
    assert ahead.results(dead, [("a.xml", "a.xml")]) is None  # the reader parses it itself
    assert ahead.submit([("b.xml", "b.xml")] * 100) is None  # and every later batch
    ahead.close()


def test_voc_xml_in_a_folder_of_their_own_is_named_not_silently_lost(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.jpg")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "a.xml").write_text(
        "<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>", encoding="utf-8")
    cls = reader_cls()
    reader = cls(cls.parse_options({"path": str(tmp_path)}))
    records = list(reader.records())
    assert [r.boxes for r in records] == [()]
    (note,) = reader.source_problems()
    assert note.code == "folder.voc_apart" and note.severity is Severity.WARNING
    assert "annotations/ holds Pascal VOC XML" in note.message and "type: voc" in note.message
    # With the XML beside the image, the boxes are read and nothing is said.
    (tmp_path / "annotations" / "a.xml").rename(tmp_path / "images" / "a.xml")
    again = cls(cls.parse_options({"path": str(tmp_path)}))
    assert [len(r.boxes) for r in again.records()] == [1]
    assert again.source_problems() == ()
