"""Fixtures for the emulator tests: a live server on loopback and a signed-in client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from osai_import.emulator import EmulatorSettings, LocalServer

from .support import TOKEN, Api


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    """Return settings on a fresh data folder with a known token."""
    return EmulatorSettings(data_dir=tmp_path / "osai-data", token=TOKEN)


@pytest.fixture
def server(settings: EmulatorSettings) -> Iterator[LocalServer]:
    """Run a server for one test."""
    with LocalServer(settings) as running:
        yield running


@pytest.fixture
def api(server: LocalServer) -> Iterator[Api]:
    """Return a signed-in client of the test's server."""
    client = Api(server)
    yield client
    client.http.close()


@pytest.fixture
def upload(api: Api) -> tuple[int, int, int]:
    """Return (dataset id, category id, session id) of a dataset ready for chunks."""
    dataset_id = api.dataset("ready")
    category_id = api.category(dataset_id, "cat")
    return dataset_id, category_id, api.start(dataset_id)
