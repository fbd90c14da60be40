"""The page's content on a dataset worked out by hand: summary, figures, problems, placeholders."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from PIL import Image

import osai_import
from osai_import import PreviewReport
from tests.preview.support import coloured, write_mixed_coco

EXPECTED_BOXES = {  # name: boxes as the VOC XML sends them (outward to whole pixels, clipped)
    "a.jpg": [("cat", 10, 10, 30, 30), ("dog", 50, 20, 81, 61)],
    "b.jpg": [("cat", 40, 10, 60, 30)],
    "c.png": [],
    "d.jpg": [("dog", 0, 0, 10, 10), ("dog", 10, 10, 20, 20), ("cat", 20, 20, 30, 30)],
}


def _page(path: Path) -> Any:
    return lxml.html.fromstring(path.read_bytes())


def q(element: Any, xpath: str) -> list[Any]:
    """Return the elements an XPath finds."""
    found: list[Any] = element.xpath(xpath)
    return found


def cls(name: str) -> str:
    """Return the XPath test of an element having the class ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _rows(table: Any) -> dict[str, int]:
    return {row.get("data-name"): int(row.get("data-count")) for row in table.iter("tr")
            if row.get("data-name") is not None}


def _boxes(figure: Any) -> list[tuple[str, float, float, float, float]]:
    out = []
    for rect in q(figure, f".//rect[{cls('box')}]"):
        x, y = float(rect.get("x")), float(rect.get("y"))
        out.append((rect.get("data-label"), x, y, x + float(rect.get("width")),
                    y + float(rect.get("height"))))
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreviewReport, Any, Path]:
    root = tmp_path_factory.mktemp("mixed")
    config = write_mixed_coco(root)
    done = osai_import.preview(config, base_dir=root, output=root / "page.html")
    return done, _page(root / "page.html"), root


def test_the_report_counts_what_was_worked_out_by_hand(mixed: Any) -> None:
    done, _, root = mixed
    assert (done.images, done.shown, done.checked, done.with_problems) == (7, 7, 7, 5)
    assert done.output == str(root / "page.html") and done.bytes > 5000
    assert done.exit_code == 0


def test_the_summary_shows_the_whole_source_and_says_what_each_count_covers(mixed: Any) -> None:
    _done, page, _root = mixed
    assert _rows(q(page, "//section[@id='images-per-category']//table")[0]) == {"cat": 2}
    assert _rows(q(page, "//section[@id='boxes-per-label']//table")[0]) == {"cat": 4, "dog": 3}
    assert _rows(q(page, "//section[@id='boxes-per-image']//table")[0]) == {
        "0": 3, "1": 2, "2": 1, "3\u20134": 1}
    assert _rows(q(page, "//section[@id='image-sizes']//table")[0]) == {
        "100\u00d780": 1, "60\u00d740": 1, "30\u00d730": 1, "50\u00d750": 1, "40\u00d740": 1,
        "20\u00d720": 1}
    sizes_scope = q(page, f"//section[@id='image-sizes']//p[{cls('scope')}]")[0].text_content()
    assert "As the source states them, for 6 of its 7 images" in sizes_scope
    problems = {row.get("data-code"): (int(row.get("data-reader")), int(row.get("data-check")))
                for row in q(page, "//section[@id='problems-per-code']//tr[@data-code]")}
    assert problems == {
        "coco.bad_size": (1, 0), "coco.unknown_category": (1, 0), "coco.unknown_image": (1, 0),
        "box.outside": (0, 1), "image.missing": (0, 1), "image.unsupported": (0, 1)}
    scope = q(page, f"//section[@id='problems-per-code']//p[{cls('scope')}]")[0].text_content()
    assert "over all 7 images" in scope and "over the 7 images checked" in scope
    text = page.text_content()
    assert "7 of 7, sampled by category" in text
    assert "no-boxes" not in lxml.html.tostring(page).decode()


