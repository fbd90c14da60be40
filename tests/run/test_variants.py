"""A real upload against every behaviour OSAI's documentation leaves open.

Each case starts a local server with one variant (docs/emulator.md, "Variants") or one
fault, uploads a small dataset in process (image categories with a space and mixed case,
boxes, box-only labels), and checks what the server holds: every planned image stored
(a copy more only when the report flags it), each with its category, every box linked to
a category, the dataset unlocked; or, where only the user can resolve it, a stop whose
message names the remedy. Each case's requests are counted against the ones its limits
make necessary; the table is printed in the test summary.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from rich.console import Console
from werkzeug.wrappers import Response

from osai_import.config.resolve import prepare
from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.run.context import RunOptions
from osai_import.run.runner import run
from tests.run.support import TOKEN, stored, write_config
from tests.run.variant_table import ROWS, Row
from tests.support import make_image

CLASSES = ("cat", "Dog House", "bird")
# "Cat" beside the class "cat": one category on a server unique case-insensitively.
BOX_LABELS = ("thing", "Red Ball", "Cat")
IMAGES = 18
CHUNK = 4


def make_data(root: Path) -> list[str]:
    """Write the dataset: 18 JPEGs in 3 class folders, two of three with a VOC sidecar."""
    names = []
    for n in range(IMAGES):
        cls = CLASSES[n % 3]
        name = f"img_{n:03d}.jpg"
        make_image(root / cls / name, 40, 30, (n * 12 % 256, 80, 160))
        if n % 3 != 2:
            label = BOX_LABELS[n // 3 % 3]
            extra = ("<object><name>cat</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9"
                     "</xmax><ymax>9</ymax></bndbox></object>" if cls == "cat" else "")
            (root / cls / f"img_{n:03d}.xml").write_text(
                "<annotation><size><width>40</width><height>30</height><depth>3</depth></size>"
                f"<object><name>{label}</name><bndbox><xmin>5</xmin><ymin>4</ymin>"
                f"<xmax>30</xmax><ymax>20</ymax></bndbox></object>{extra}</annotation>")
        names.append(name)
    return names


def necessary_requests(chunk: int = CHUNK, *, dataset: bool = True, extra: int = 0) -> int:
    """Sign-in, the dataset, its categories, StartUploading, the chunks, FinishUploading.

    ``dataset``: the run makes the dataset; ``extra``: requests the variant makes
    necessary (a new session after one expired, say).
    """
    categories = len(CLASSES) + len(BOX_LABELS)
    return 1 + int(dataset) + categories + 1 + math.ceil(IMAGES / chunk) + 1 + extra


@dataclass
class Case:
    """One variant or fault, set on the server before the run."""

    id: str
    settings: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, Any] = field(default_factory=dict)
    upload: dict[str, Any] = field(default_factory=dict)
    # Before the run: e.g. make the category that will be a duplicate.
    prepare: Callable[[LocalServer], dict[str, Any]] | None = None
    # Words the stop message must hold; None: the run must complete.
    stop: str | None = None
    exit_code: int = 0
    # The least images the run must store (a poison image, say, is not among them).
    lose_images: int = 0
    # Wraps an API handler in the server, to stage a fault the flags cannot (a pause).
    wrap: Callable[[LocalServer], None] | None = None
    # What "necessary" means here, when the variant's limits change it.
    necessary: int | None = None


def existing_cat(server: LocalServer) -> dict[str, Any]:
    """Make dataset 1 with a category named "cat"; return the config's dataset section."""
    base = server.base_url
    bearer = requests.post(f"{base}/Users/SignIn", json=TOKEN, timeout=10).text.strip().strip('"')
    headers = {"Authorization": f"Bearer {bearer}"}
    dataset = requests.post(f"{base}/Datasets", json={"name": "made-by-hand"}, headers=headers,
                            timeout=10).json()
    requests.post(f"{base}/Categories", json={"datasetId": dataset["id"], "name": "cat"},
                  headers=headers, timeout=10).raise_for_status()
    return {"id": dataset["id"]}


