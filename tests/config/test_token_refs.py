"""The access token's variable may not be referenced anywhere in a config.

The tool reads the token from the environment itself; a `${OSAI_TOKEN}` in another field
(a dataset's name, a path) would print it or store it on the server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from osai_import.config.file import substitute_env
from osai_import.config.resolve import load_config
from osai_import.errors import ConfigError

SECRET = "sk-live-9f8e7d6c5b4a3210"
SOURCE = "source: {type: folder, path: .}\n"


def write(tmp_path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold a token in the usual variable, and one in another."""
    monkeypatch.setenv("OSAI_TOKEN", SECRET)
    monkeypatch.setenv("MY_TOKEN", SECRET)


def test_the_token_in_a_dataset_name_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: {name: 'run-${OSAI_TOKEN}-${OSAI_TOKEN}'}\n" + SOURCE)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.lines == [
        "dataset.name: ${OSAI_TOKEN} is the access token's variable (server.token_env); the "
        "token belongs in the environment only and osai-import reads it there itself, so no "
        "config value may hold it: remove this reference"]
    assert SECRET not in str(caught.value) and SECRET[:8] not in str(caught.value)


@pytest.mark.parametrize("reference", ["${OSAI_TOKEN:-none}", "${OSAI_TOKEN:-}"])
def test_a_default_does_not_make_it_acceptable(tmp_path: Path, reference: str) -> None:
    path = write(tmp_path, f"dataset: {{name: d}}\nsource: {{type: folder, path: '{reference}'}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.lines) == 1
    assert caught.value.lines[0].startswith("source.path: ${OSAI_TOKEN} is the access token's")


def test_it_is_refused_even_when_the_variable_is_unset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSAI_TOKEN")
    path = write(tmp_path, "dataset: {name: 'x-${OSAI_TOKEN}'}\n" + SOURCE)
    with pytest.raises(ConfigError, match="access token's variable") as caught:
        load_config(path)
    assert "is not set" not in str(caught.value)


def test_the_variable_is_the_one_token_env_names(tmp_path: Path) -> None:
    config = ("server: {url: 'http://10.0.0.2/api', token_env: MY_TOKEN}\n"
              "dataset: {name: '${MY_TOKEN}'}\n" + SOURCE)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, config))
    assert caught.value.lines[0].startswith("dataset.name: ${MY_TOKEN} is the access token's")
    # OSAI_TOKEN is then just another variable.
    config = ("server: {url: 'http://10.0.0.2/api', token_env: MY_TOKEN}\n"
              "dataset: {name: 'd-${OSAI_TOKEN}'}\n" + SOURCE)
    assert load_config(write(tmp_path, config)).config.dataset.name == f"d-{SECRET}"


def test_other_variables_and_the_escape_still_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSAI_TEST_NAME", "birds")
    path = write(tmp_path, "dataset: {name: '${OSAI_TEST_NAME}-$${OSAI_TOKEN}'}\n" + SOURCE)
    assert load_config(path).config.dataset.name == "birds-${OSAI_TOKEN}"


def test_every_reference_is_named_with_the_other_problems() -> None:
    tree = {"dataset": {"name": "${OSAI_TOKEN}"}, "upload": {"journal": "${OSAI_TEST_MISSING}"},
            "plugins": ["${OSAI_TOKEN}"]}
    with pytest.raises(ConfigError) as caught:
        substitute_env(tree, token_env="OSAI_TOKEN")
    assert [line.split(":")[0] for line in caught.value.lines] == [
        "dataset.name", "upload.journal", "plugins.0"]
    assert substitute_env(tree["dataset"]) == {"name": SECRET}  # no token_env: as before


def test_the_cli_prints_the_line_and_never_the_token(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: {name: '${OSAI_TOKEN}'}\n" + SOURCE)
    run = subprocess.run([sys.executable, "-m", "osai_import", "check", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("dataset.name: ${OSAI_TOKEN} is the access token's variable")
    assert SECRET[:8] not in run.stderr and SECRET[-8:] not in run.stderr
