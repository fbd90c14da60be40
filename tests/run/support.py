"""Helpers for the engine tests: datasets on disk, configs, and what the server stored."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import requests
import yaml

from osai_import.emulator import LocalServer
from tests.support import make_image

TOKEN = "engine-test-token"


def make_folder_dataset(root: Path, count: int, classes: int = 3, boxes: bool = True) -> list[str]:
    """Write ``count`` small real JPEGs in class folders, with a VOC sidecar on every other one."""
    rng = random.Random(count)
    names = []
    for n in range(count):
        cls = f"class_{n % classes}"
        name = f"img_{n:05d}.jpg"
        w, h = 24 + n % 9, 16 + n % 7
        make_image(root / cls / name, w, h, (rng.randrange(256), rng.randrange(256), 90))
        if boxes and n % 2 == 0:
            (root / cls / f"img_{n:05d}.xml").write_text(
                f"<annotation><size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
                "<object><name>thing</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
                f"<xmax>{w - 1}</xmax><ymax>{h - 1}</ymax></bndbox></object></annotation>"
            )
        names.append(name)
    return names


def write_config(path: Path, **sections: Any) -> Path:
    """Write a YAML config; sections are merged over a folder-reader default."""
    data: dict[str, Any] = {
        "dataset": {"name": "engine-test"},
        "source": {"type": "folder", "path": "data"},
        "annotations": {"type": "voc"},
    }
    data.update(sections)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stored(server: LocalServer, dataset_id: Any) -> dict[str, Any]:
    """Return what the server holds for a dataset (the inspection API)."""
    answer = requests.get(f"{server.root_url}/_emulator/datasets/{dataset_id}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def datasets(server: LocalServer) -> list[dict[str, Any]]:
    """Return the server's datasets."""
    answer = requests.get(f"{server.root_url}/_emulator/datasets", timeout=30)
    answer.raise_for_status()
    return answer.json()
