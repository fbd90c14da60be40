"""OSAI's own example client, unmodified, uploads a small dataset to the emulator."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from osai_import.emulator import LocalServer

from .support import Api, make_image, voc_xml

# The `shared` folder sits beside the repository checkout (CI lays it there too).
REFERENCE = Path(__file__).resolve().parents[2] / "../shared/reference"
CLIENT = REFERENCE / "osai_example_client.py"


def load_example_client() -> ModuleType:
    """Import OSAI's example client from ../shared/reference, or skip when it is absent."""
    if not CLIENT.is_file():
        pytest.skip("needs ../shared/reference (OSAI's example client), present in CI")
    spec = importlib.util.spec_from_file_location("osai_example_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_client_uploads_everything(
    server: LocalServer, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = load_example_client()
    work = tmp_path / "work"
    files = {
        "zdj/cat/cat1.jpg": make_image("jpeg", 64, 48, (250, 0, 0)),
        "zdj/cat/cat2.jpg": make_image("jpeg", 40, 30, (0, 250, 0)),
        "zdj/dog/dog1.jpg": make_image("jpeg", 50, 60, (0, 0, 250)),
        "zdj/dog/dog2.png": make_image("png", 20, 10, (9, 9, 9)),
    }
    for relative, data in files.items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_bytes(data)
    # The one sidecar annotation, beside its image, as the example expects it.
    (work / "zdj/cat/cat1.xml").write_text(
        voc_xml("cat1.jpg", 64, 48, [("cat", 5, 6, 30, 40), ("dog", 31, 2, 63, 47)]))
    monkeypatch.chdir(work)
    monkeypatch.setattr(client, "OSAI_URL", server.base_url)
    monkeypatch.setattr(client, "API_TOKEN", server.token)

    client.main()

    printed = capsys.readouterr().out
    assert printed.count("<Response [200]>") == len(files) + 1  # every chunk and the finish
    assert "<Response [4" not in printed and "<Response [5" not in printed
    [listed] = api.http.get(f"{server.root_url}/_emulator/datasets").json()
    assert listed == {"id": listed["id"], "name": "holy_hand_grenade", "locked": False,
                      "images": len(files)}
    stored = api.inspect(listed["id"])
    categories = {c["name"]: c["id"] for c in stored["categories"]}
    assert set(categories) == {"cat", "dog"}
    assert stored["duplicates"] == 0
    assert [s["state"] for s in stored["sessions"]] == ["finished"]
    by_name = {image["name"]: image for image in stored["images"]}
    assert set(by_name) == {Path(p).name for p in files}
    for relative, data in files.items():
        image = by_name[Path(relative).name]
        assert image["size"] == len(data)
        assert image["sha256"] == hashlib.sha256(data).hexdigest()
        assert image["classifyCategoryId"] == categories[Path(relative).parent.name]
    assert (by_name["dog2.png"]["width"], by_name["dog2.png"]["height"]) == (20, 10)
    annotated = by_name["cat1.jpg"]
    assert annotated["annotationType"] == 0
    assert [(o["name"], o["xmin"], o["ymin"], o["xmax"], o["ymax"], o["difficult"],
             o["truncated"]) for o in annotated["objects"]] == [
        ("cat", 5, 6, 30, 40, 0, 0), ("dog", 31, 2, 63, 47, 0, 0)]
    for name in ("cat2.jpg", "dog1.jpg", "dog2.png"):
        assert by_name[name]["annotationType"] is None and by_name[name]["objects"] == []
