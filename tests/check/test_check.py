"""The check step on real files: per-record rules, policies, EXIF frames, names, reports."""

from __future__ import annotations

import gc
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from rich.console import Console

from osai_import.check.checker import CheckedItem, Checker
from osai_import.check.names import NamePlan
from osai_import.check.report import ProblemSpool, print_summary, write_report
from osai_import.check.rules import name_key, to_stored_frame
from osai_import.check.stream import run_check
from osai_import.check.summary import CheckSummary
from osai_import.codes import CODES
from osai_import.config.models import CheckConfig
from osai_import.records import Box, ImageRecord, Problem, Severity
from tests.support import DOCS as DOCS_ROOT
from tests.support import make_image

DOCS = DOCS_ROOT / "check.md"


def record(
    path: Path, key: str | None = None, name: str | None = None, **fields: object
) -> ImageRecord:
    return ImageRecord(
        key=key or path.name,
        path=path,
        name=name or path.name,
        **fields,  # type: ignore[arg-type]
    )


def codes(item: CheckedItem) -> dict[str, Severity]:
    return {p.code: p.severity for p in item.problems}


def check(rec: ImageRecord, **policy: object) -> CheckedItem:
    return Checker(CheckConfig(**policy)).check(rec)  # type: ignore[arg-type]


# --- images ---------------------------------------------------------------------------


def test_good_image_gets_its_header_size(tmp_path: Path) -> None:
    path = make_image(tmp_path / "cats" / "a.jpg", 40, 30)
    item = check(record(path, key="cats/a.jpg", category="cat"))
    assert item.ok and item.problems == ()
    assert (item.record.width, item.record.height, item.record.depth) == (40, 30, 3)
    assert item.size == path.stat().st_size
    assert item.record.key == "cats/a.jpg" and item.record.category == "cat"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (None, "image.missing"),
        (b"", "image.empty"),
        (b"plain text, not an image", "image.unsupported"),
    ],
)
def test_bad_files_are_errors_naming_the_item(
    tmp_path: Path, content: bytes | None, code: str
) -> None:
    path = tmp_path / "x.jpg"
    if content is not None:
        path.write_bytes(content)
    item = check(record(path, key="folder/x.jpg"))
    assert not item.ok
    assert codes(item) == {code: Severity.ERROR}
    assert item.problems[0].item == "folder/x.jpg"
    assert item.size == (0 if content is None else len(content))


def test_truncated_and_too_large_images(tmp_path: Path) -> None:
    data = make_image(tmp_path / "full.png", 50, 50).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:-12])
    assert codes(check(record(tmp_path / "cut.png"))) == {"image.truncated": Severity.ERROR}
    assert codes(check(record(tmp_path / "full.png"), max_pixels=2499)) == {
        "image.too_large": Severity.ERROR
    }


def test_png_named_jpg_is_supported_and_renamed(tmp_path: Path) -> None:
    path = make_image(tmp_path / "photo.JPG", fmt="PNG")
    item = check(record(path))
    assert item.ok
    assert codes(item) == {"image.extension_mismatch": Severity.WARNING}
    assert item.record.name == "photo.png"
    jpeg = check(record(make_image(tmp_path / "scan", fmt="JPEG")))
    assert jpeg.record.name == "scan.jpg"
    kept = check(record(make_image(tmp_path / "b.JPEG")))
    assert kept.record.name == "b.JPEG" and kept.problems == ()