def test_each_figure_shows_what_the_upload_sends(mixed: Any) -> None:
    _done, page, _root = mixed
    figures = {f.get("data-name"): f for f in q(page, f"//figure[{cls('item')}]")}
    assert list(figures) == ["a.jpg", "b.jpg", "c.png", "missing.jpg", "broken.jpg", "d.jpg",
                             "e.jpg"]  # the source's order
    for name, boxes in EXPECTED_BOXES.items():
        assert _boxes(figures[name]) == boxes, name
        assert "sent: yes" in figures[name].text_content()
    assert figures["b.jpg"].get("data-problems") == "box.outside"
    assert figures["b.jpg"].get("data-category") == "cat"
    assert "were clipped to the image" in figures["b.jpg"].text_content()
    assert figures["d.jpg"].get("data-problems") == "coco.bad_size"
    assert figures["a.jpg"].get("data-problems") == "" and figures["a.jpg"].get(
        "data-labels") == "cat dog"
    # The picture is the image itself, in its stored frame, embedded.
    svg = q(figures["a.jpg"], ".//svg")[0]
    assert svg.get("viewbox") == "0 0 100 80"
    href = q(svg, ".//image")[0].get("href")
    assert href.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))) as thumb:
        assert thumb.size == (100, 80)


def test_items_that_are_not_sent_say_so_with_a_placeholder(mixed: Any) -> None:
    _done, page, _root = mixed
    figures = {f.get("data-name"): f for f in q(page, f"//figure[{cls('item')}]")}
    for name, code in (("missing.jpg", "image.missing"), ("broken.jpg", "image.unsupported"),
                       ("e.jpg", "coco.unknown_category")):
        figure = figures[name]
        assert figure.get("data-problems") == code, name
        assert "sent: no" in figure.text_content()
        assert q(figure, f".//li[{cls('error')} and @data-code='{code}']"), name
        href = q(figure, ".//svg//image")[0].get("href")
        assert href.startswith("data:image/svg+xml;base64,")
        assert f"no picture ({code})" in base64.b64decode(href.split(",", 1)[1]).decode()
    # The size the source states frames the placeholder and its boxes (as checked).
    assert q(figures["missing.jpg"], ".//svg")[0].get("viewbox") == "0 0 50 50"
    assert _boxes(figures["missing.jpg"]) == [("cat", 1, 1, 6, 6)]


def test_the_page_is_one_file_that_needs_no_network(mixed: Any) -> None:
    _, _, root = mixed
    text = (root / "page.html").read_text(encoding="utf-8")
    # Nothing is fetched: no src/href other than data: URIs, no http(s) reference at all.
    assert re.findall(r'(?:src|href)="(?!data:)[^"]*"', text) == []
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    assert "one self-contained file" in text and "attach it to a ticket" in text


def test_filters_list_what_is_shown(mixed: Any) -> None:
    _done, page, _root = mixed
    categories = [o.get("value") for o in q(page, "//select[@id='filter-category']/option")]
    problems = [o.get("value") for o in q(page, "//select[@id='filter-problem']/option")]
    assert categories == ["", "cat", "dog"]
    assert problems == ["", "box.outside", "coco.bad_size", "coco.unknown_category",
                        "image.missing", "image.unsupported", "*", "-"]


def test_annotations_none_sends_and_draws_no_box(tmp_path: Path) -> None:
    config = write_mixed_coco(tmp_path)
    config["annotations"] = "none"
    done = osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "none.html")
    page = _page(tmp_path / "none.html")
    assert "no box reaches OSAI" in q(page, "//*[@id='no-boxes']")[0].text_content()
    figures = {f.get("data-name"): f for f in q(page, f"//figure[{cls('item')}]")}
    assert all(_boxes(f) == [] for f in figures.values())
    assert "sends no annotation; its 2 box(es) are not sent" in figures["a.jpg"].text_content()
    # The summary still counts what the source holds.
    assert _rows(q(page, "//section[@id='boxes-per-label']//table")[0]) == {"cat": 4, "dog": 3}
    assert done.shown == 7


