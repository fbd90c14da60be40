"""The local server's pages in a real Chromium: stored boxes drawn where the truth says.

Datasets are uploaded for real (the quickstart with `osai-import run`, a COCO and a YOLO
dataset with ``osai_import.upload``) into a data folder, a LocalServer serves that folder,
and Chromium shows its pages: every image is drawn with every stored box on the pixels
the ground truth names (the quickstart's .xml files, the datasets' ORACLE.json), the
filters and the pager show the right images, and names are shown as text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import pytest
import requests

import osai_import
from osai_import.emulator import EmulatorSettings, LocalServer
from tests.browser import DrawnFigure, drawn, screenshot, select, tolerance
from tests.support import REALDATA, oracle

from .support import Api, Img, b64, make_image, voc_xml

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCRIPT = "<script>window.pwned=1</script>"
Box = tuple[str, float, float, float, float]


def wait(driver: Any, condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait until ``condition`` holds, through a navigation; fail saying ``what``."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(
        lambda _: condition(), message=what)


def shown_filter(driver: Any) -> tuple[str, str, str]:
    """Return the category, problem and page the page was drawn for, once it is loaded."""
    category, problem, page = driver.execute_script(
        "var g=document.getElementById('images');"
        "if(document.readyState!=='complete'||!g)return ['?','?','?'];"
        "return [g.dataset.filterCategory,g.dataset.filterProblem,g.dataset.page];")
    return str(category), str(problem), str(page)


def pictures_loaded(driver: Any) -> None:
    """Wait until Chromium has fetched every figure's thumbnail; check each answered 200."""
    count = len(driver.find_elements("css selector", "figure.item"))
    script = ("return performance.getEntriesByType('resource').filter(function(e){"
              "return e.name.indexOf('/thumbnail')>0;}).map(function(e){"
              "return [e.name,e.responseStatus];});")
    wait(driver, lambda: len(driver.execute_script(script)) >= count, "thumbnails to load")
    assert {status for _, status in driver.execute_script(script)} <= {200}


def visible(driver: Any) -> list[DrawnFigure]:
    """Return the figures the page shows (none hidden by a filter)."""
    return [figure for figure in drawn(driver) if not figure.hidden]


def assert_drawn(figure: DrawnFigure, truth: list[Box]) -> None:
    """Check that Chromium drew exactly ``truth``'s boxes, each on its pixels."""
    def key(box: Box) -> tuple[Any, ...]:
        return (box[0], *(round(c) for c in box[1:]))

    seen = sorted(((r.label, r.xmin, r.ymin, r.xmax, r.ymax) for r in figure.rects), key=key)
    want = sorted(truth, key=key)
    assert [b[0] for b in seen] == [b[0] for b in want], (figure.name, seen, want)
    # The stored numbers are the truth's within a pixel (COCO floats written to VOC);
    # the drawing adds its own rounding, one screen pixel.
    limit = tolerance(figure) + 1.0
    for got, expected in zip(seen, want, strict=True):
        for a, b in zip(got[1:], expected[1:], strict=True):
            assert abs(a - b) <= limit, (figure.name, got, expected, limit)