def test_reader_problems_pass_through_with_their_item(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.jpg")
    reader_problem = Problem("annotation.xml_entity", Severity.ERROR, "entity in a.xml")
    item = check(record(path, key="k/a.jpg", problems=(reader_problem,)))
    assert not item.ok
    assert item.problems == (
        Problem("annotation.xml_entity", Severity.ERROR, "entity in a.xml", "k/a.jpg"),
    )


def test_size_stated_by_the_source_differs(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.jpg", 40, 30)
    boxed = check(record(path, width=80, height=60, boxes=(Box("cat", 1, 1, 10, 10),)))
    assert codes(boxed) == {"image.size_mismatch": Severity.ERROR}
    plain = check(record(path, width=80, height=60))
    assert codes(plain) == {"image.size_mismatch": Severity.WARNING}
    assert "says 80x60" in plain.problems[0].message and "is 40x30" in plain.problems[0].message
    half = check(record(path, height=31))
    assert "says ?x31" in half.problems[0].message
    assert check(record(path, width=40)).problems == ()
    assert (plain.record.width, plain.record.height) == (40, 30)


# --- boxes ----------------------------------------------------------------------------

OUTSIDE = Box("cat", -5, 10, 50, 20)  # leaves a 40x30 image left and right
AWAY = Box("dog", 100, 100, 120, 120)  # entirely outside
INSIDE = Box("cat", 1, 2, 39, 29)


def test_boxes_outside_clip(tmp_path: Path) -> None:
    item = check(record(make_image(tmp_path / "a.jpg", 40, 30), boxes=(OUTSIDE, AWAY, INSIDE)))
    assert item.ok
    assert codes(item) == {"box.outside": Severity.WARNING}
    assert item.record.boxes == (Box("cat", 0.0, 10, 40.0, 20), INSIDE)
    assert "2 box(es)" in item.problems[0].message and "clipped" in item.problems[0].message


def test_boxes_outside_drop(tmp_path: Path) -> None:
    item = check(
        record(make_image(tmp_path / "a.jpg", 40, 30), boxes=(OUTSIDE, AWAY, INSIDE)),
        boxes_outside="drop",
    )
    assert item.ok and item.record.boxes == (INSIDE,)
    assert codes(item) == {"box.outside": Severity.WARNING}


def test_boxes_outside_error(tmp_path: Path) -> None:
    item = check(
        record(make_image(tmp_path / "a.jpg", 40, 30), boxes=(OUTSIDE, INSIDE)),
        boxes_outside="error",
    )
    assert not item.ok
    assert codes(item) == {"box.outside": Severity.ERROR}
    assert item.record.boxes == (OUTSIDE, INSIDE)


def test_float_noise_at_the_edge_is_clipped_silently(tmp_path: Path) -> None:
    noisy = Box("cat", 0.1 + 0.2 - 0.3 - 1e-9, 0, 40.0000000001, 30)
    item = check(
        record(make_image(tmp_path / "a.jpg", 40, 30), boxes=(noisy,)), boxes_outside="error"
    )
    assert item.ok and item.problems == ()
    assert item.record.boxes[0].xmax == 40.0 and item.record.boxes[0].xmin == 0.0


def test_empty_boxes_are_dropped_and_unlabelled_boxes_refused(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.jpg", 40, 30)
    empty = check(record(path, boxes=(Box("cat", 5, 5, 5, 9), Box("cat", 9, 9, 3, 12), INSIDE)))
    assert empty.ok and codes(empty) == {"box.empty": Severity.WARNING}
    assert empty.record.boxes == (INSIDE,)
    unlabelled = check(record(path, boxes=(Box("  ", 1, 1, 5, 5), INSIDE)))
    assert codes(unlabelled) == {"box.no_label": Severity.ERROR}
    control = check(record(path, boxes=(Box("c\x00t", 1, 1, 5, 5),), category="a\nb"))
    assert codes(control) == {"label.invalid": Severity.ERROR}
    assert len(control.problems) == 2


def test_label_rules_apply_to_unreadable_images_too(tmp_path: Path) -> None:
    item = check(record(tmp_path / "gone.jpg", boxes=(Box("", 1, 1, 2, 2), Box("x", 3, 3, 3, 3))))
    assert codes(item) == {
        "image.missing": Severity.ERROR,
        "box.no_label": Severity.ERROR,
        "box.empty": Severity.WARNING,
    }


def test_labels_and_categories_are_nfc_and_stripped(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "caf\u00e9")
    item = check(
        record(
            make_image(tmp_path / "a.jpg", 40, 30),
            category=f" {nfd} ",
            boxes=(Box(nfd + " ", 1, 1, 5, 5),),
        )
    )
    assert item.record.category == "caf\u00e9"
    assert item.record.boxes[0].label == "caf\u00e9"
    assert check(record(make_image(tmp_path / "b.jpg"), category="  ")).record.category is None


# --- EXIF orientation -----------------------------------------------------------------


def exif_image(
    path: Path,
    orientation: int,
    size: tuple[int, int] = (60, 40),
    patch: tuple[int, int, int, int] = (5, 8, 20, 14),
) -> Path:
    """Write a PNG with a white patch at ``patch`` (stored frame) and an EXIF orientation."""
    image = Image.new("RGB", size, (0, 0, 0))
    image.paste((255, 255, 255), patch)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "PNG", exif=exif.tobytes())
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_displayed_frame_boxes_map_back_to_stored_pixels(tmp_path: Path, orientation: int) -> None:
    # Find the patch where a viewer shows it, map that box back, compare with the pixels.
    path = exif_image(tmp_path / "r.png", orientation)
    with Image.open(path) as stored:
        shown = ImageOps.exif_transpose(stored)
        shown_box = Image.eval(shown.convert("L"), lambda v: 255 if v > 128 else 0).getbbox()
    assert shown_box is not None
    mapped = to_stored_frame(Box("p", *shown_box), orientation, 60, 40)
    assert (mapped.xmin, mapped.ymin, mapped.xmax, mapped.ymax) == (5, 8, 20, 14)


def test_exif_orientation_policy(tmp_path: Path) -> None:
    path = make_image(tmp_path / "r.jpg", 60, 40, exif_orientation=6)
    boxed = record(path, boxes=(Box("cat", 5, 8, 20, 14),))
    warned = check(boxed)
    assert warned.ok and codes(warned) == {"image.exif_orientation": Severity.WARNING}
    assert warned.record.boxes == boxed.boxes  # stored frame: unchanged
    assert (warned.record.width, warned.record.height) == (60, 40)
    refused = check(boxed, exif_orientation="error")
    assert codes(refused) == {"image.exif_orientation": Severity.ERROR}
    unboxed = check(record(path), exif_orientation="error")
    assert unboxed.ok and codes(unboxed) == {"image.exif_orientation": Severity.WARNING}
    assert check(record(make_image(tmp_path / "n.jpg", exif_orientation=1))).problems == ()


def test_boxes_measured_on_the_upright_image_are_converted(tmp_path: Path) -> None:
    # The source states 40x60, the upright size of a 60x40 file with orientation 6.
    path = exif_image(tmp_path / "r.png", 6)
    with Image.open(path) as stored:
        shown_box = (
            ImageOps.exif_transpose(stored)
            .convert("L")
            .point(lambda v: 255 if v > 128 else 0)
            .getbbox()
        )
    assert shown_box == (26, 5, 32, 20)  # the patch as a viewer shows it
    item = check(record(path, width=40, height=60, boxes=(Box("p", 26, 5, 32, 20),)))
    assert codes(item) == {
        "box.exif_frame": Severity.WARNING,
        "image.exif_orientation": Severity.WARNING,
    }
    assert item.record.boxes == (Box("p", 5, 8, 20, 14),)
    assert (item.record.width, item.record.height) == (60, 40)


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["a\nb.jpg", "a\\b.jpg", "   ", "..", "\u202egpj.exe", "a" * 300 + ".jpg", "bad\udcff.jpg"],
)
def test_invalid_names(tmp_path: Path, bad: str) -> None:
    item = check(record(make_image(tmp_path / "a.jpg"), name=bad))
    assert codes(item)["name.invalid"] is Severity.ERROR


def test_names_are_nfc(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "\u00e9t\u00e9.jpg")
    item = check(record(make_image(tmp_path / "a.jpg"), name=nfd))
    assert item.record.name == "\u00e9t\u00e9.jpg" and item.ok


def plan_names(records: list[ImageRecord], policy: str) -> dict[str, tuple[str, Problem | None]]:
    plan = NamePlan(CheckConfig(name_collisions=policy))  # type: ignore[arg-type]
    plan.add_all(records)
    return {r.key: plan.resolve(r) for r in records}


def fake(key: str) -> ImageRecord:
    return ImageRecord(key=key, path=Path("/nonexistent") / key, name=key.rsplit("/", 1)[-1])


COLLIDING = [
    "train/cats/a.jpg",
    "val/cats/a.jpg",
    "b.png",
    "B.jpg",
    "c.jpg",
    unicodedata.normalize("NFD", "d/\u00e9t\u00e9.jpg"),
    "e/\u00e9t\u00e9.png",
]


def test_collisions_are_errors_by_default() -> None:
    resolved = plan_names([fake(k) for k in COLLIDING], "error")
    failing = {key for key, (_, problem) in resolved.items() if problem is not None}
    assert failing == set(COLLIDING) - {"c.jpg"}
    problem = resolved["b.png"][1]
    assert problem is not None and problem.severity is Severity.ERROR
    assert problem.code == "name.collision" and problem.item == "b.png"
    assert "disambiguate" in problem.message
    assert resolved["c.jpg"] == ("c.jpg", None)


def test_disambiguate_derives_names_from_folders() -> None:
    resolved = plan_names([fake(k) for k in COLLIDING], "disambiguate")
    names = {key: name for key, (name, _) in resolved.items()}
    assert names["train/cats/a.jpg"] == "train_cats_a.jpg"
    assert names["val/cats/a.jpg"] == "val_cats_a.jpg"
    assert names["b.png"] == "b_png.png" and names["B.jpg"] == "B_jpg.jpg"
    assert (
        names[COLLIDING[5]] == "d_\u00e9t\u00e9.jpg"
        and names["e/\u00e9t\u00e9.png"] == "e_\u00e9t\u00e9.png"
    )
    assert names["c.jpg"] == "c.jpg"
    assert all(p is None or p.severity is Severity.WARNING for _, p in resolved.values())
    assert len({name_key(n) for n in names.values()}) == len(names)


def test_disambiguation_avoids_existing_names_and_ignores_order() -> None:
    keys = ["train/a.jpg", "val/a.jpg", "train_a.jpg", "x/A.jpg", "x/a.jpg", "y/a.JPG"]
    first = plan_names([fake(k) for k in keys], "disambiguate")
    names = {key: name for key, (name, _) in first.items()}
    assert names["train_a.jpg"] == "train_a.jpg"  # no collision: kept
    assert re.fullmatch(r"train_a_[0-9a-f]{12}\.jpg", names["train/a.jpg"])  # would meet it
    assert (names["val/a.jpg"], names["y/a.JPG"]) == ("val_a.jpg", "y_a.JPG")
    assert len({name_key(n) for n in names.values()}) == len(keys)
    assert re.fullmatch(r"x_a_[0-9a-f]{12}\.jpg", names["x/a.jpg"])
    for seed in range(5):
        shuffled = [fake(k) for k in keys]
        random.Random(seed).shuffle(shuffled)
        assert {k: n for k, (n, _) in plan_names(shuffled, "disambiguate").items()} == names


def test_random_paths_always_get_unique_names() -> None:
    rng = random.Random(3)
    parts = ["a", "A", "b", "a_b", "b_a", "train", "x.y"]
    keys = sorted(
        {
            "/".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))
            + rng.choice([".jpg", ".png", ".JPG", ""])
            for _ in range(400)
        }
    )
    names = [n for n, _ in plan_names([fake(k) for k in keys], "disambiguate").values()]
    assert len({name_key(n) for n in names}) == len(keys)