def pause_third_chunk(server: LocalServer) -> None:
    """Let the upload session expire once, before the third chunk is handled."""
    api = server.app.api
    real = api.upload_chunk
    calls = iter(range(1, 1_000_000))

    def paused(*args: Any, **kwargs: Any) -> Response:
        if next(calls) == 3:
            time.sleep(server.settings.unlock_after + 0.4)
        return real(*args, **kwargs)

    api.upload_chunk = paused  # type: ignore[method-assign]


def lose_category(name: str) -> Callable[[LocalServer], None]:
    """Return a wrap that loses the answer to the POST /Categories that creates ``name``."""

    def wrap(server: LocalServer) -> None:
        store = server.app.api.store
        real = store.create_category

        def create(dataset_id: Any, category: str, *args: Any, **kwargs: Any) -> Any:
            made = real(dataset_id, category, *args, **kwargs)
            if category == name:
                server.settings.lose_next["Categories"] = 1  # taken once this answer is done
            return made

        store.create_category = create  # type: ignore[method-assign]

    return wrap


REMEDY_ID = "categories: {'cat': <its id>}"
CASES = [
    Case("baseline"),
    Case("ids=guid", variants={"ids": "guid"}),
    Case("sign-in answer: JSON string", variants={"sign_in_answer": "json-string"}),
    Case("sign-in answer: {bearerToken}", variants={"sign_in_answer": "object",
                                                    "sign_in_field": "bearerToken"}),
    Case("start answer: JSON string", variants={"start_answer": "json-string"}),
    Case("start answer: {uploadId}", variants={"start_answer": "object",
                                               "start_field": "uploadId"}),
    Case("chunk answer: empty", variants={"chunk_answer": "empty"}),
    Case("chunk answer: list", variants={"chunk_answer": "list"}),
    Case("chunk answer: skipped list", variants={"chunk_answer": "skipped"}),
    Case("chunk status 201", variants={"chunk_status": 201}),
    Case("chunk status 202", variants={"chunk_status": 202}),
    Case("chunk status 204", variants={"chunk_status": 204, "chunk_answer": "empty"}),
    *[Case(f"errors as {fmt}, chunk cap 3 refused with 400",
           variants={"error_format": fmt, "chunk_max_images": 3, "chunk_refusal": "400"},
           necessary=necessary_requests(3))
      for fmt in ("aspnet", "rfc7807", "text", "empty", "html")],
    *[Case(f"token expiry: {status}{'' if body else ', no body'}"
           f"{'' if challenge else ', no challenge'}",
           settings={"jwt_ttl": 0.25, "latency_ms": 60},
           variants={"token_status": status, "token_body": body, "token_challenge": challenge})
      for status in (401, 403) for body in (True, False) for challenge in (True, False)
      if body or challenge or status == 403],
    Case("duplicate category: existing", variants={"duplicate_category": "existing"},
         prepare=existing_cat),
    *[Case(f"duplicate category: {kind}{', empty body' if detail == '' else ''}",
           variants={"duplicate_category": kind, "duplicate_category_detail": detail},
           prepare=existing_cat, stop=REMEDY_ID, exit_code=3)
      for kind in ("400", "409") for detail in (None, "")],
    *[Case(f"duplicate category: {kind}, with listing",
           variants={"duplicate_category": kind, "duplicate_category_detail": "",
                     "listing": True}, prepare=existing_cat,
           necessary=necessary_requests(dataset=False, extra=1))
      for kind in ("400", "409")],
    Case("category names: spaces to _", variants={"category_names": "underscores"}),
    Case("category names: lower-cased", variants={"category_names": "lower"}),
    Case("duplicate image names refused, a chunk answer lost",
         variants={"duplicate_images": "refuse"}, settings={"lose_next": {"UploadChunk": 1}}),
    *[Case(f"session gone: {status}{', no body' if detail == '' else ''}",
           settings={"unlock_after": 0.6},
           variants={"session_gone_status": status, "session_gone_detail": detail},
           wrap=pause_third_chunk, necessary=necessary_requests(extra=2))
      for status in (400, 404, 410) for detail in (None, "")],
    *[Case(f"chunk cap 3 images, refused: {refusal}",
           variants={"chunk_max_images": 3, "chunk_refusal": refusal},
           necessary=necessary_requests(3))
      for refusal in ("413", "413-html", "400")],
    # A dropped connection may be a network fault: each chunk in flight (2 workers) when
    # the cap is met is tried once more before its halves go.
    Case("chunk cap 3 images, refused: close",
         variants={"chunk_max_images": 3, "chunk_refusal": "close"},
         necessary=necessary_requests(3, extra=2)),
    Case("chunk cap 9,000 bytes, refused: 413", variants={"chunk_max_bytes": 9_000},
         necessary=necessary_requests(3)),
    # A 500 may be a passing fault: the chunk gets the policy's retries (4), then finding
    # the image in a chunk of 4 takes two levels of two halves.
    Case("a poison image", variants={"poison_images": frozenset({"img_005.jpg"})},
         exit_code=1, lose_images=1, necessary=necessary_requests(extra=4 + 4)),
    Case("connection: close", variants={"connection": "close"}),
    Case("connection: HTTP/1.0", variants={"connection": "http/1.0"}),
    Case("listing served", variants={"listing": True}),
    Case("sign-in: legacy GET only", variants={"sign_in": "legacy-get"},
         stop="refuses to use", exit_code=3),
    Case("lost answer: POST /Datasets", settings={"lose_next": {"Datasets": 1}},
         necessary=necessary_requests(extra=1)),
    Case("lost answer: POST /Categories, a box label", wrap=lose_category("Red Ball"),
         necessary=necessary_requests(extra=1)),
    Case("lost answer: POST /Categories, an image category", wrap=lose_category("bird"),
         stop="categories: {'bird': <its id>}", exit_code=3),
    Case("lost answer: POST /Categories, an image category, with listing",
         variants={"listing": True}, wrap=lose_category("bird"), necessary=necessary_requests(
             extra=2)),
    Case("lost answer: StartUploading", settings={"lose_next": {"StartUploading": 1},
                                                  "unlock_after": 1.0},
         upload={"wait_locked": 20}, necessary=necessary_requests(extra=1)),
    *[Case(f"dataset locked: {status}, a StartUploading answer lost",
           settings={"lose_next": {"StartUploading": 1}, "unlock_after": 1.0},
           variants={"locked_status": status}, upload={"wait_locked": 20},
           necessary=necessary_requests(extra=1))
      for status in (409, 423)],
    # The session probe after a chunk refused whole meets the lock: the session lives.
    *[Case(f"dataset locked: {status}, chunk cap 3 refused with 400",
           variants={"locked_status": status, "chunk_max_images": 3, "chunk_refusal": "400"},
           necessary=necessary_requests(3))
      for status in (409, 423)],
    Case("lost answer: FinishUploading", settings={"lose_next": {"FinishUploading": 1}},
         necessary=necessary_requests(extra=1)),
    Case("lost answer: UploadChunk", settings={"lose_next": {"UploadChunk": 2}},
         necessary=necessary_requests(extra=2)),
    Case("lost answer: UploadChunk, with listing", settings={"lose_next": {"UploadChunk": 2}},
         variants={"listing": True}, necessary=necessary_requests(extra=2)),
    Case("proxy pages on UploadChunk", settings={"html_next": {"UploadChunk": 2}},
         necessary=necessary_requests(extra=2)),
]


