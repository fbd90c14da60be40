"""Time `osai-import preview` on a 100,000-image COCO dataset, against `check` on the same.

A COCO detection file is generated (100,000 images of eight sizes, about eight boxes
each over 80 categories, half a percent of the boxes crossing an edge of their image,
no segmentations, as detection exports write them) with a real small JPEG per image:
one JPEG per size, hard-linked under every image's name, so the folder costs eight
files of disk and the page cache holds them all. Each command runs in a fresh process
and is measured alone (wall time, peak RSS):

  - ``preview --limit 200``: reads every record, samples 200, checks and draws them;
  - ``preview --limit 200 --only-problems``: checks every image, draws 200 with a problem;
  - ``check``: reads and checks every record (every image header).

From the repository root:

    .venv/bin/python bench/preview.py --quick      # 10,000 images, a few seconds
    .venv/bin/python bench/preview.py              # 100,000 images

``--workdir DIR`` keeps the dataset there and reuses it on the next run. Target: the
preview of 200 images written in seconds, whatever the size of the source.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SIZES = ((640, 480), (480, 640), (640, 427), (500, 375), (375, 500), (640, 360), (800, 600),
         (1024, 768))
CATEGORIES = 80
BOXES_PER_IMAGE = 8  # on average: 0 to 16, uniformly
OUTSIDE_SHARE = 0.005


def write_dataset(root: Path, images: int, seed: int = 2024) -> Path:
    """Write ``root/instances.json`` and ``root/images/``; return the JSON's path."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    originals = {}
    for width, height in SIZES:
        image = Image.new("RGB", (width, height), (90, 140, 90))
        draw = ImageDraw.Draw(image)
        for k in range(12):
            x, y = rng.randrange(width - 40), rng.randrange(height - 40)
            draw.ellipse((x, y, x + 40 + k * 3, y + 40 + k * 2), fill=(200, 40 + k * 15, 40))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=70)
        path = root / f"original_{width}x{height}.jpg"
        path.write_bytes(out.getvalue())
        originals[(width, height)] = path
    json_path = root / "instances.json"
    with json_path.open("w", encoding="utf-8") as out:
        out.write('{"images": [')
        sizes = []
        for index in range(images):
            width, height = SIZES[rng.randrange(len(SIZES))]
            sizes.append((width, height))
            name = f"{index + 1:09d}.jpg"
            target = folder / name
            if not target.exists():
                os.link(originals[(width, height)], target)
            out.write(("," if index else "") + json.dumps(
                {"id": index + 1, "file_name": name, "width": width, "height": height}))
        out.write('], "annotations": [')
        annotation = 0
        for index, (width, height) in enumerate(sizes):
            for _ in range(rng.randint(0, 2 * BOXES_PER_IMAGE)):
                w = round(rng.uniform(8, width * 0.5), 2)
                h = round(rng.uniform(8, height * 0.5), 2)
                x = round(rng.uniform(0, width - w), 2)
                y = round(rng.uniform(0, height - h), 2)
                if rng.random() < OUTSIDE_SHARE:
                    x = round(width - w / 2, 2)  # half of it beyond the right edge
                out.write(("," if annotation else "") + json.dumps(
                    {"id": annotation + 1, "image_id": index + 1,
                     "category_id": rng.randrange(CATEGORIES) + 1, "bbox": [x, y, w, h],
                     "area": round(w * h, 2), "iscrowd": 0, "segmentation": []}))
                annotation += 1
        out.write('], "categories": [')
        out.write(",".join(json.dumps({"id": k + 1, "name": f"class_{k:02d}",
                                       "supercategory": "thing"}) for k in range(CATEGORIES)))
        out.write("]}")
    return json_path


def write_config(root: Path) -> Path:
    """Write the config that reads the generated dataset."""
    path = root / "bench.yaml"
    path.write_text("server: {url: local}\ndataset: {name: preview-bench}\n"
                    "source: {type: coco, path: instances.json, images: images}\n"
                    "annotations: {type: voc}\n", encoding="utf-8")
    return path


def main() -> None:
    """Generate (or reuse) the dataset, run each command in a fresh process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 images instead of 100,000")
    parser.add_argument("--images", type=int, help="images in the generated dataset")
    parser.add_argument("--workdir", type=Path, help="folder that keeps the dataset between runs")
    parser.add_argument("--skip-check", action="store_true", help="time the previews only")
    options = parser.parse_args()
    images = options.images or (10_000 if options.quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="osai-bench-preview-") as tmp:
        root = (options.workdir or Path(tmp)) / f"coco_{images}"
        marker = root / "complete"
        if not marker.exists():
            started = time.perf_counter()
            write_dataset(root, images)
            marker.write_text("ok\n", encoding="utf-8")
            print(f"generated {root} in {time.perf_counter() - started:.0f} s", flush=True)
        config = write_config(root)
        megabytes = (root / "instances.json").stat().st_size / 1e6
        print(f"COCO: {images:,} images, {megabytes:,.0f} MB of JSON   {common.machine_line()}",
              flush=True)
        command = common.osai_import_command()
        runs = [
            ("preview --limit 200", [*command, "preview", str(config), "-o",
                                     str(root / "preview.html"), "--limit", "200"]),
            ("preview --limit 200 --only-problems",
             [*command, "preview", str(config), "-o", str(root / "problems.html"), "--limit",
              "200", "--only-problems"]),
        ]
        if not options.skip_check:
            runs.append(("check", [*command, "check", str(config), "--show", "0"]))
        rows = []
        for name, argv in runs:
            done = common.run_measured(argv, env=common.child_env(COLUMNS="200"), cwd=root)
            # `check` exits 1 when it finds errors; the preview must write its page.
            if done.returncode not in (0, 1) or (name.startswith("preview")
                                                   and done.returncode != 0):
                done.check(name)
            page = root / ("problems.html" if "only" in name else "preview.html")
            size = f"{page.stat().st_size / 1e6:.1f} MB" if name.startswith("preview") else "-"
            print(f"  {name}: {done.seconds:.1f} s, {common.mib(done.peak_rss):.0f} MiB  "
                  f"{done.stdout.strip().splitlines()[-1][:150] if done.stdout.strip() else ''}",
                  flush=True)
            rows.append([name, f"{done.seconds:.1f}", f"{common.mib(done.peak_rss):.0f}", size])
    common.print_table(["command", "seconds", "peak RSS (MiB)", "page"], rows,
                       title=f"preview and check of a {images:,}-image COCO file "
                             f"({megabytes:,.0f} MB), each in a fresh process")


if __name__ == "__main__":
    main()