def test_duplicate_keys_are_errors_whatever_the_policy() -> None:
    twice = [fake("a/x.jpg"), fake("a/x.jpg"), fake("y.jpg")]
    for policy in ("error", "disambiguate"):
        plan = NamePlan(CheckConfig(name_collisions=policy))
        plan.add_all(twice)
        problem = plan.resolve(twice[0])[1]
        assert problem is not None and problem.code == "record.duplicate"
        assert problem.severity is Severity.ERROR
        with pytest.raises(RuntimeError):
            plan.add(fake("late.jpg"))


def test_checker_applies_the_name_plan(tmp_path: Path) -> None:
    records = [
        record(make_image(tmp_path / d / "a.jpg", fmt="PNG"), key=f"{d}/a.jpg") for d in ("p", "q")
    ]
    plan = NamePlan(CheckConfig(name_collisions="disambiguate"))
    plan.add_all(records)
    item = Checker(CheckConfig(name_collisions="disambiguate")).check(records[0], names=plan)
    assert item.record.name == "p_a.png"  # disambiguated, then the extension fixed
    assert set(codes(item)) == {"name.collision", "image.extension_mismatch"} and item.ok


# --- run_check, summary, report -------------------------------------------------------


def build_dataset(root: Path) -> list[ImageRecord]:
    good = make_image(root / "cats" / "a.jpg", 40, 30)
    records = [
        record(good, key="cats/a.jpg", category="cat", boxes=(INSIDE, OUTSIDE)),
        record(make_image(root / "dogs" / "a.png", 40, 30), key="dogs/a.png", category="dog"),
        record(
            make_image(root / "dogs" / "b.jpg", 20, 20),
            key="dogs/b.jpg",
            category="dog",
            boxes=(Box("dog", 1, 1, 5, 5),),
        ),
        record(root / "dogs" / "gone.jpg", key="dogs/gone.jpg", category="dog"),
    ]
    (root / "notes.jpg").write_text("text")
    records.append(record(root / "notes.jpg", key="notes.jpg"))
    return records


