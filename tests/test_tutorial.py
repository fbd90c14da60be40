"""docs/writing-plugins.md, run as written: its package installed, its tests, its config.

Every file the tutorial shows is a fenced block after a ``<!-- file: PATH -->`` line.
The test writes them out as the reader would, installs the package the way pip lays it
out (the module plus a ``.dist-info`` declaring its entry point, in a folder of its own,
so no other test sees the plugin), runs the tutorial's own test file with pytest, and
runs its config with the CLI against the embedded local server, from the folder and
from a zip as the config's comments say.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from osai_import.testing import local_server
from tests.dists import env_with, write_dist

TUTORIAL = Path(__file__).parents[1] / "docs" / "writing-plugins.md"
_FILE = re.compile(r"^<!-- file: (\S+) -->\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def tutorial_files() -> dict[str, str]:
    """Return {path: text} of every file the tutorial shows."""
    return dict(_FILE.findall(TUTORIAL.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Write the tutorial's package and install it; return (package folder, site folder)."""
    files = tutorial_files()
    package = tmp_path_factory.mktemp("tutorial") / "osai-import-jsonl"
    for relative, text in files.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text, encoding="utf-8")
    project = tomllib.loads(files["pyproject.toml"])["project"]
    site = write_dist(package.parent / "site", project["name"], project["version"],
                      project["entry-points"]["osai_import"], {})
    shutil.copytree(package / "src" / "osai_import_jsonl", site / "osai_import_jsonl")
    return package, site


def test_the_tutorial_shows_every_file_of_its_package() -> None:
    assert sorted(tutorial_files()) == [
        "jsonl.yaml", "pyproject.toml", "src/osai_import_jsonl/__init__.py", "tests/test_jsonl.py"]


def test_the_tutorials_tests_pass(tutorial: tuple[Path, Path]) -> None:
    package, site = tutorial
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(package)],
        cwd=package, env=env_with(site), capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed is not None and int(passed.group(1)) >= 18, done.stdout[-2000:]
    assert "failed" not in done.stdout and "skipped" not in done.stdout


def _export(root: Path) -> dict[str, Any]:
    """Write my-export/ as section 5 describes it; return what the server should hold."""
    lines = []
    for stem, size in {"a": (40, 30), "b": (24, 20)}.items():
        (root / "photos").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (90, 90, 200)).save(root / "photos" / f"{stem}.jpg", "JPEG")
        lines.append(json.dumps({"image": f"photos/{stem}.jpg", "label": "street",
                                 "boxes": [{"label": "car", "x": 2, "y": 3, "w": 10, "h": 5}]}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"a.jpg": [["car", 2, 3, 12, 8]], "b.jpg": [["car", 2, 3, 12, 8]]}


def _stored(data: Path) -> dict[str, Any]:
    with local_server(data) as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        dataset = requests.get(f"{server.root_url}/_emulator/datasets/{listed['id']}",
                               timeout=10).json()
    return {image["name"]: [[o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"]]
                            for o in image["objects"]] for image in dataset["images"]}


@pytest.mark.parametrize("where", ["folder", "zip"])
def test_the_tutorials_config_uploads_with_the_cli(
        tutorial: tuple[Path, Path], tmp_path: Path, where: str) -> None:
    _package, site = tutorial
    config = tmp_path / "jsonl.yaml"
    text = tutorial_files()["jsonl.yaml"]
    expected = _export(tmp_path / "my-export")
    if where == "zip":
        with zipfile.ZipFile(tmp_path / "my-export.zip", "w") as out:
            for path in sorted((tmp_path / "my-export").rglob("*")):
                out.write(path, path.relative_to(tmp_path / "my-export").as_posix())
        shutil.rmtree(tmp_path / "my-export")
        # The config's own comment: "path: my-export.zip/manifest.jsonl ... or inside a zip"
        text = re.sub(r"\n  path: my-export/manifest.jsonl[^\n]*\n  # (path: my-export.zip\S+)",
                      r"\n  \1", text)
        assert "  path: my-export.zip/manifest.jsonl" in text
    config.write_text(text, encoding="utf-8")
    for command in ("check", "run"):
        done = subprocess.run(
            [sys.executable, "-m", "osai_import", command, str(config)], env=env_with(site),
            capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    assert _stored(tmp_path / ".osai-local") == expected
