"""Compare reading a train2017-sized COCO file: the `coco` reader against pycocotools.

A generated COCO instances file shaped like train2017 (118,287 images, 860,001
annotations with polygon segmentations, about 1% crowd annotations with RLE masks,
80 categories, the sections in train2017's order: info, licenses, images,
annotations, categories) is read to the same boxes twice, each in a fresh process:

  - the `coco` reader (as registered by the plugins), streaming every record;
  - ``pycocotools.coco.COCO(path)``, then walking its index image by image
    (``getAnnIds(imgIds=..., iscrowd=False)`` + ``loadAnns``) to (xmin, ymin, xmax, ymax).

Wall time and peak RSS are of each child process, start to exit (interpreter and
imports included). Both must agree on the number of images and boxes and on the sum of
every coordinate. Needs pycocotools (``pip install -e ".[bench]"``). From the repository
root:

    .venv/bin/python bench/coco_read.py --quick     # a tenth of train2017, under a minute
    .venv/bin/python bench/coco_read.py             # train2017 scale (~450 MB JSON)

``--workdir DIR`` keeps the generated file there and reuses it on the next run.
Targets: the reader no slower than pycocotools, with at most a third of its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

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


# --- the two children ------------------------------------------------------------------

READER_CHILD = """
import json, sys, time
started = time.perf_counter()
from osai_import.plugin.manager import build_plugins
entry = build_plugins().readers.get("coco")
reader = entry.cls(entry.cls.parse_options({"path": sys.argv[1], "images": sys.argv[2]}))
images = boxes = 0
total = 0.0
for record in reader.records():
    images += 1
    for box in record.boxes:
        boxes += 1
        total += box.xmin + box.ymin + box.xmax + box.ymax
print(json.dumps({"images": images, "boxes": boxes, "sum": total,
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
print(json.dumps({"images": images, "boxes": boxes, "sum": total,
                  "seconds": time.perf_counter() - started}))
"""


def run_child(code: str, *args: str) -> tuple[common.Measured, dict[str, float]]:
    """Run one reader in a fresh interpreter; return the measure and what it counted."""
    result = common.run_measured(common.python_child(code, *args),
                                 env=common.child_env()).check("a COCO reading child")
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate (or reuse) the COCO file, read it both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of train2017's size")
    parser.add_argument("--scale", type=float, help="share of train2017's size (default 1)")
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
        ours, ours_counts = run_child(READER_CHILD, str(path), str(folder / "images"))
        print(f"  coco reader: {ours.seconds:.1f} s, {common.mib(ours.peak_rss):.0f} MiB",
              flush=True)
        theirs, their_counts = run_child(PYCOCOTOOLS_CHILD, str(path))
        print(f"  pycocotools: {theirs.seconds:.1f} s, {common.mib(theirs.peak_rss):.0f} MiB",
              flush=True)
    for key in ("images", "boxes"):
        if ours_counts[key] != their_counts[key]:
            raise SystemExit(f"the readers disagree on {key}: {ours_counts} vs {their_counts}")
    if abs(ours_counts["sum"] - their_counts["sum"]) > 1e-6 * abs(their_counts["sum"]):
        raise SystemExit(f"the readers disagree on the boxes: {ours_counts} vs {their_counts}")
    rows = [
        ["`coco` reader (streamed)", f"{ours.seconds:.1f}", f"{common.mib(ours.peak_rss):.0f}"],
        ["pycocotools COCO() + index walk", f"{theirs.seconds:.1f}",
         f"{common.mib(theirs.peak_rss):.0f}"],
        ["reader / pycocotools", f"{ours.seconds / theirs.seconds:.2f}x",
         f"{ours.peak_rss / theirs.peak_rss:.2f}x"],
    ]
    common.print_table(
        ["reading every record to its boxes", "seconds", "peak RSS (MiB)"], rows,
        title=f"COCO reading, {images:,} images, {annotations:,} annotations "
              f"({int(ours_counts['boxes']):,} non-crowd boxes), {megabytes:,.0f} MB "
              f"(targets: time ratio <= 1, memory ratio <= 0.33)")


if __name__ == "__main__":
    main()
