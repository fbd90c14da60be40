"""Make the README's screenshots: `preview` of the quickstart, the local server's pages.

Uploads the quickstart to a local server in a temporary folder, writes its preview, and
has headless Chromium (Debian's chromium and chromium-driver, as the browser tests use)
take one picture of each page into docs/images/. Run from the repository root after the
README's test install:

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from osai_import.emulator import EmulatorSettings, LocalServer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
CONFIG = """\
server: {url: local}
dataset: {name: quickstart-fruit}
source: {type: folder, path: examples/quickstart}
annotations: {type: voc}
"""


def _driver(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--hide-scrollbars", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver")
    if not options.binary_location or not driver_path:
        sys.exit("error: Chromium and chromedriver are needed (apt-get install chromium "
                 "chromium-driver)")
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def _osai_import(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "osai_import", *args], cwd=cwd, check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"osai-import {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def main() -> None:
    """Upload, preview, and take the three pictures."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="osai-shots-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "configs" / "examples", work / "examples")
        (work / "quickstart.yaml").write_text(CONFIG, encoding="utf-8")
        _osai_import("preview", "quickstart.yaml", "-o", "preview.html", cwd=work)
        _osai_import("run", "quickstart.yaml", "--quiet", cwd=work)
        driver = _driver(1280, 1000)
        try:
            # Tall enough for the summary and the first row of images.
            driver.set_window_size(1280, 1250)
            driver.get((work / "preview.html").as_uri())
            driver.execute_script("window.scrollTo(0, 240)")
            driver.save_screenshot(str(OUT / "preview.png"))
            with LocalServer(EmulatorSettings(data_dir=work / ".osai-local")) as server:
                driver.set_window_size(1280, 420)
                driver.get(f"{server.root_url}/")
                driver.save_screenshot(str(OUT / "server-datasets.png"))
                driver.set_window_size(1280, 1000)
                driver.get(f"{server.root_url}/datasets/1")
                # The images are the point of the page: scroll to them.
                driver.execute_script(
                    "document.querySelector('.filters').scrollIntoView({block: 'start'})")
                driver.save_screenshot(str(OUT / "server-dataset.png"))
        finally:
            driver.quit()
    for name in ("preview.png", "server-datasets.png", "server-dataset.png"):
        print(OUT / name)


if __name__ == "__main__":
    main()
