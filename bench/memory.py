"""Measure the peak RSS of `osai-import run` and `check`: N vs 4N images, tiny vs 2 MB photos.

Two axes, each with its table (``--sections``, default both):

**count**: one generated dataset of 4N small JPEGs with VOC sidecars (the first N of
them, hard-linked, make the smaller one); `run` and `check` on each. Targets: the peak at
4N at most 1.1 times the peak at N, and under 200 MB.

**size**: 60 tiny JPEGs (~3 KB) and 60 noisy JPEGs of ~2 MB, each uploaded by `run`
with default settings (4 workers, chunks up to 8 MB). Target: the photos' peak at most
1.3 times the tiny images' (memory flat in image size: bodies are streamed).

Each command runs in a fresh child process; its peak RSS is the kernel's high-water
mark for that process alone (``wait4``'s ru_maxrss). `run` uploads to `osai-import serve`
in a separate process with no added latency. Run from the repository root:

    .venv/bin/python bench/memory.py --quick      # N=1,000 and 4,000, about a minute
    .venv/bin/python bench/memory.py              # N=20,000 and 80,000, several minutes

``OSAI_BENCH_SRC`` measures another source tree (see ``common.client_env``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def measure(command: str, server: common.Server, work: Path, root: Path,
            count: int, tag: str = "", src: str | None = None) -> common.Measured:
    """Run `osai-import COMMAND` on the dataset under ``root``; check what it did.

    ``src``: the source folder of the client measured (``--compare``).
    """
    name = f"bench-{command}-{count}{tag}"
    journal = common.fresh_dir(work / f"journal-{name}")
    config = common.run_config(work / f"{name}.yaml", server.url, name, str(root / "zdj"),
                               journal)
    report = work / f"{name}.json"
    extra = ["--quiet"] if command == "run" else []
    result = common.run_measured(
        [*common.osai_import_command(), command, str(config), *extra, "--report", str(report)],
        env=common.client_env(src, OSAI_TOKEN=common.TOKEN)).check(f"osai-import {command}")
    data = json.loads(report.read_text())
    if command == "run":
        done = data["counts"]["uploaded"]
        stored = server.image_count(name)
        if done != count or stored != count:
            raise SystemExit(f"run uploaded {done}, the server holds {stored}, expected {count}")
    elif _checked(data) != count:
        raise SystemExit(f"check counted {_checked(data)} images, expected {count}: "
                         f"{json.dumps(data)[:500]}")
    return result


def _checked(report: dict[str, object]) -> int:
    """Return how many images a check report says it read."""
    summary = report.get("summary", report)
    assert isinstance(summary, dict)
    for key in ("images", "read", "records"):
        if isinstance(summary.get(key), int):
            return int(summary[key])
    raise SystemExit(f"cannot find the image count in the check report: {sorted(summary)}")


def main() -> None:
    """Parse the options; measure each axis asked for; print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000 (about a minute)")
    parser.add_argument("--sections", default="count,size",
                        help="which axes, comma-separated: count, size")
    parser.add_argument("--images", type=int, help="N (default 1,000 quick, 20,000 full)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each size on the size axis, taken in turns; the "
                        "lowest peak of each is kept")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=SRC",
                        help="on the size axis, also measure `run` from this source folder "
                        "(e.g. a worktree of an earlier commit), in turns")
    parser.add_argument("--workdir", type=Path,
                        help="parent folder for the data (default: the system temp folder)")
    options = parser.parse_args()
    trees = common.trees(options.compare)
    sections = {x.strip() for x in options.sections.split(",") if x.strip()}
    print(f"{common.machine_line()}   client source: "
          f"{os.environ.get('OSAI_BENCH_SRC') or common.REPO / 'src'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="osai-bench-memory-", dir=options.workdir) as tmp:
        if "size" in sections:
            size_axis(common.fresh_dir(Path(tmp) / "size"), options.repeat, trees)
        if "count" in sections:
            count_axis(common.fresh_dir(Path(tmp) / "count"),
                       options.images or (1_000 if options.quick else 20_000))


PHOTO_BYTES, PHOTO_COUNT = 2_000_000, 60


def size_axis(work: Path, repeat: int, trees: list[tuple[str, str | None]]) -> None:
    """Upload 60 tiny images and 60 photos of ~2 MB; print their peak RSS side by side."""
    tiny, photos = work / "tiny", work / "photos"
    tiny_bytes = common.make_image_dataset(tiny, PHOTO_COUNT)
    photo_bytes = common.make_photo_dataset(photos, PHOTO_COUNT, PHOTO_BYTES)
    print(f"datasets: {PHOTO_COUNT} tiny JPEGs ({tiny_bytes / PHOTO_COUNT / 1e3:.1f} KB) and "
          f"{PHOTO_COUNT} photos ({photo_bytes / PHOTO_COUNT / 1e6:.2f} MB)", flush=True)
    peaks: dict[tuple[str, str], list[common.Measured]] = {}
    with common.Server(common.fresh_dir(work / "server")) as server:
        for attempt in range(repeat):
            for label, src in trees:
                for kind, root in (("tiny", tiny), ("photos", photos)):
                    measured = measure("run", server, work, root, PHOTO_COUNT,
                                       f"-{kind}-{attempt}{label}", src)
                    peaks.setdefault((label, kind), []).append(measured)
                    print(f"  run{f' [{label}]' if label else ''}, {kind}: "
                          f"{common.mib(measured.peak_rss):.1f} MiB", flush=True)
    rows = []
    for label, _ in trees:
        low = min(peaks[label, "tiny"], key=lambda m: m.peak_rss)
        high = min(peaks[label, "photos"], key=lambda m: m.peak_rss)
        ratio = high.peak_rss / low.peak_rss
        rows.append([f"osai-import run{f' [{label}]' if label else ''}",
                     f"{common.mib(low.peak_rss):.1f}", f"{common.mib(high.peak_rss):.1f}",
                     f"{ratio:.2f}x", f"{low.seconds:.1f} s", f"{high.seconds:.1f} s",
                     "met" if ratio <= 1.3 else "MISSED"])
    common.print_table(
        ["command", f"peak RSS, {PHOTO_COUNT} tiny (MiB)",
         f"peak RSS, {PHOTO_COUNT} photos of {photo_bytes / PHOTO_COUNT / 1e6:.1f} MB (MiB)",
         "photos / tiny", "time tiny", "time photos", "target"], rows,
        title=f"Peak memory by image size (target: photos at most 1.3x tiny; lowest of {repeat})")


def count_axis(work: Path, count: int) -> None:
    """Generate 4N images, run both commands on N and 4N, print the table."""
    large = work / "large"
    common.make_image_dataset(large, 4 * count)
    small = common.subset_dataset(large, work / "small", count)
    print(f"datasets: {count:,} and {4 * count:,} JPEGs with VOC sidecars in {work}",
          flush=True)
    results: dict[tuple[str, int], common.Measured] = {}
    with common.Server(common.fresh_dir(work / "server")) as server:
        for command in ("check", "run"):
            for size, root in ((count, small), (4 * count, large)):
                results[command, size] = measure(command, server, work, root, size)
                print(f"  {command} {size:,}: {common.mib(results[command, size].peak_rss):.1f}"
                      f" MiB", flush=True)
    rows = []
    for command in ("run", "check"):
        low, high = results[command, count], results[command, 4 * count]
        ratio = high.peak_rss / low.peak_rss
        verdict = "met" if ratio <= 1.1 and high.peak_rss < 200e6 else "MISSED"
        rows.append([f"osai-import {command}", f"{common.mib(low.peak_rss):.1f}",
                     f"{common.mib(high.peak_rss):.1f}", f"{ratio:.2f}x",
                     f"{low.seconds:.1f} s", f"{high.seconds:.1f} s", verdict])
    common.print_table(
        ["command", f"peak RSS N={count:,} (MiB)", f"peak RSS 4N={4 * count:,} (MiB)",
         "4N / N", "time N", "time 4N", "target"], rows,
        title="Peak memory (targets: 4N at most 1.1x N, and under 200 MB)")


if __name__ == "__main__":
    main()
