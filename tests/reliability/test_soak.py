"""SIGKILL a run again and again at random moments, against a server that loses answers.

At the end, after the runs that finish, the server's contents are counted against the
plan and the last report: every planned image stored, nothing else, and every image
stored twice among those the report flags as possibly duplicated, whichever run's resend
made the copy. The tally is printed in the test summary.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import yaml

from osai_import.emulator import LocalServer
from tests.reliability.support import (
    SOAK,
    assert_complete,
    datasets,
    finish_cli,
    remote_config,
    run_cli,
    start_cli,
    stored,
)
from tests.run.support import make_folder_dataset

KILLS = 14
EMPTY_WARNING = "may also hold an empty dataset named"


def test_repeated_kills_lose_nothing_and_leave_no_copy_unflagged(
    tmp_path: Path, server: LocalServer
) -> None:
    names = make_folder_dataset(tmp_path / "data", 400)
    server.settings.lose_endpoints = frozenset(
        {"UploadChunk", "StartUploading", "FinishUploading"}
    )
    server.settings.lose_rate = 0.15
    server.settings.seed = 11
    server.settings.latency_ms = 40
    server.settings.unlock_after = 1
    config = remote_config(tmp_path, server.base_url, workers=3, chunk_images=6, wait_locked=60)
    rng = random.Random(7)
    killed = 0
    # A kill between POST /Datasets and the journal's note of its id leaves an empty dataset
    # no documented call can find; the next run warns of it (EMPTY_WARNING) and makes another.
    warned = 0
    for _ in range(KILLS):
        proc = start_cli(config)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        ended = finish_cli(proc, timeout=60)
        warned += ended.stderr.count(EMPTY_WARNING)
        if ended.returncode == 3 and "its id is unknown" in ended.stderr:
            config = _with_category_ids(config, server)
    server.settings.lose_rate = 0.0
    final = run_cli(config, timeout=300)
    if final.returncode == 3 and "its id is unknown" in final.stderr:
        config = _with_category_ids(config, server)
        final = run_cli(config, timeout=300)
    warned += final.stderr.count(EMPTY_WARNING)
    final.assert_clean()
    assert final.returncode == 0, final.stderr
    assert final.report is not None
    data = assert_complete(server, final.report, names, warned_empty=warned)
    held = Counter(i["name"] for i in data["images"])
    copies = sum(held.values()) - len(held)
    flagged = {row["name"] for row in final.report["possibly_duplicated"]}
    doubled = {name for name, n in held.items() if n > 1}
    assert doubled <= flagged, f"unflagged copies: {sorted(doubled - flagged)}"
    assert final.report["unconfirmed"] == []
    assert stored(server, data["id"])["locked"] is False
    SOAK.update(kills=killed, planned=len(names), stored=len(held), copies=copies,
                flagged=len(flagged), unflagged=len(doubled - flagged),
                lost=len(set(names) - set(held)))
    assert killed >= KILLS // 2, "most runs were killed mid-way"


def _with_category_ids(config: Path, server: LocalServer) -> Path:
    """Return the config with every category's id, as the web app shows them.

    A kill that lands between a category's creation and the journal's note of its id
    leaves an image category whose id no run can learn (OSAI's API cannot list
    categories): the next run stops and asks for the id, which a user looks up in the
    web app and adds to the config. The test does the same, on the dataset the journal
    uses: the newest (an older one can only be an empty one a kill left behind).
    """
    dataset = max(datasets(server), key=lambda d: int(d["id"]))
    ids = {c["name"]: c["id"] for c in stored(server, dataset["id"])["categories"]}
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["dataset"]["categories"] = ids
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config
