"""Compare reading a train2017-sized COCO file: the `coco` reader against pycocotools.

A generated COCO instances file shaped like train2017 (118,287 images, 860,001
annotations with polygon segmentations, about 1% crowd annotations with RLE masks,
80 categories, the sections in train2017's order: info, licenses, images,
annotations, categories) is read to the same boxes, each time in a fresh process:

  - the `coco` reader (as registered by the plugins), streaming every record, on its
    msgspec path (byte-level scan of the sections, batched typed decoding);
  - the same reader on its ijson path alone (how it read every file before the msgspec
    path; ``--skip-ijson`` leaves it out, it is slow at full size);
  - ``pycocotools.coco.COCO(path)``, then walking its index image by image
    (``getAnnIds(imgIds=..., iscrowd=False)`` + ``loadAnns``) to (xmin, ymin, xmax, ymax).

Wall time, CPU time and peak RSS are of each child process, start to exit (interpreter
and imports included). All must agree on the number of images and boxes and on the sum
of every coordinate. ``--repeat N`` runs the contenders N times, taking turns, and the
table shows the median with the range (the machine may be shared). Needs pycocotools
(``pip install -e ".[bench]"``). From the repository root:

    .venv/bin/python bench/coco_read.py --quick     # a tenth of train2017, under a minute
    .venv/bin/python bench/coco_read.py             # train2017 scale (~430 MB JSON)

``--workdir DIR`` keeps the generated file there and reuses it on the next run.
Targets (issue 19): the reader at most a quarter of pycocotools' time (0.25x) and at
most a fifth of its peak RSS (0.2x).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TRAIN2017_IMAGES = 118_287
TRAIN2017_ANNOTATIONS = 860_001
CROWD_SHARE = 0.009  # train2017: 7,466 of 860,001 annotations are crowds


def _polygon(rng: random.Random, x: float, y: float, w: float, h: float) -> str:
    """Return a polygon (as COCO writes it: a flat list of x, y) inscribed in a box."""
    points = rng.randint(6, 40)
    cx, cy = x + w / 2, y + h / 2
    coords = []
    for k in range(points):
        # Alternate between the box's edges so the polygon's bounds are the box.
        angle = 6.283185307 * k / points
        px = cx + (w / 2) * max(-1.0, min(1.0, 1.3 * math.cos(angle)))
        py = cy + (h / 2) * max(-1.0, min(1.0, 1.3 * math.sin(angle)))
        coords.append(f"{px:.2f},{py:.2f}")
    return "[[" + ",".join(coords) + "]]"


def write_coco(path: Path, images: int, annotations: int, seed: int = 2017) -> None:
    """Write a COCO instances file of that many images and annotations, streamed."""
    rng = random.Random(seed)
    sizes = [(rng.choice((640, 640, 500, 480, 427, 375)), rng.choice((480, 427, 640, 375, 500)))
             for _ in range(images)]
    with path.open("w", encoding="utf-8") as out:
        out.write('{"info": {"description": "osai-import bench, shaped like COCO 2017", '
                  '"version": "1.0", "year": 2017}, "licenses": [{"url": "http://example.org", '
                  '"id": 1, "name": "bench"}], "images": [')
        for index, (width, height) in enumerate(sizes):
            image_id = 1 + index * 3
            out.write(("," if index else "") + json.dumps({
                "license": 1, "file_name": f"{image_id:012d}.jpg",
                "coco_url": f"http://images.example.org/train2017/{image_id:012d}.jpg",
                "height": height, "width": width, "date_captured": "2013-11-14 16:28:13",
                "flickr_url": f"http://farm.example.org/{image_id}.jpg", "id": image_id}))
        out.write('], "annotations": [')
        _annotations(out, rng, sizes, annotations)
        out.write('], "categories": [')
        out.write(",".join(json.dumps({"supercategory": f"super{k // 8}", "id": k + 1 + k // 10,
                                       "name": f"class_{k:02d}"}) for k in range(80)))
        out.write("]}")


def _annotations(out: TextIO, rng: random.Random, sizes: list[tuple[int, int]],
                 count: int) -> None:
    categories = [k + 1 + k // 10 for k in range(80)]
    for index in range(count):
        image = rng.randrange(len(sizes))
        width, height = sizes[image]
        w = round(rng.uniform(4, width * 0.6), 2)
        h = round(rng.uniform(4, height * 0.6), 2)
        x = round(rng.uniform(0, width - w), 2)
        y = round(rng.uniform(0, height - h), 2)
        crowd = rng.random() < CROWD_SHARE
        if crowd:
            runs = [rng.randint(1, 400) for _ in range(rng.randint(20, 200))]
            segmentation = json.dumps({"counts": runs, "size": [height, width]})
        else:
            segmentation = _polygon(rng, x, y, w, h)
        out.write(f'{"," if index else ""}{{"segmentation": {segmentation}, '
                  f'"area": {w * h:.4f}, "iscrowd": {int(crowd)}, "image_id": {1 + image * 3}, '
                  f'"bbox": [{x},{y},{w},{h}], "category_id": {rng.choice(categories)}, '
                  f'"id": {900000 + index}}}')


# --- the children ----------------------------------------------------------------------

READER_CHILD = """
import json, sys, time
started = time.perf_counter()
from osai_import.plugin.manager import build_plugins
entry = build_plugins().readers.get("coco")
reader = entry.cls(entry.cls.parse_options({"path": sys.argv[1], "images": sys.argv[2]}))
reader.fast = sys.argv[3] == "msgspec"
images = boxes = 0
total = 0.0
for record in reader.records():
    images += 1
    for box in record.boxes:
        boxes += 1
        total += box.xmin + box.ymin + box.xmax + box.ymax
