"""`osai-import detect` and `init` on real datasets other tools wrote, then `run` as is.

Each dataset of tests/data/realdata (copied from public repositories, see its
LICENSE-NOTICE.md) is copied without its ORACLE.json, detected, given a config by
`init`, and uploaded with `run` to the embedded local server, all through the CLI as a
user types it. What the server stores must be what the established parsers read
(ORACLE.json): every image, and its boxes within a pixel (after the check's clipping to
the image, which the oracles do not do, and without COCO's crowd regions, which the coco
reader leaves out by default).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from osai_import.testing import local_server
from osai_import.testing.s3 import LocalS3
from tests.support import REALDATA, clipped, oracle

EXPECTED = {
    "datumaro_coco_instances": "coco",
    "datumaro_roboflow_coco": "coco",
    "sahi_terrain_coco": "coco",
    "datumaro_csv_detection": "csv",
    "datumaro_csv_classification": "csv",
    "datumaro_vott_csv": "csv",
    "datumaro_roboflow_multiclass_csv": "csv",
    "datumaro_imagenet": "folder",
    "datumaro_imagenet_subsets": "folder",
    "datumaro_voc1": "voc",
    "datumaro_voc3": "voc",
    "datumaro_roboflow_voc": "voc",
    "datumaro_yolo_strict": "yolo",
    "datumaro_yolo_labels": "yolo",
    "datumaro_roboflow_yolo": "yolo",
}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "osai_import", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _copy(name: str, tmp_path: Path) -> Path:
    return shutil.copytree(REALDATA / name, tmp_path / name,
                           ignore=shutil.ignore_patterns("ORACLE.json"))


def _close(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and all(math.isclose(p, q, abs_tol=1.0) for p, q in zip(x[1:], y[1:],
                                                                          strict=True))
        for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detect_names_the_layout_first(name: str, tmp_path: Path) -> None:
    data = _copy(name, tmp_path)
    done = _cli("detect", str(data), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)["verdicts"]
    best = verdicts[0]
    assert best["reader"] == EXPECTED[name], [
        (v["reader"], v["confidence"], v["reasons"][:2]) for v in verdicts[:3]]
    assert best["matches"] and best["reasons"] and best["sources"]


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"datumaro_voc2_noimages"}))
def test_init_then_run_uploads_what_the_dataset_holds(name: str, tmp_path: Path) -> None:
    data = _copy(name, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    made = _cli("init", str(data), "-o", "upload.yaml", cwd=work)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((work / "upload.yaml").read_text(encoding="utf-8"))
    sources = config["source"] if isinstance(config["source"], list) else [config["source"]]
    assert {s["type"] for s in sources} == {EXPECTED[name]}
    ran = _cli("run", "upload.yaml", cwd=work)
    with local_server(work / ".osai-local") as server:
        (listed,) = requests.get(f"{server.root_url}/_emulator/datasets", timeout=10).json()
        stored = requests.get(f"{server.root_url}/_emulator/datasets/{listed['id']}",
                              timeout=10).json()
    by_name = {image["name"]: image for image in stored["images"]}
    category = {c["id"]: c["name"] for c in stored["categories"]}
    expected = {f: v for f, v in oracle(name).items() if (data / f).is_file()}
    # OSAI keeps one category per image: an image of several classes (and no boxes) is
    # refused by name, never uploaded with one class picked at random.
    several = {f for f, v in expected.items() if len(v["labels"]) > 1 and not v["boxes"]}
    assert ran.returncode == (1 if several else 0), ran.stdout + ran.stderr
    for file in several:
        assert f"{Path(file).name} has several classes" in ran.stderr
        del expected[file]
    assert len(by_name) == len(expected), (sorted(by_name), sorted(expected))
    for file, want in expected.items():
        base = Path(file).name
        names = [n for n in by_name if n in (base, file.replace("/", "_"))] or [
            n for n in by_name if n.endswith("_" + base)]
        assert len(names) == 1, (file, sorted(by_name))
        image = by_name[names[0]]
        got = sorted(((o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"])
                      for o in image["objects"]),
                     key=lambda b: (b[0], *(round(c) for c in b[1:])))
        assert _close(got, clipped(want["boxes"], want["size"])), (file, got, want["boxes"])
        if len(want["labels"]) == 1 and not want["boxes"]:
            assert category.get(image["classifyCategoryId"]) == want["labels"][0], (file, image)


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    data = _copy("datumaro_coco_instances", tmp_path)
    (tmp_path / "mine.yaml").write_text("# my own config\n", encoding="utf-8")
    refused = _cli("init", str(data), "-o", "mine.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert "exists already; choose another -o or add --force" in refused.stderr
    assert (tmp_path / "mine.yaml").read_text(encoding="utf-8") == "# my own config\n"
    forced = _cli("init", str(data), "-o", "mine.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "type: coco" in (tmp_path / "mine.yaml").read_text(encoding="utf-8")


def test_init_on_what_no_reader_knows_says_so_and_writes_nothing(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.md").write_text("# nothing to upload\n", encoding="utf-8")
    done = _cli("init", str(notes), "-o", "c.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "no installed reader recognises this layout" in done.stderr
    assert not (tmp_path / "c.yaml").exists()
    missing = _cli("detect", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_detect_reads_a_zip_and_init_points_into_it(tmp_path: Path) -> None:
    data = _copy("datumaro_roboflow_coco", tmp_path)
    archive = Path(shutil.make_archive(str(tmp_path / "export"), "zip", data))
    shutil.rmtree(data)
    done = _cli("detect", str(archive), "--json", cwd=tmp_path)
    best = json.loads(done.stdout)["verdicts"][0]
    assert best["reader"] == "coco" and len(best["sources"]) == 2, best
    assert all(".zip/" in s["path"] for s in best["sources"])
    assert _cli("init", str(archive), "-o", "c.yaml", cwd=tmp_path).returncode == 0
    ran = _cli("run", "c.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "3 (" in ran.stderr  # images read and uploaded


def test_an_ambiguous_folder_says_which_readers_matched(tmp_path: Path) -> None:
    data = _copy("datumaro_roboflow_multiclass_csv", tmp_path)
    done = _cli("init", str(data), "-o", "c.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "c.yaml").read_text(encoding="utf-8")
    assert "# Reader: csv" in text
    assert "# Other readers that match:" in text and "folder matches too" in text
    assert "note: folder matches too" in done.stderr


def test_detect_and_init_read_a_bucket(osai_s3: LocalS3, tmp_path: Path) -> None:
    url = f"s3://{osai_s3.bucket()}/exports/roboflow"
    data = _copy("datumaro_roboflow_coco", tmp_path)
    osai_s3.put_tree(data, url)
    done = _cli("detect", url, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    best = json.loads(done.stdout)["verdicts"][0]
    assert best["reader"] == "coco" and len(best["sources"]) == 2, best
    assert all(s["path"].startswith(url + "/") for s in best["sources"])
    assert _cli("init", url, "-o", "c.yaml", cwd=tmp_path).returncode == 0
    assert f"path: {url}/train/_annotations.coco.json" in (tmp_path / "c.yaml").read_text()
    ran = _cli("run", "c.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
