"""A restart on the same data folder keeps every dataset, category, session and image."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from osai_import.emulator import EmulatorSettings, LocalServer

from .support import Api, Img, b64, make_image, voc_xml


def test_restart_keeps_everything(settings: EmulatorSettings) -> None:
    image = make_image("png", 12, 8)
    with LocalServer(settings) as first:
        api = Api(first)
        dataset_id = api.dataset("kept")
        category_id = api.category(dataset_id, "cat")
        session_id = api.start(dataset_id)
        answer = api.chunk(dataset_id, session_id, [Img(
            "a.png", data=image, category=category_id,
            annotation=b64(voc_xml("a.png", 12, 8, [("cat", 1, 1, 5, 5)])))])
        assert answer.ok
        before = api.inspect(dataset_id)
        bearer = api.bearer
    assert first.port != 0

    with LocalServer(settings) as second:
        api = Api(second)
        assert api.inspect(dataset_id) == before
        # The session is still open and the old bearer token still works.
        api.bearer = bearer
        assert api.chunk(dataset_id, session_id, [Img("b.jpg")]).ok
        assert api.finish(dataset_id, session_id).ok
        after = api.inspect(dataset_id)
        assert [i["name"] for i in after["images"]] == ["a.png", "b.jpg"]
        assert api.dataset("next") > dataset_id
        stored = Path(settings.data_dir) / "images" / after["images"][0]["file"]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == after["images"][0]["sha256"]
        assert stored.read_bytes() == image


def test_stop_is_clean_and_idempotent(settings: EmulatorSettings) -> None:
    server = LocalServer(settings).start()
    url = server.base_url
    server.stop()
    server.stop()
    with LocalServer(settings, port=int(url.rsplit(":", 1)[1].split("/")[0])) as again:
        assert again.base_url == url


def test_stop_lets_a_running_request_finish(settings: EmulatorSettings) -> None:
    server = LocalServer(settings).start()
    api = Api(server)
    dataset_id = api.dataset()
    session_id = api.start(dataset_id)
    server.settings.latency_ms = 300
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(api.chunk, dataset_id, session_id, [Img("late.jpg")])
        time.sleep(0.1)  # the request is inside the server, sleeping
        server.stop()
        assert pending.result(timeout=10).status_code == 200
    server.settings.latency_ms = 0
    with LocalServer(settings) as again:
        assert [i["name"] for i in Api(again).inspect(dataset_id)["images"]] == ["late.jpg"]


def test_a_busy_port_raises_oserror_not_systemexit(settings: EmulatorSettings,
                                                   tmp_path: Path) -> None:
    with LocalServer(settings) as running:
        other = LocalServer(EmulatorSettings(data_dir=tmp_path / "other"), port=running.port)
        with pytest.raises(OSError):
            other.start()
        other.stop()