print(json.dumps({"images": images, "boxes": boxes, "sum": total, "path": reader.path_taken,
                  "seconds": time.perf_counter() - started}))
"""

PYCOCOTOOLS_CHILD = """
import json, sys, time
started = time.perf_counter()
from pycocotools.coco import COCO
coco = COCO(sys.argv[1])
images = boxes = 0
total = 0.0
for image in coco.dataset["images"]:
    images += 1
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"], iscrowd=False)):
        x, y, w, h = ann["bbox"]
        boxes += 1
        total += x + y + (x + w) + (y + h)
print(json.dumps({"images": images, "boxes": boxes, "sum": total, "path": "pycocotools",
                  "seconds": time.perf_counter() - started}))
"""

TIME_TARGET, MEMORY_TARGET = 0.25, 0.2


def run_child(code: str, *args: str) -> tuple[common.Measured, dict[str, Any]]:
    """Run one reader in a fresh interpreter; return the measure and what it counted."""
    result = common.run_measured(common.python_child(code, *args),
                                 env=common.child_env()).check("a COCO reading child")
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def spread(values: list[float], unit: str = "") -> str:
    """Return the median of ``values`` with their range when there are several."""
    middle = statistics.median(values)
    digits = 2 if middle < 10 else 1 if middle < 100 else 0
    if len(values) == 1:
        return f"{middle:.{digits}f}{unit}"
    return f"{middle:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    """Generate (or reuse) the COCO file, read it every way, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of train2017's size")
    parser.add_argument("--scale", type=float, help="share of train2017's size (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender")
    parser.add_argument("--skip-ijson", action="store_true",
                        help="leave out the reader's ijson path")
    parser.add_argument("--workdir", type=Path,
                        help="folder that keeps the generated file between runs")
    options = parser.parse_args()
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        raise SystemExit("pycocotools is not installed: pip install -e \".[bench]\"") from None
    scale = options.scale or (0.1 if options.quick else 1.0)
    images = round(TRAIN2017_IMAGES * scale)
    annotations = round(TRAIN2017_ANNOTATIONS * scale)
    contenders = [("`coco` reader, msgspec path", READER_CHILD, "msgspec"),
                  ("`coco` reader, ijson path", READER_CHILD, "ijson"),
                  ("pycocotools COCO() + index walk", PYCOCOTOOLS_CHILD, "")]
    if options.skip_ijson:
        del contenders[1]
    runs: dict[str, list[common.Measured]] = {name: [] for name, _, _ in contenders}
    counts: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="osai-bench-coco-") as tmp:
        folder = options.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"instances_bench_{images}_{annotations}.json"
        if not path.exists():
            started = time.perf_counter()
            write_coco(path.with_suffix(".part"), images, annotations)
            path.with_suffix(".part").rename(path)
            print(f"generated {path} in {time.perf_counter() - started:.0f} s", flush=True)
        (folder / "images").mkdir(exist_ok=True)
        megabytes = path.stat().st_size / 1e6
        print(f"COCO file: {images:,} images, {annotations:,} annotations, "
              f"{megabytes:,.0f} MB   {common.machine_line()}", flush=True)
        for _ in range(options.repeat):  # taking turns, so that a busy moment hits all alike
            for name, code, mode in contenders:
                args = (str(path), str(folder / "images"), mode) if mode else (str(path),)
                measured, counted = run_child(code, *args)
                runs[name].append(measured)
                counts[name] = counted
                print(f"  {name}: {measured.seconds:.1f} s (CPU {measured.cpu_seconds:.1f} s), "
                      f"{common.mib(measured.peak_rss):.0f} MiB", flush=True)
    theirs = counts["pycocotools COCO() + index walk"]
    for name, counted in counts.items():
        for key in ("images", "boxes"):
            if counted[key] != theirs[key]:
                raise SystemExit(f"{name} and pycocotools disagree on {key}: {counted} vs {theirs}")
        if abs(counted["sum"] - theirs["sum"]) > 1e-6 * abs(theirs["sum"]):
            raise SystemExit(f"{name} and pycocotools disagree on the boxes: {counted} vs {theirs}")
    if counts[contenders[0][0]]["path"] != "msgspec":
        raise SystemExit("the reader fell back to its ijson path on the benchmark file")
    print_tables(runs, images, annotations, int(theirs["boxes"]), megabytes)


