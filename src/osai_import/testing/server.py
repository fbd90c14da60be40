"""Run configs against the embedded OSAI-compatible server, for tests.

``local_server`` starts the server; ``OsaiUploader`` writes a config and runs it through
the real run engine; the fixtures ``osai_local_server`` and ``osai_uploader`` wrap both.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

_TOKEN_ENV = "OSAI_IMPORT_TESTING_TOKEN"


@contextlib.contextmanager
def local_server(data_dir: Path) -> Iterator[Any]:
    """Run the embedded OSAI-compatible server on loopback, storing into ``data_dir``."""
    from osai_import.emulator import EmulatorSettings, LocalServer

    with LocalServer(EmulatorSettings(data_dir=data_dir)) as server:
        yield server


@dataclass
class UploadResult:
    """What a run reported (``RunReport``) and what the server stored (its inspection JSON)."""

    report: Any
    dataset: dict[str, Any]

    @property
    def images(self) -> list[dict[str, Any]]:
        """Return the stored images, in upload order."""
        return list(self.dataset.get("images", []))

    def boxes(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return ``{image name: sorted [(label, xmin, ymin, xmax, ymax), ...]}`` as stored."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for image in self.images:
            rows = out.setdefault(image["name"], [])
            rows.extend((o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
                        for o in image["objects"])
            rows.sort()
        return out


@dataclass
class OsaiUploader:
    """Run configs against one running local server, through the real run engine."""

    server: Any
    workdir: Path
    _runs: int = field(default=0, init=False)

    def upload(self, source: Mapping[str, Any], *, plugins: Sequence[str] = (),
               annotations: Mapping[str, Any] | None = None,
               check: Mapping[str, Any] | None = None, dataset: str | None = None) -> UploadResult:
        """Write a config for ``source`` (``type`` and options) and run it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "dataset": {"name": dataset or f"conformance-{uuid.uuid4().hex[:8]}"},
            "source": dict(source),
            "annotations": dict(annotations or {"type": "voc"}),
            "check": dict(check or {}),
            "plugins": [str(p) for p in plugins],
        }
        path = self.workdir / f"config-{self._runs}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return self.run_config(path)

    def run_config(self, path: Path) -> UploadResult:
        """Run a config file against this server; its `server:` and journal are replaced."""
        from rich.console import Console

        from osai_import.config.models import ServerConfig
        from osai_import.config.resolve import prepare
        from osai_import.run.context import RunOptions
        from osai_import.run.runner import run

        self._runs += 1
        resolved, _plugins = prepare(path)
        config = resolved.loaded.config
        resolved.loaded.config = config.model_copy(update={
            "server": ServerConfig(url=self.server.base_url, token_env=_TOKEN_ENV),
            "upload": config.upload.model_copy(
                update={"journal": self.workdir / f"journal-{self._runs}"}),
        })
        previous = os.environ.get(_TOKEN_ENV)
        os.environ[_TOKEN_ENV] = self.server.token
        try:
            report = run(resolved, RunOptions(quiet=True), Console(file=io.StringIO()))
        finally:
            if previous is None:
                os.environ.pop(_TOKEN_ENV, None)
            else:
                os.environ[_TOKEN_ENV] = previous
        stored = self.dataset(report.dataset_id) if report.dataset_id is not None else {}
        return UploadResult(report, stored)

    def dataset(self, dataset_id: Any) -> dict[str, Any]:
        """Return everything the server stored for one dataset."""
        url = f"{self.server.root_url}/_emulator/datasets/{dataset_id}"
        answer = requests.get(url, timeout=30)
        answer.raise_for_status()
        return dict(answer.json())


@pytest.fixture
def osai_local_server(tmp_path: Path) -> Iterator[Any]:
    """Yield a started local OSAI server (``LocalServer``) storing into the test's tmp dir."""
    with local_server(tmp_path / "osai-local-server") as server:
        yield server


@pytest.fixture
def osai_uploader(osai_local_server: Any, tmp_path: Path) -> OsaiUploader:
    """Return an :class:`OsaiUploader` bound to ``osai_local_server``."""
    return OsaiUploader(osai_local_server, tmp_path / "osai-uploads")