class Source:
    """A records factory that counts how often the source is read."""

    def __init__(self, records: list[ImageRecord]) -> None:
        self.records = records
        self.reads = 0

    def __call__(self) -> Iterator[ImageRecord]:
        self.reads += 1
        yield from self.records


def test_run_check_counts_everything(tmp_path: Path) -> None:
    source = Source(build_dataset(tmp_path))
    seen: list[CheckedItem] = []
    sunk: list[Problem] = []
    summary = run_check(
        source,
        CheckConfig(name_collisions="disambiguate"),
        on_item=seen.append,
        problems_sink=sunk.append,
    )
    assert [item.record.key for item in seen] == [r.key for r in source.records]  # stream order
    assert source.reads == 1  # once: the names pass spools what the checks replay
    # on_item gets final items: names disambiguated, sizes from the headers.
    assert [item.record.name for item in seen[:3]] == ["cats_a.jpg", "dogs_a.png", "b.jpg"]
    assert seen[0].record.width == 40 and seen[0].ok
    assert (summary.images, summary.ok, summary.failed) == (5, 3, 2)
    assert summary.categories == {"cat": 1, "dog": 2}
    assert summary.boxes_by_label == {"cat": 2, "dog": 1}
    assert summary.problems_by_code == {
        "box.outside": 1,
        "image.missing": 1,
        "image.unsupported": 1,
        "name.collision": 2,
    }
    assert (summary.errors, summary.warnings) == (2, 3)
    assert summary.bytes == sum(r.path.stat().st_size for r in source.records[:3])
    assert sorted(p.code for p in sunk) == sorted(summary.problems_by_code.elements())


