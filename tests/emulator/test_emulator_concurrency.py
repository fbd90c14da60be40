"""Many threads sending chunks at once into one session lose nothing."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from osai_import.emulator import LocalServer

from .support import Api, Img, b64, make_image, voc_xml

THREADS = 8
CHUNKS = 50
PER_CHUNK = 2


def test_eight_threads_fifty_chunks_each(server: LocalServer, api: Api) -> None:
    dataset_id = api.dataset("busy")
    category_id = api.category(dataset_id, "cat")
    session_id = api.start(dataset_id)
    sent: dict[str, bytes] = {}
    for worker in range(THREADS):
        for chunk in range(CHUNKS):
            for k in range(PER_CHUNK):
                sent[f"w{worker}-c{chunk}-{k}.jpg"] = make_image(
                    "jpeg", 8 + k, 8, (worker * 30, chunk * 5, k * 100))

    def work(worker: int) -> list[int]:
        """Send this worker's chunks on its own connection pool; return the statuses."""
        client = Api(server)
        statuses = []
        for chunk in range(CHUNKS):
            names = [f"w{worker}-c{chunk}-{k}.jpg" for k in range(PER_CHUNK)]
            images = [Img(name, data=sent[name], category=category_id,
                          annotation=b64(voc_xml(name, 8, 8, [("cat", 0, 0, 4, 4)])))
                      for name in names]
            statuses.append(client.chunk(dataset_id, session_id, images).status_code)
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    assert all(status == 200 for statuses in results for status in statuses)
    stored = api.inspect(dataset_id)
    assert len(stored["images"]) == len(sent) == THREADS * CHUNKS * PER_CHUNK
    assert stored["duplicates"] == 0
    assert stored["sessions"][0]["chunks"] == THREADS * CHUNKS
    for image in stored["images"]:
        assert image["sha256"] == hashlib.sha256(sent[image["name"]]).hexdigest()
        assert len(image["objects"]) == 1
    files = list((Path(server.settings.data_dir) / "images" / str(dataset_id)).iterdir())
    assert len(files) == len(sent)