@dataclass
class Outcome:
    """What one run did: its report, the requests and chunk bytes the server got, and held."""

    report: dict[str, Any]
    requests: int
    chunk_bytes: int
    held: dict[str, Any] | None
    seconds: float


def upload(root: Path, case: Case) -> Outcome:
    """Run one upload of the dataset under ``case`` against a fresh local server."""
    make_data(root / "data")
    settings = EmulatorSettings(data_dir=root / "server", token=TOKEN, retry_after=0.05)
    # Copies: the server counts one-shot faults down in the dicts it is given.
    for key, value in copy.deepcopy(case.settings).items():
        setattr(settings, key, value)
    for key, value in copy.deepcopy(case.variants).items():
        setattr(settings.variants, key, value)
    with LocalServer(settings) as server, pytest.MonkeyPatch.context() as patch:
        if case.wrap is not None:
            case.wrap(server)
        dataset = case.prepare(server) if case.prepare is not None else {"name": "variants"}
        before = server.app.stats.snapshot()["total"]
        patch.setenv("OSAI_TOKEN", TOKEN)
        options = {"workers": 2, "chunk_images": CHUNK, "retries": 4, "backoff": 0.02,
                   "max_backoff": 0.1, **case.upload}
        config = write_config(root / "c.yaml", dataset=dataset,
                              server={"url": server.base_url, "timeout": 10}, upload=options)
        resolved, _ = prepare(config)
        report_path = root / "r.json"
        started = time.monotonic()
        run(resolved, RunOptions(quiet=True, report=report_path), Console(quiet=True))
        seconds = time.monotonic() - started
        report: dict[str, Any] = json.loads(report_path.read_text())
        stats = server.app.stats.snapshot()
        held = stored(server, report["dataset"]["id"]) if report["dataset"]["id"] else None
    return Outcome(report, stats["total"] - before, stats["bytesIn"].get("UploadChunk", 0),
                   held, seconds)