def test_collision_errors_fail_their_items(tmp_path: Path) -> None:
    source = Source(build_dataset(tmp_path))
    failed: list[str] = []
    summary = run_check(
        source,
        CheckConfig(),
        workers=1,
        on_item=lambda item: None if item.ok else failed.append(item.record.key),
    )
    assert failed == ["cats/a.jpg", "dogs/a.png", "dogs/gone.jpg", "notes.jpg"]
    assert (summary.images, summary.ok) == (5, 1)
    assert summary.categories == {"dog": 1} and summary.boxes_by_label == {"dog": 1}
    assert summary.bytes == source.records[2].path.stat().st_size
    assert summary.errors == 4


def test_threads_do_not_change_the_results(tmp_path: Path) -> None:
    records = [
        record(
            make_image(tmp_path / f"d{i % 3}" / f"{i % 4}.png", 10 + i, 10),
            key=f"d{i % 3}/{i % 4}.png",
        )
        for i in range(12)
    ]
    results = []
    for workers in (1, 3):
        items: list[CheckedItem] = []
        summary = run_check(
            Source(records),
            CheckConfig(name_collisions="disambiguate"),
            workers=workers,
            on_item=items.append,
        )
        results.append(
            ([(i.record.key, i.record.name, i.record.width) for i in items], summary.to_dict())
        )
    assert results[0] == results[1]
    assert len({name for _, name, _ in results[0][0]}) == len(records)


