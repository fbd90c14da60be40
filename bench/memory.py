"""Measure the peak RSS of `osai-import run` and `osai-import check` for N and 4N images.

One generated dataset of 4N small JPEGs with VOC sidecars (the first N of them, hard-
linked, make the smaller one). Each command runs in a fresh child process; its peak RSS
is the kernel's high-water mark for that process alone (``wait4``'s ru_maxrss). `run`
uploads to `osai-import serve` in a separate process with no added latency. Run from
the repository root:

    .venv/bin/python bench/memory.py --quick      # N=1,000 and 4,000, under a minute
    .venv/bin/python bench/memory.py              # N=20,000 and 80,000, several minutes

Targets: the peak at 4N at most 1.1 times the peak at N, and under 200 MB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def measure(command: str, server: common.Server, work: Path, root: Path,
            count: int) -> common.Measured:
    """Run `osai-import COMMAND` on the dataset under ``root``; check what it did."""
    name = f"bench-{command}-{count}"
    journal = common.fresh_dir(work / f"journal-{name}")
    config = common.run_config(work / f"{name}.yaml", server.url, name, str(root / "zdj"),
                               journal)
    report = work / f"{name}.json"
    extra = ["--quiet"] if command == "run" else []
    result = common.run_measured(
        [*common.osai_import_command(), command, str(config), *extra, "--report", str(report)],
        env=common.child_env(OSAI_TOKEN=common.TOKEN)).check(f"osai-import {command}")
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
    """Generate 4N images, run both commands on N and 4N, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000 (under a minute)")
    parser.add_argument("--images", type=int, help="N (default 1,000 quick, 20,000 full)")
    parser.add_argument("--workdir", type=Path,
                        help="parent folder for the data (default: the system temp folder)")
    options = parser.parse_args()
    count = options.images or (1_000 if options.quick else 20_000)
    with tempfile.TemporaryDirectory(prefix="osai-bench-memory-", dir=options.workdir) as tmp:
        work = Path(tmp)
        large = work / "large"
        common.make_image_dataset(large, 4 * count)
        small = common.subset_dataset(large, work / "small", count)
        print(f"datasets: {count:,} and {4 * count:,} JPEGs with VOC sidecars in {work}   "
              f"{common.machine_line()}", flush=True)
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
