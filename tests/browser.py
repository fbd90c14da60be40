"""Drive Debian's Chromium headless through selenium, and read drawn boxes back from the DOM.

``chromium_driver()`` starts Chromium with the system's chromedriver (no display, no
network fetches of drivers); ``drawn(driver)`` returns every figure of a page drawn by
``osai_import.pictures`` with its boxes measured on screen and mapped back to image
pixels, so a test compares what the browser drew with the ground truth;
``screenshot(driver, name)`` keeps a PNG as a test artifact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Screenshots land here (CI keeps the folder as the run's artifacts).
ARTIFACTS = Path(os.environ.get("OSAI_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))

_INSTALL = (
    "the browser tests need Chromium and its driver: on Debian or Ubuntu "
    "`apt-get install chromium chromium-driver` (scripts/check does it when it runs as root); "
    "elsewhere install Chromium and chromedriver of the same version and set OSAI_CHROMIUM "
    "and OSAI_CHROMEDRIVER to their paths"
)


def _find(env: str, *names: str) -> str:
    given = os.environ.get(env)
    if given:
        return given
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{names[0]} not found: {_INSTALL}", pytrace=False)


def chromium_driver(width: int = 1400, height: int = 1000) -> Any:
    """Start headless Chromium; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = _find("OSAI_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_path = _find("OSAI_CHROMEDRIVER", "chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="osai-chromium-")
    # The flags keep Chromium from reaching out to the network at start (which a closed
    # network refuses, slowly) and let it run as root without a display.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    return driver


@dataclass(frozen=True)
class DrawnRect:
    """A box as Chromium drew it, mapped back to the image's pixels."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class DrawnFigure:
    """A figure as Chromium rendered it."""

    name: str
    hidden: bool
    width: int  # the picture's frame (image pixels)
    height: int
    scale: float  # screen pixels per image pixel
    category: str
    problems: str
    rects: list[DrawnRect]


_MEASURE = """
return Array.from(document.querySelectorAll('figure.item')).map(function(f){
  var svg=f.querySelector('svg.picture'), s=svg.getBoundingClientRect(),
      vb=svg.viewBox.baseVal;
  return {name:f.dataset.name, hidden:f.hidden, category:f.dataset.category||'',
    problems:f.dataset.problems||'', svg:[s.x,s.y,s.width,s.height], vb:[vb.width,vb.height],
    rects:Array.from(svg.querySelectorAll('rect.box')).map(function(r){
      var b=r.getBoundingClientRect();
      return [r.dataset.label,b.x,b.y,b.width,b.height];})};
});
"""


def drawn(driver: Any) -> list[DrawnFigure]:
    """Return every ``figure.item`` of the page with its boxes in image pixels.

    Each box is measured with ``getBoundingClientRect`` (what is on screen) and mapped
    back through the picture's on-screen size and position; ``preserveAspectRatio``
    is ``xMidYMid meet``, so the frame is scaled uniformly and centred.
    """
    figures = []
    for raw in driver.execute_script(_MEASURE):
        x, y, w, h = raw["svg"]
        vw, vh = raw["vb"]
        scale = min(w / vw, h / vh) if vw and vh else 0.0
        ox = x + (w - vw * scale) / 2
        oy = y + (h - vh * scale) / 2
        rects = []
        for label, rx, ry, rw, rh in raw["rects"]:
            if scale:
                rects.append(DrawnRect(label, (rx - ox) / scale, (ry - oy) / scale,
                                       (rx + rw - ox) / scale, (ry + rh - oy) / scale))
        figures.append(DrawnFigure(raw["name"], bool(raw["hidden"]), int(vw), int(vh), scale,
                                   raw["category"], raw["problems"], rects))
    return figures


def tolerance(figure: DrawnFigure) -> float:
    """Return how far (in image pixels) a drawn edge may be from its number.

    The browser lays out at sub-pixel precision; one screen pixel of rounding is one
    image pixel divided by the scale, and never less than one image pixel.
    """
    return max(1.0, 1.0 / figure.scale) if figure.scale else float("inf")


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-page PNG of what Chromium shows as ``ARTIFACTS/name.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    width = int(driver.execute_script("return document.documentElement.scrollWidth"))
    driver.set_window_size(max(width, 800), min(max(height, 600), 8000))
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"Chromium wrote no screenshot to {path}")
    assert path.stat().st_size > 1000, f"{path} is too small to be a screenshot"
    return path


def select(driver: Any, element_id: str, value: str) -> None:
    """Choose ``value`` in the ``<select id=element_id>`` as a user would (fires change)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)