def test_memory_stays_flat_on_a_large_stream(tmp_path: Path) -> None:
    import tracemalloc

    # One shared path: pathlib interns every new path part, which would grow (and resize)
    # the interpreter's table of interned strings and blur the measurement.
    missing = tmp_path / "gone.jpg"

    def source(count: int) -> Callable[[], Iterator[ImageRecord]]:
        def records() -> Iterator[ImageRecord]:
            for i in range(count):
                yield ImageRecord(
                    key=f"d{i % 7}/img{i}.jpg",
                    path=missing,
                    name=f"img{i}.jpg",
                    category=f"c{i % 5}",
                    boxes=(Box("x", 0, 0, 1, 1),) * 3,
                )

        return records

    def peak(count: int) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            summary = run_check(source(count), CheckConfig(), workers=1)
            used = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert summary.problems_by_code == {"image.missing": count}
        return used

    peak(200)  # warm caches and lazy imports
    growth = peak(12_000) - peak(2_000)
    # Holding the 10,000 extra records would take about 4 MB; hashes take 8 bytes each.
    assert growth < 10_000 * 60


def test_report_holds_the_summary_and_every_problem(tmp_path: Path) -> None:
    with ProblemSpool() as spool:
        summary = run_check(
            Source(build_dataset(tmp_path / "data")), CheckConfig(), problems_sink=spool.add
        )
        spool.add(Problem("reader.odd", Severity.WARNING, "caf\u00e9 \udcff", "k\u00e9y"))
        report = tmp_path / "out" / "check.json"
        write_report(report, summary, spool, "abc123")
        assert [p.code for p in spool][-1] == "reader.odd"  # iterable again
    data = json.loads(report.read_text("utf-8"))
    assert data["config_hash"] == "abc123" and data["ok"] is False
    assert data["summary"]["images"] == 5 and data["summary"]["failed"] == 4
    assert data["summary"]["problems_by_code"]["name.collision"] == {
        "severity": "error",
        "count": 2,
    }
    assert len(data["problems"]) == len(spool) == sum(summary.problems_by_code.values()) + 1
    assert data["problems"][-1]["item"] == "k\u00e9y"
    assert data["codes"]["image.missing"] == CODES["image.missing"]
    assert all(p["item"] for p in data["problems"])
    assert [p.name for p in report.parent.iterdir()] == ["check.json"]


