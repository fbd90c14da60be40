"""The cvat reader on XML written here: every shape kind, every problem code, hostile files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from osai_import import ImageRecord, Problem, Severity, SourceError
from osai_import.testing import make_image
from osai_import_cvat import CvatReader

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n<version>1.1</version>\n'


def xml(root: Path, body: str, meta: str = "", name: str = "annotations.xml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text(f"{HEAD}<meta>{meta}</meta>\n{body}\n</annotations>\n", encoding="utf-8")
    return path


def image(name: str = "a.jpg", shapes: str = "", size: tuple[int, int] = (100, 80)) -> str:
    return f'<image id="0" name="{name}" width="{size[0]}" height="{size[1]}">\n{shapes}\n</image>'


def reader(path: Path, **options: Any) -> CvatReader:
    return CvatReader(CvatReader.parse_options({"path": str(path), **options}))


def read(path: Path, **options: Any) -> list[ImageRecord]:
    return list(reader(path, **options).records())


def boxes(record: ImageRecord) -> list[tuple[Any, ...]]:
    return [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in record.boxes]


def problem(record: ImageRecord, code: str) -> Problem:
    (found,) = [p for p in record.problems if p.code == code]
    return found


@pytest.fixture
def task(tmp_path: Path) -> Path:
    """Return a task folder with images/a.jpg (100x80)."""
    make_image(tmp_path / "images" / "a.jpg", 100, 80)
    return tmp_path


def one(task: Path, body: str, **options: Any) -> ImageRecord:
    xml(task, image(shapes=body))
    (record,) = read(task, **options)
    return record


def test_every_region_kind_becomes_its_bounds(task: Path) -> None:
    record = one(
        task,
        '<box label="a" xtl="1.5" ytl="2" xbr="10" ybr="20.25"/>\n'
        '<polygon label="b" points="5,5;50,10;20,40"/>\n'
        '<ellipse label="c" cx="50" cy="40" rx="10" ry="5"/>\n'
        '<cuboid label="d" xtl1="1" ytl1="2" xbl1="1" ybl1="30" xtr1="20" ytr1="2" xbr1="20" '
        'ybr1="30" xtl2="5" ytl2="0" xbl2="5" ybl2="25" xtr2="25" ytr2="0" xbr2="25" ybr2="25"/>\n'
        # The documentation's 13x15 mask: painted pixels span columns 0..12, rows 0..14.
        '<mask label="e" rle="3, 5, 7, 7, 5, 9, 3, 11, 2, 11, 2, 12, 1, 12, 1, 26, 1, 12, 1, '
        '12, 2, 11, 3, 9, 5, 7, 7, 5, 3" left="70" top="60" width="13" height="15"/>',
    )
    assert boxes(record) == [
        ("a", 1.5, 2.0, 10.0, 20.25),
        ("b", 5.0, 5.0, 50.0, 40.0),
        ("c", 40.0, 35.0, 60.0, 45.0),
        ("d", 1.0, 0.0, 25.0, 30.0),
        ("e", 70.0, 60.0, 83.0, 75.0),
    ]
    assert record.problems == ()


def test_a_mask_box_covers_whole_pixels(task: Path) -> None:
    # 4x3 mask: row 0 ....; row 1 .##.; row 2 .#.. -> columns 1..2, rows 1..2
    record = one(task, '<mask label="m" rle="5, 2, 2, 1, 2" left="10" top="20" width="4" height="3"/>')
    assert boxes(record) == [("m", 11.0, 21.0, 13.0, 23.0)]
    # A run wrapping onto the next row covers the last and the first column.
    record = one(task, '<mask label="m" rle="3, 2, 7" left="0" top="0" width="4" height="3"/>')
    assert boxes(record) == [("m", 0.0, 0.0, 4.0, 2.0)]


def test_rotated_boxes_give_the_rotated_bounds_and_a_warning(task: Path) -> None:
    record = one(task, '<box label="r" xtl="10" ytl="20" xbr="30" ybr="30" rotation="90"/>')
    ((label, *corners),) = boxes(record)
    assert label == "r" and all(
        math.isclose(a, b, abs_tol=1e-9) for a, b in zip(corners, [15, 15, 25, 35], strict=True)
    )
    found = problem(record, "cvat.rotated")
    assert found.severity is Severity.WARNING and "annotations.xml:6:" in found.message


def test_a_rotated_ellipse_has_exact_bounds_without_warning(task: Path) -> None:
    record = one(task, '<ellipse label="e" cx="50" cy="40" rx="10" ry="5" rotation="90"/>')
    ((_, *corners),) = boxes(record)
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(corners, [45, 30, 55, 50], strict=True))
    assert record.problems == ()


def test_skipped_kinds_warn_naming_image_line_and_shape(task: Path) -> None:
    record = one(
        task,
        '<polyline label="lane" points="1,1;5,5"/>\n<points label="kp" points="3,3"/>\n'
        '<skeleton label="pose"><points label="1" points="3,4" outside="0"/></skeleton>',
    )
    assert record.boxes == ()
    found = problem(record, "cvat.shape_skipped")
    assert found.severity is Severity.WARNING
    assert "3 shapes" in found.message and "line 6: <polyline 'lane'>" in found.message
    assert "<skeleton 'pose'>" in found.message and "annotations.xml" in found.message


def test_policies_turn_lines_and_skeletons_into_boxes(task: Path) -> None:
    record = one(
        task,
        '<polyline label="lane" points="1,1;5,9"/>\n'
        '<skeleton label="pose"><points label="1" points="3,4" outside="0"/>'
        '<points label="2" points="30,40" outside="1"/><points label="3" points="9,2"/></skeleton>',
        shapes={"polyline": "box", "skeleton": "box"},
    )
    assert boxes(record) == [("lane", 1.0, 1.0, 5.0, 9.0), ("pose", 3.0, 2.0, 9.0, 4.0)]


def test_a_kind_set_to_error_refuses_the_image(task: Path) -> None:
    record = one(task, '<box label="a" xtl="1" ytl="2" xbr="10" ybr="20"/>', shapes={"box": "error"})
    found = problem(record, "cvat.shape_refused")
    assert found.severity is Severity.ERROR and "shapes.box: error" in found.message


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ('<box label="a" xtl="1" ytl="2" xbr="nan" ybr="20"/>', "`xbr` is 'nan'"),
        ('<box label="a" xtl="1" ytl="2" xbr="10"/>', "has no `ybr`"),
        ('<polygon label="a" points="1,2;3"/>', "point 2 is '3'"),
        ('<polygon label="a" points=""/>', "has no points"),
        ('<mask label="a" rle="1, 20" left="0" top="0" width="4" height="4"/>', "counts 21 pixels"),
        ('<mask label="a" rle="1, x" left="0" top="0" width="4" height="4"/>', "'x', not a count"),
        ('<mask label="a" rle="1" left="-1" top="0" width="4" height="4"/>', "`left` is -1"),
        ('<ellipse label="a" cx="1" cy="1" rx="2"/>', "has no `ry`"),
    ],
)
def test_a_bad_attribute_is_an_error_naming_line_and_shape(
    task: Path, shape: str, words: str
) -> None:
    record = one(task, f'<box label="ok" xtl="1" ytl="1" xbr="2" ybr="2"/>\n{shape}')
    found = problem(record, "cvat.bad_shape")
    assert found.severity is Severity.ERROR
    assert "annotations.xml:7: <" in found.message and words in found.message
    assert "(image 'a.jpg')" in found.message
    assert len(record.boxes) == 1  # the good shape stays


def test_shapes_without_label_and_empty_shapes(task: Path) -> None:
    record = one(
        task,
        '<box label="" xtl="1" ytl="2" xbr="10" ybr="20"/>\n'
        '<mask label="m" rle="16" left="0" top="0" width="4" height="4"/>\n'
        '<skeleton label="s" shapes="x"><points label="1" points="3,4" outside="1"/></skeleton>',
        shapes={"skeleton": "box"},
    )
    assert record.boxes == ()
    assert problem(record, "cvat.no_label").severity is Severity.ERROR
    empty = problem(record, "cvat.empty_shape")
    assert empty.severity is Severity.WARNING and "no painted pixel" in empty.message
    assert "no visible point" in empty.message


def test_occluded_and_voc_attributes_reach_the_box(task: Path) -> None:
    record = one(
        task,
        '<box label="a" xtl="1" ytl="2" xbr="10" ybr="20" occluded="1">'
        '<attribute name="difficult">true</attribute><attribute name="truncated">1</attribute>'
        '<attribute name="pose">Left</attribute></box>',
    )
    (box,) = record.boxes
    assert (box.occluded, box.difficult, box.truncated, box.pose) == (True, True, True, "Left")


@pytest.mark.parametrize(
    ("tags", "mode", "category", "code", "severity"),
    [
        ('<tag label="day"/>', "category", "day", None, None),
        ('<tag label="day"/><tag label="day"/>', "category", "day", None, None),
        ('<tag label="day"/><tag label="night"/>', "category", None, "cvat.several_tags", Severity.ERROR),
        ('<tag label="day"/><tag label="night"/>', "first", "day", "cvat.several_tags", Severity.WARNING),
        ('<tag label="day"/>', "skip", None, "cvat.tag_skipped", Severity.WARNING),
        ('<tag label=""/>', "category", None, "cvat.no_label", Severity.ERROR),
    ],
)
def test_tags_give_the_category(
    task: Path, tags: str, mode: str, category: str | None, code: str | None,
    severity: Severity | None,
) -> None:
    record = one(task, tags, tags=mode)
    assert record.category == category
    assert [(p.code, p.severity) for p in record.problems] == ([(code, severity)] if code else [])


def test_a_missing_image_is_an_error_naming_the_line_and_the_name(task: Path) -> None:
    xml(task, image() + "\n" + image("sub/gone.jpg").replace('id="0"', 'id="1"'))
    first, gone = read(task)
    assert first.problems == () and gone.key == "sub/gone.jpg" and gone.name == "gone.jpg"
    found = problem(gone, "cvat.image_missing")
    assert found.severity is Severity.ERROR
    assert "annotations.xml:8: <image name='sub/gone.jpg'>" in found.message


def test_names_leaving_the_images_folder_stay_inside_it(tmp_path: Path) -> None:
    make_image(tmp_path / "secret.jpg")  # beside the images folder: must not be reached
    make_image(tmp_path / "images" / "secret.jpg", 10, 10)
    make_image(tmp_path / "images" / "data" / "b.jpg")
    xml(tmp_path, image("../secret.jpg") + image("/data/b.jpg").replace('id="0"', 'id="1"'))
    records = read(tmp_path)
    assert [r.key for r in records] == ["secret.jpg", "data/b.jpg"]
    assert records[0].path == tmp_path / "images" / "secret.jpg"
    assert all(problem(r, "cvat.name_outside").severity is Severity.WARNING for r in records)


def test_a_nameless_image_and_unknown_elements_are_reported(task: Path) -> None:
    xml(task, image(shapes='<polygon3d label="x"/>') + '\n<image id="9" width="1" height="1"/>'
        + '\n<weird/>')
    r = reader(task)
    (record,) = list(r.records())
    assert problem(record, "cvat.unknown_element").severity is Severity.WARNING
    codes = sorted(p.code for p in r.source_problems())
    assert codes == ["cvat.bad_image", "cvat.unknown_element"]
    assert any("<image id='9'> has no usable name" in p.message for p in r.source_problems())


def test_a_bad_image_size_is_an_error(task: Path) -> None:
    xml(task, image(size=(100, 80)).replace('width="100"', 'width="wide"'))
    (record,) = read(task)
    assert record.width is None and record.height == 80
    assert "width='wide'" in problem(record, "cvat.bad_image").message


def test_broken_xml_names_the_file_and_line(task: Path) -> None:
    path = xml(task, image() + "\n<image id='1' name='b.jpg'>\n<box label='a'\n</annotations>")
    with pytest.raises(SourceError, match=r"annotations\.xml:1[0-9]: broken XML") as caught:
        read(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE annotations [<!ENTITY x "xxxxxxxxxx">]>',
        '<!DOCTYPE annotations SYSTEM "http://example.invalid/cvat.dtd">',
    ],
)
def test_a_doctype_is_refused_before_anything_is_used(task: Path, prolog: str) -> None:
    (task / "annotations.xml").write_text(
        f'<?xml version="1.0"?>\n{prolog}\n<annotations>{image("&x;")}</annotations>'
        if "ENTITY" in prolog
        else f'<?xml version="1.0"?>\n{prolog}\n<annotations>{image()}</annotations>',
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match="DOCTYPE"):
        read(task)


def test_not_a_cvat_file_and_no_xml(tmp_path: Path) -> None:
    (tmp_path / "voc.xml").write_text("<annotation><filename>a</filename></annotation>")
    with pytest.raises(SourceError, match="root element is <annotation>, not <annotations>"):
        read(tmp_path)
    (tmp_path / "other.xml").write_text("<annotations/>")
    with pytest.raises(SourceError, match="several XML files"):
        read(tmp_path)


def test_an_images_option_and_the_xml_folder_as_fallback(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    xml(tmp_path, image())
    assert [r.path for r in read(tmp_path)] == [tmp_path / "a.jpg"]
    make_image(tmp_path / "pics" / "a.jpg")
    assert [r.path for r in read(tmp_path, images=str(tmp_path / "pics"))] == [
        tmp_path / "pics" / "a.jpg"
    ]
    with pytest.raises(SourceError, match=r"source\.images"):
        read(tmp_path, images=str(tmp_path / "nowhere"))


def video(root: Path, tracks: str, mode: str = "interpolation", extra: str = "") -> Path:
    meta = (
        f"<task><id>7</id><mode>{mode}</mode><start_frame>0</start_frame>{extra}"
        "<original_size><width>64</width><height>48</height></original_size></task>"
    )
    return xml(root, tracks, meta)


def test_tracks_by_frame_number_with_outside_and_missing_frames(tmp_path: Path) -> None:
    for frame in (0, 1, 2):
        make_image(tmp_path / "images" / f"frame_{frame:06d}.PNG", 64, 48, fmt="PNG")
    video(
        tmp_path,
        '<track id="0" label="car">'
        '<box frame="0" outside="0" keyframe="1" xtl="1" ytl="2" xbr="10" ybr="20"/>'
        '<box frame="1" outside="1" keyframe="1" xtl="1" ytl="2" xbr="10" ybr="20"/>'
        '<box frame="5" outside="0" keyframe="1" xtl="1" ytl="2" xbr="10" ybr="20"/>'
        '<box frame="x" outside="0" keyframe="1" xtl="1" ytl="2" xbr="10" ybr="20"/></track>'
        '<track id="1" label="bike"><polygon frame="2" outside="0" points="1,1;3,4"/></track>',
    )
    r = reader(tmp_path)
    records = list(r.records())
    assert [(r.key, len(r.boxes)) for r in records] == [
        ("frame_000000.PNG", 1), ("frame_000001.PNG", 0), ("frame_000002.PNG", 1)
    ]
    assert boxes(records[2]) == [("bike", 1.0, 1.0, 3.0, 4.0)]
    problems = {p.code: p for p in r.source_problems()}
    assert sorted(problems) == ["cvat.bad_shape", "cvat.frame_missing"]
    assert "frame 5 has 1 shape(s)" in problems["cvat.frame_missing"].message
    assert "frame='x'" in problems["cvat.bad_shape"].message


def test_an_image_task_in_video_form_maps_frames_by_name_order(tmp_path: Path) -> None:
    for name in ("b.jpg", "a.jpg", "a/z.jpg"):
        make_image(tmp_path / "images" / name, 64, 48)
    video(
        tmp_path,
        '<track id="0" label="car"><box frame="2" outside="0" xtl="1" ytl="2" xbr="10" ybr="20"/>'
        '<box frame="4" outside="0" xtl="1" ytl="2" xbr="10" ybr="20"/></track>',
        mode="annotation",
        extra="<frame_filter>step=2</frame_filter>",
    )
    records = read(tmp_path)
    # CVAT sorts a task's images by path: a.jpg, a/z.jpg, b.jpg are frames 0, 2, 4.
    assert [(r.key, r.extras["frame"], len(r.boxes)) for r in records] == [
        ("a.jpg", 0, 0), ("a/z.jpg", 2, 1), ("b.jpg", 4, 1)
    ]
    assert records[0].width is None  # image tasks have no <original_size>
    assert [r.extras["frame"] for r in read(tmp_path, frames="number")] == []


def test_tracks_in_an_images_file_are_an_error(task: Path) -> None:
    xml(task, image() + '<track id="0" label="car"><box frame="0" outside="0" xtl="1" ytl="2" '
        'xbr="10" ybr="20"/></track>')
    r = reader(task)
    assert len(list(r.records())) == 1
    (found,) = r.source_problems()
    assert (found.code, found.severity) == ("cvat.mixed_forms", Severity.ERROR)


def test_a_video_export_without_frames_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    video(tmp_path, "")
    with pytest.raises(SourceError, match=r"no <image>, no track shape and no frame image"):
        read(tmp_path)


def test_a_long_file_is_streamed(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.jpg", 100, 80)
    body = "\n".join(
        image("a.jpg", '<box label="a" xtl="1" ytl="2" xbr="10" ybr="20"/>').replace(
            'name="a.jpg"', 'name="a.jpg"' if i == 0 else f'name="img{i}.jpg"')
        for i in range(3000)
    )
    xml(tmp_path, body)
    stream = reader(tmp_path).records()
    first = next(stream)
    assert first.key == "a.jpg" and len(first.boxes) == 1
    assert sum(1 for _ in stream) == 2999
