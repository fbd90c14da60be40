"""`osai-import preview` as a user types it: exit codes, -o, the atomic write, bad configs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import osai_import
from osai_import.cli import cli
from osai_import.errors import LocalFileError
from osai_import.preview import make
from tests.support import CONFIGS


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "osai_import", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """Return a copy of the quickstart's config, with its photos beside it."""
    shutil.copytree(CONFIGS / "examples" / "quickstart", tmp_path / "examples" / "quickstart")
    return Path(shutil.copy(CONFIGS / "quickstart.yaml", tmp_path / "quickstart.yaml"))


def test_preview_writes_the_page_and_says_where(quickstart: Path, tmp_path: Path) -> None:
    done = _cli("preview", str(quickstart), "-o", "pages/fruit.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "pages" / "fruit.html"
    assert page.is_file()
    assert f"wrote {Path('pages/fruit.html')}" in done.stdout
    assert "12 images of 12" in done.stdout
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count('<figure class="item"') == 12
    # Nothing else was written beside it, and nothing was sent.
    assert sorted(p.name for p in page.parent.iterdir()) == ["fruit.html"]
    assert not (tmp_path / ".osai-local").exists()
    assert not (tmp_path / ".osai-import").exists()


def test_the_default_output_is_preview_html_in_the_current_folder(quickstart: Path,
                                                                  tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = _cli("preview", str(quickstart), "--limit", "3", cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "preview.html").read_text(encoding="utf-8").count('<figure class="item"') == 3
    assert "3 images of 12" in done.stdout


def test_a_bad_config_exits_2_naming_the_key_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"source": {"type": "folder", "path": "nowhere"},
                                      "upload": {"workerz": 2}}), encoding="utf-8")
    done = _cli("preview", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "dataset" in done.stderr and "upload.workerz" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "preview.html").exists()
    missing = _cli("preview", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


def test_a_folder_as_output_is_refused_clearly(quickstart: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    done = _cli("preview", str(quickstart), "-o", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "'out' is a directory" in done.stderr
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(LocalFileError, match="is a folder; give the preview file's own path"):
        osai_import.preview(quickstart, output=tmp_path / "out")


def test_options_are_checked_and_help_says_only_problems_is_slower(quickstart: Path,
                                                                    tmp_path: Path) -> None:
    runner = CliRunner()
    zero = runner.invoke(cli, ["preview", str(quickstart), "--limit", "0"])
    assert zero.exit_code == 2 and "--limit" in zero.output
    shown = runner.invoke(cli, ["preview", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    assert "slower: every image is opened" in shown.output
    assert "--seed" in shown.output and "preview.html" in shown.output
    with pytest.raises(osai_import.ConfigError, match="limit"):
        osai_import.preview(quickstart, limit=0)


def test_the_page_is_written_whole_or_not_at_all(quickstart: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "preview.html"
    page.write_text("the previous preview\n", encoding="utf-8")
    drawn = 0
    real = make._figure

    def failing(pair: Any) -> str:
        nonlocal drawn
        drawn += 1
        if drawn == 5:
            raise OSError(28, "No space left on device")
        return real(pair)

    monkeypatch.setattr(make, "_figure", failing)
    with pytest.raises(LocalFileError) as caught:
        osai_import.preview(quickstart, output=page)
    assert str(caught.value).startswith(f"{page}: the preview page could not be written "
                                        "(the disk is full)")
    assert drawn >= 5
    assert page.read_text(encoding="utf-8") == "the previous preview\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples", "preview.html",
                                                          "quickstart.yaml"]
    monkeypatch.undo()
    done = osai_import.preview(quickstart, output=page)
    assert done.shown == 12 and page.read_text(encoding="utf-8").count("<figure") == 12
    assert oct(page.stat().st_mode & 0o777) == oct(0o644)  # kept from the previous file


def test_two_previews_of_the_same_data_are_the_same(quickstart: Path, tmp_path: Path) -> None:
    first = osai_import.preview(quickstart, output=tmp_path / "1.html", limit=5)
    second = osai_import.preview(quickstart, output=tmp_path / "2.html", limit=5)
    other = osai_import.preview(quickstart, output=tmp_path / "3.html", limit=5, seed=7)
    assert (first.shown, first.images) == (second.shown, second.images) == (5, 12)
    one = (tmp_path / "1.html").read_bytes()
    assert one == (tmp_path / "2.html").read_bytes()
    assert one != (tmp_path / "3.html").read_bytes()
    assert other.shown == 5 and other.seed == 7


def test_no_token_is_needed_nor_shown(quickstart: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(quickstart.read_text(encoding="utf-8"))
    config["server"] = {"region": "eu"}  # OSAI itself: preview must not reach it
    quickstart.write_text(yaml.safe_dump(config), encoding="utf-8")
    secret = "preview-secret-token-0042"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OSAI_TOKEN": secret}
    done = subprocess.run([sys.executable, "-m", "osai_import", "preview", str(quickstart),
                           "-o", "p.html"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    assert secret not in (tmp_path / "p.html").read_text(encoding="utf-8")
    unset = {k: v for k, v in env.items() if k != "OSAI_TOKEN"}
    again = subprocess.run([sys.executable, "-m", "osai_import", "preview", str(quickstart),
                            "-o", "q.html"], cwd=tmp_path, env=unset, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