@pytest.fixture(scope="module")
def baseline_bytes(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The chunk bytes a run with no variant sends: each image and annotation once."""
    outcome = upload(tmp_path_factory.mktemp("baseline"), CASES[0])
    assert outcome.report["exit_code"] == 0 and outcome.chunk_bytes > 0
    return outcome.chunk_bytes


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_real_upload_under_each_variant(tmp_path: Path, case: Case, baseline_bytes: int
                                          ) -> None:
    out = upload(tmp_path, case)
    report, names = out.report, [f"img_{n:03d}.jpg" for n in range(IMAGES)]
    assert report["exit_code"] == case.exit_code, (report["aborted"], report["failed"])
    if case.stop is not None:
        assert case.stop in (report["aborted"] or ""), report["aborted"]
        ROWS.append(Row(case.id, report["exit_code"], 0, len(names), out.requests, 0,
                        out.chunk_bytes / baseline_bytes, out.seconds,
                        "stops, naming the remedy"))
        return
    necessary = case.necessary or necessary_requests(dataset=case.prepare is None)
    ttl = case.settings.get("jwt_ttl")
    if ttl:
        # Each expiry during the run costs a sign-in and the call the old token failed.
        necessary += 2 * int(out.seconds / ttl)
    held = out.held
    assert held is not None
    copies = Counter(image["name"] for image in held["images"])
    flagged = {row["name"] for row in report["possibly_duplicated"]}
    assert set(copies) <= set(names)
    assert len(copies) == len(names) - case.lose_images, sorted(set(names) - set(copies))
    assert {n for n, count in copies.items() if count > 1} <= flagged
    assert held["locked"] is False
    assert held["objectsWithoutCategory"] == 0, "every box is linked to its category"
    by_id = {c["id"]: c["name"] for c in held["categories"]}
    normalize = _stored_name(case)
    for image in held["images"]:
        folder = CLASSES[int(image["name"][4:7]) % 3]
        assert by_id[image["classifyCategoryId"]] == normalize(folder), image["name"]
    # One category per name: a category made by hand before the run is reused, not doubled.
    assert Counter(by_id.values()) == Counter({normalize(n) for n in (*CLASSES, *BOX_LABELS)})
    ROWS.append(Row(case.id, report["exit_code"], len(copies), len(names), out.requests,
                    necessary, out.chunk_bytes / baseline_bytes, out.seconds,
                    _note(report, copies)))
    # The cost bounds: at most ~1.5 times the requests the variant makes necessary, and
    # the dataset's bytes sent at most three times in all (re-sent at most twice).
    assert out.requests <= 1.5 * necessary, (out.requests, necessary)
    assert out.chunk_bytes <= 3 * baseline_bytes, (out.chunk_bytes, baseline_bytes)


def _stored_name(case: Case) -> Callable[[str], str]:
    mode = case.variants.get("category_names", "as-sent")
    if mode == "underscores":
        return lambda name: name.replace(" ", "_")
    if mode == "lower":
        return str.lower
    return lambda name: name


def _note(report: dict[str, Any], copies: Counter[str]) -> str:
    """Say what the report flagged against what the server really holds twice."""
    notes = []
    twice = sum(1 for count in copies.values() if count > 1)
    if report["counts"]["possibly_duplicated"] or twice:
        notes.append(f"{report['counts']['possibly_duplicated']} flagged, {twice} stored twice")
    if report["failed"]:
        notes.append(f"{len(report['failed'])} failed")
    notes.extend(f"warns: {w[:44]}..." for w in report["warnings"][:1])
    return "; ".join(notes)