def test_an_encoder_that_fails_is_shown_on_its_item(tmp_path: Path) -> None:
    (tmp_path / "grumpy.py").write_text(GRUMPY, encoding="utf-8")
    config = write_mixed_coco(tmp_path)
    config.update(annotations={"type": "grumpy"}, plugins=["grumpy.py"])
    done = osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "g.html")
    page = _page(tmp_path / "g.html")
    figures = {f.get("data-name"): f for f in q(page, f"//figure[{cls('item')}]")}
    assert figures["a.jpg"].get("data-problems") == "annotation.encode"
    text = figures["a.jpg"].text_content()
    assert "encoder 'grumpy' failed on a.jpg: ValueError: two labels" in text
    assert "sent: no" in text
    assert figures["b.jpg"].get("data-problems") == "box.outside"  # one label: encoded
    # The encoder's problems count with the check's.
    row = q(page, "//tr[@data-code='annotation.encode']")[0]
    assert row.get("data-check") == "2"  # a.jpg and d.jpg have two labels
    assert done.with_problems == 6


GRUMPY = '''
from osai_import import Annotation, Encoder, hookimpl


class Grumpy(Encoder):
    """Write the labels as JSON; refuse images with two labels."""

    name = "grumpy"

    def encode(self, record):
        labels = sorted({box.label for box in record.boxes})
        if len(labels) > 1:
            raise ValueError("two labels")
        return Annotation(7, repr(labels).encode())


@hookimpl
def register_encoders(register):
    register(Grumpy)
'''


def test_a_large_source_is_sampled_and_every_category_shown(tmp_path: Path) -> None:
    images = tmp_path / "images"
    coloured(images / "one.jpg", 16, 16)
    listed, annotations = [], []
    for n in range(300):
        listed.append({"id": n + 1, "file_name": "one.jpg" if n == 0 else f"x{n}.jpg",
                       "width": 16, "height": 16})
        category = 3 if n == 150 else 1 + n % 2
        annotations.append({"id": n + 1, "image_id": n + 1, "category_id": category,
                            "bbox": [1, 1, 4, 4], "iscrowd": 0, "area": 16})
    (tmp_path / "c.json").write_text(json.dumps({
        "images": listed, "annotations": annotations,
        "categories": [{"id": 1, "name": "odd"}, {"id": 2, "name": "even"},
                       {"id": 3, "name": "rare"}]}), encoding="utf-8")
    config = {"dataset": {"name": "big"},
              "source": {"type": "coco", "path": "c.json", "images": "images"}}
    done = osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "p.html", limit=9)
    page = _page(tmp_path / "p.html")
    labels = [f.get("data-labels") for f in q(page, f"//figure[{cls('item')}]")]
    assert len(labels) == 9 and done.shown == 9 and done.images == 300
    assert labels.count("rare") == 1 and labels.count("odd") == 4 and labels.count("even") == 4
    assert done.checked == 9  # only the sample is checked
    assert "9 of 300, sampled by category" in page.text_content()
    # The check's problems cover the 9 images checked (8 of them missing), the summary all.
    row = q(page, "//tr[@data-code='image.missing']")[0]
    assert int(row.get("data-check")) == sum("x" in f.get("data-name")
                                              for f in q(page, f"//figure[{cls('item')}]"))
    assert _rows(q(page, "//section[@id='boxes-per-label']//table")[0]) == {"odd": 149, "even": 150,
                                                                  "rare": 1}


def test_only_problems_checks_everything_and_shows_the_items_with_one(tmp_path: Path) -> None:
    config = write_mixed_coco(tmp_path)
    done = osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "p.html",
                               only_problems=True)
    page = _page(tmp_path / "p.html")
    names = [f.get("data-name") for f in q(page, f"//figure[{cls('item')}]")]
    assert names == ["b.jpg", "missing.jpg", "broken.jpg", "d.jpg", "e.jpg"]
    assert all(f.get("data-problems") for f in q(page, f"//figure[{cls('item')}]"))
    assert (done.shown, done.checked, done.images) == (5, 7, 7)
    assert "5 of the images with a problem (all 7 images checked)" in page.text_content()
    limited = osai_import.preview(config, base_dir=tmp_path, output=tmp_path / "q.html",
                                  only_problems=True, limit=2)
    assert limited.shown == 2 and limited.checked == 7