def quickstart_truth() -> dict[str, tuple[str, list[Box]]]:
    """Return {image name: (folder category, boxes of its .xml)} of the quickstart."""
    truth = {}
    for image in sorted((CONFIGS / "examples" / "quickstart").glob("*/*.jpg")):
        boxes: list[Box] = []
        xml = image.with_suffix(".xml")
        if xml.is_file():
            for item in ET.parse(xml).getroot().iter("object"):
                edges = item.find("bndbox")
                assert edges is not None
                boxes.append((str(item.findtext("name")), *(
                    float(edges.findtext(edge) or "nan")
                    for edge in ("xmin", "ymin", "xmax", "ymax"))))  # type: ignore[arg-type]
        truth[image.name] = (image.parent.name, boxes)
    return truth


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run the quickstart as a user does; return its data folder and what the run printed."""
    work = tmp_path_factory.mktemp("quickstart") / "configs"
    shutil.copytree(CONFIGS / "examples" / "quickstart", work / "examples" / "quickstart")
    shutil.copy(CONFIGS / "quickstart.yaml", work)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "osai_import", "run", "quickstart.yaml"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return work / ".osai-local", done.stdout + done.stderr


def test_the_run_points_at_the_dataset_page(quickstart: tuple[Path, str]) -> None:
    data, printed = quickstart
    lines = [line.strip() for line in printed.splitlines()]
    assert f"Look at it: osai-import serve --data {data}" in lines
    assert "then open http://127.0.0.1:8080/datasets/1" in lines
    assert "(as JSON: http://127.0.0.1:8080/_emulator/datasets/1)" in lines


def test_the_quickstart_in_chromium(chromium: Any, quickstart: tuple[Path, str]) -> None:
    truth = quickstart_truth()
    with LocalServer(EmulatorSettings(data_dir=quickstart[0])) as server:
        chromium.get(f"{server.root_url}/")
        link = chromium.find_element("link text", "quickstart-fruit")
        row = chromium.find_element("css selector", 'tr[data-id="1"]').text
        assert "12" in row and "unlocked" in row
        screenshot(chromium, "server-datasets")
        link.click()
        wait(chromium, lambda: shown_filter(chromium) == ("", "", "1"), "the dataset page")
        pictures_loaded(chromium)
        figures = {figure.name: figure for figure in visible(chromium)}
        assert set(figures) == set(truth)  # every image drawn
        for name, (category, boxes) in truth.items():
            assert figures[name].category == category
            assert figures[name].problems == ""
            assert_drawn(figures[name], boxes)
        assert sum(len(boxes) for _, boxes in truth.values()) == 19
        screenshot(chromium, "server-dataset-quickstart")

        # A filter asks the server for page 1 of what it keeps.
        select(chromium, "filter-category", "lemon")
        wait(chromium, lambda: shown_filter(chromium) == ("lemon", "", "1"), "the lemon page")
        assert sorted(f.name for f in visible(chromium)) == sorted(
            name for name, (category, _) in truth.items() if category == "lemon")
        assert all(not f.hidden for f in drawn(chromium))
        select(chromium, "filter-problem", "*")
        wait(chromium, lambda: shown_filter(chromium) == ("lemon", "*", "1"), "no problems")
        assert drawn(chromium) == []
        select(chromium, "filter-category", "")
        wait(chromium, lambda: shown_filter(chromium) == ("", "*", "1"), "any category")
        select(chromium, "filter-problem", "-")
        wait(chromium, lambda: shown_filter(chromium) == ("", "-", "1"), "all without problems")
        assert {f.name for f in visible(chromium)} == set(truth)

        # Pages of 5 in arrival order, through the pager's links.
        order = [i["name"] for i in requests.get(
            f"{server.root_url}/_emulator/datasets/1", timeout=10).json()["images"]]
        chromium.get(f"{server.root_url}/datasets/1?per_page=5")
        seen = []
        for number in ("1", "2", "3"):
            wait(chromium, lambda: shown_filter(chromium)[2] == number,  # noqa: B023
                 f"page {number}")
            pictures_loaded(chromium)
            page = visible(chromium)
            seen.append([f.name for f in page])
            for figure in page:
                assert_drawn(figure, truth[figure.name][1])
            if number != "3":
                chromium.find_element("css selector", "nav.pager a[rel=next]").click()
        assert seen == [order[:5], order[5:10], order[10:]]


def _clip(boxes: list[list[Any]], size: tuple[Any, Any]) -> list[Box]:
    """Clip boxes to the image as the check does; drop those left empty."""
    width, height = size
    out = []
    for label, x1, y1, x2, y2 in boxes:
        x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
        y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
        if x2 > x1 and y2 > y1:
            out.append((label, x1, y1, x2, y2))
    return out


@pytest.mark.parametrize(("name", "source"), [
    ("sahi_terrain_coco", {"type": "coco", "path": "sahi_terrain_coco/combined_coco.json"}),
    ("datumaro_roboflow_yolo", {"type": "yolo", "path": "datumaro_roboflow_yolo/data.yaml"}),
])
def test_a_real_dataset_in_chromium(chromium: Any, tmp_path: Path, name: str,
                                    source: dict[str, str]) -> None:
    copy = tmp_path / "source"
    shutil.copytree(REALDATA / name, copy / name, ignore=shutil.ignore_patterns("ORACLE.json"))
    data = tmp_path / "server"
    report = osai_import.upload({
        "server": {"url": "local", "data": str(data)}, "dataset": {"name": name},
        "source": source, "annotations": {"type": "voc"}}, base_dir=copy, progress=False)
    truth = oracle(name)
    assert report.uploaded == len(truth)
    with LocalServer(EmulatorSettings(data_dir=data)) as server:
        chromium.get(f"{server.root_url}/datasets/{report.dataset_id}")
        pictures_loaded(chromium)
        figures = visible(chromium)
        assert len(figures) == len(truth)
        for file, want in truth.items():
            base = Path(file).name
            (figure,) = [f for f in figures if f.name in (base, file.replace("/", "_"))
                         or f.name.endswith("_" + base)]
            assert (figure.width, figure.height) == want["size"]
            assert_drawn(figure, _clip(want["boxes"], want["size"]))
        screenshot(chromium, f"server-dataset-{name}")


def test_names_are_text_and_a_locked_dataset_shows_it(chromium: Any, api: Api,
                                                      server: LocalServer) -> None:
    dataset = api.dataset(f"evil {SCRIPT}")
    category = api.category(dataset, f"cat {SCRIPT}")
    session = api.start(dataset)
    name = f"{SCRIPT}.jpg"
    image = Img(name, make_image(width=64, height=48), category=category,
                annotation=b64(voc_xml(escape(name), 64, 48,
                                       [(escape(f"cat {SCRIPT}"), 8, 6, 40, 30)])))
    assert api.chunk(dataset, session, [image]).status_code == 200
    # No FinishUploading: the client was killed, and the dataset stays locked.

    chromium.get(f"{server.root_url}/")
    row = chromium.find_element("css selector", f'tr[data-id="{dataset}"]')
    assert f"evil {SCRIPT}" in row.text
    lock = row.find_element("css selector", ".locked")
    assert lock.text.startswith(f"locked by upload session {session} until ")
    screenshot(chromium, "server-datasets-locked")
    assert chromium.execute_script("return window.pwned") is None

    chromium.get(f"{server.root_url}/datasets/{dataset}")
    pictures_loaded(chromium)
    assert chromium.execute_script("return window.pwned") is None
    assert chromium.find_element("css selector", "h1").text.startswith(f"evil {SCRIPT}")
    assert "locked by upload session" in chromium.find_element(
        "css selector", 'tr[data-fact="lock"]').text
    (figure,) = drawn(chromium)
    assert (figure.name, figure.problems) == (name, "")
    assert_drawn(figure, [(f"cat {SCRIPT}", 8, 6, 40, 30)])
    # The name is a filter value like any other, and comes back as the same text.
    select(chromium, "filter-category", "cat%20%3Cscript%3Ewindow.pwned%3D1%3C%2Fscript%3E")
    wait(chromium, lambda: shown_filter(chromium)[0] != "", "the filtered page")
    assert [f.name for f in visible(chromium)] == [name]
    assert chromium.execute_script("return window.pwned") is None
    assert f"with category or box label cat {SCRIPT}" in chromium.find_element(
        "css selector", "p.note").text