def test_print_summary_shows_counts_and_codes_literally() -> None:
    summary = CheckSummary(images=3, ok=2, bytes=2_500_000, errors=1, warnings=0)
    summary.categories.update({"[red]cat": 2})
    summary.boxes_by_label.update({f"label{i}": i + 1 for i in range(25)})
    summary.add_problem(Problem("image.missing", Severity.ERROR, "m", "k"))
    console = Console(record=True, width=140)
    print_summary(summary, console)
    text = console.export_text()
    assert "3 image(s) checked: 2 ok, 1 with errors; 2.5 MB to upload" in text
    assert "[red]cat" in text and "image.missing" in text and "error" in text
    assert "5 more" in text  # 25 labels, 20 shown


def test_every_code_is_documented() -> None:
    docs = DOCS.read_text("utf-8")
    missing = [code for code in CODES if f"`{code}`" not in docs]
    assert missing == []


def test_a_path_the_reader_refused_is_not_opened_again(tmp_path: Path) -> None:
    refused = Problem("path.outside", Severity.ERROR, "../x.jpg leaves the dataset folder", "row 3")
    item = Checker(CheckConfig()).check(
        ImageRecord("../x.jpg", tmp_path, "x.jpg", problems=(refused,))
    )
    assert not item.ok
    assert [p.code for p in item.problems] == ["path.outside"]


def test_an_item_its_reader_refused_gets_no_second_error_from_its_image(tmp_path: Path) -> None:
    missing = Problem("labelme.image_missing", Severity.ERROR, "a.json: no image at a.jpg", "a")
    warned = Problem("labelme.path_fixed", Severity.WARNING, "used b.jpg", "b")
    checker = Checker(CheckConfig())
    refused = checker.check(ImageRecord("a", tmp_path / "a.json", "a.jpg", problems=(missing,)))
    assert [p.code for p in refused.problems] == ["labelme.image_missing"]
    # A warning does not keep the image from being checked: its own errors still show.
    (tmp_path / "b.jpg").write_bytes(b"")
    checked = checker.check(ImageRecord("b", tmp_path / "b.jpg", "b.jpg", problems=(warned,)))
    assert [p.code for p in checked.problems] == ["labelme.path_fixed", "image.empty"]


def test_first_pass_learns_the_labels_an_upload_creates_first(tmp_path: Path) -> None:
    from osai_import.check.stream import CheckRun

    image = make_image(tmp_path / "a.jpg", 20, 20)
    refused = Problem("path.outside", Severity.ERROR, "outside the folder", "")
    records = [
        record(image, key="ok", category=" cat\u0065\u0301 ",  # NFD, spaces: as the check keeps it
               boxes=(Box("dog", 1, 1, 5, 5), Box("flat", 1, 1, 1, 5), Box("bad\x07", 1, 1, 5, 5))),
        record(image, key="refused", name="b.jpg", category="never", boxes=(Box("nope", 1, 1, 5, 5),),
               problems=(refused,)),
    ]
    with CheckRun(lambda: iter(records), CheckConfig()) as run:
        assert run.read() == []
        assert run.records == 2
        # Known before any image is opened: the refused record, the empty box and the
        # label the check refuses add nothing.
        assert run.labels == {"cat\u00e9", "dog"}
        assert run.image_categories == {"cat\u00e9"}
        items = list(run.items())
        assert [i.record.key for i in items] == ["ok", "refused"]
        assert [i.record.key for i in run.items()] == ["ok", "refused"]  # a second pass
    assert items[0].record.category == "cat\u00e9"


def test_a_key_repeated_under_other_names_refuses_every_entry_once(tmp_path: Path) -> None:
    image = make_image(tmp_path / "a.jpg", 20, 20)
    records = [record(image, key="same", name="one.jpg"), record(image, key="same", name="two.jpg"),
               record(image, key="other", name="three.jpg")]
    summary = run_check(lambda: iter(records), CheckConfig())
    assert summary.problems_by_code == {"record.duplicate": 2}
    assert summary.ok == 1