def print_tables(runs: dict[str, list[common.Measured]], images: int, annotations: int,
                 boxes: int, megabytes: float) -> None:
    """Print the measures, then each reader path's ratios to pycocotools and the targets."""
    rows = [[name, spread([m.seconds for m in measured]),
             spread([m.cpu_seconds for m in measured]),
             spread([common.mib(m.peak_rss) for m in measured])]
            for name, measured in runs.items()]
    common.print_table(
        ["reading every record to its boxes", "seconds", "CPU seconds", "peak RSS (MiB)"], rows,
        title=f"COCO reading, {images:,} images, {annotations:,} annotations ({boxes:,} "
              f"non-crowd boxes), {megabytes:,.0f} MB, median (range) of "
              f"{len(next(iter(runs.values())))} run(s)")
    theirs = runs.pop("pycocotools COCO() + index walk")

    def median(measured: list[common.Measured], field: str) -> float:
        return statistics.median(getattr(m, field) for m in measured)

    ratios = []
    for name, measured in runs.items():
        time_ratio = median(measured, "seconds") / median(theirs, "seconds")
        cpu_ratio = median(measured, "cpu_seconds") / median(theirs, "cpu_seconds")
        memory_ratio = median(measured, "peak_rss") / median(theirs, "peak_rss")
        ratios.append([
            f"{name} / pycocotools", f"{time_ratio:.2f}x", f"{cpu_ratio:.2f}x",
            f"{memory_ratio:.2f}x",
            "yes" if time_ratio <= TIME_TARGET and memory_ratio <= MEMORY_TARGET else "no"])
    common.print_table(
        ["ratio (medians)", "time", "CPU time", "peak RSS", "targets met"], ratios,
        title=f"Targets: time <= {TIME_TARGET}x, peak RSS <= {MEMORY_TARGET}x of pycocotools")


if __name__ == "__main__":
    main()
