"""Compare upload throughput: OSAI's documented client, `osai-import run`, a raw ceiling.

One generated dataset (N distinct small JPEGs with Pascal VOC sidecars, a folder per
class: the layout the documented client reads) is uploaded to `osai-import serve` (a
separate process, one fresh server per latency) by:

  (a) OSAI's documented example client, unmodified (../shared/reference/), one image
      per request, run as its README says;
  (b) `osai-import run` with default settings (folder reader, VOC annotations), timed
      from process start to exit: config, check of every image, plan, upload, report;
  (c) a raw client sending pre-built chunk requests (same chunk size as (b)) from
      several threads as fast as the server answers: the server's practical ceiling.

Each contender is a fresh child process; the server's inspection API confirms that
every image arrived. (b) and (c) run ``--repeat`` times each (default 3), in turns, each
into a new dataset, and the fastest run of each is kept: on a noisy machine both then
meet the same moments, and the ratio does not favour either. Run from the repository root:

    .venv/bin/python bench/upload_throughput.py --quick     # N=1,000, about 40 s
    .venv/bin/python bench/upload_throughput.py             # N=20,000, many minutes

In --quick mode the documented client sends a sample of 200 images at latencies above
0 ms (it sends one image per request, so its rate does not depend on N).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from osai_import.config.models import UploadConfig

BENCH = Path(__file__).resolve().parent


@dataclass
class Row:
    """One contender at one latency."""

    latency: float
    client: str
    images: int
    seconds: float
    peak_rss: int
    note: str = ""

    @property
    def rate(self) -> float:
        """Return images per second."""
        return self.images / self.seconds


def documented(server: common.Server, folder: Path, images: int) -> Row:
    """Run OSAI's example client on ``folder/zdj``; check every answer was a 200."""
    result = common.run_measured([
        sys.executable, str(BENCH / "documented_client.py"), str(common.REFERENCE_CLIENT),
        server.url, common.TOKEN, str(folder)]).check("OSAI's documented client")
    answers = result.stdout.count("<Response [")
    ok = result.stdout.count("<Response [200]>")
    if answers != images + 1 or ok != answers:  # one per image, then FinishUploading
        raise SystemExit(f"the documented client got {ok} answers 200 of {answers}, expected "
                         f"{images + 1}:\n{result.stdout[-2000:]}")
    stored = server.image_count("holy_hand_grenade")
    if stored != images:
        raise SystemExit(f"the documented client stored {stored} images of {images}")
    return Row(server.latency_ms, "(a) documented client", images, result.seconds,
               result.peak_rss)


def osai_import(server: common.Server, work: Path, root: Path, images: int,
                attempt: int) -> Row:
    """Run `osai-import run` with default settings; check the report and the server."""
    name = f"bench-osai-import-{attempt}"
    journal = common.fresh_dir(work / "journal")
    config = common.run_config(work / "run.yaml", server.url, name, str(root / "zdj"), journal)
    report_path = work / "report.json"
    result = common.run_measured(
        [*common.osai_import_command(), "run", str(config), "--quiet", "--report",
         str(report_path)], env=common.child_env(OSAI_TOKEN=common.TOKEN)).check("osai-import run")
    report = json.loads(report_path.read_text())
    uploaded = report["counts"]["uploaded"]
    stored = server.image_count(name)
    if uploaded != images or stored != images:
        raise SystemExit(f"osai-import run uploaded {uploaded} and the server holds {stored}, "
                         f"expected {images}")
    durations = report["durations_seconds"]
    note = (f"plan {durations['plan']:.1f} s, upload {durations['upload']:.1f} s "
            f"({images / durations['upload']:,.0f} img/s)")
    return Row(server.latency_ms, "(b) osai-import run", images, result.seconds,
               result.peak_rss, note)


def raw(server: common.Server, root: Path, images: int, threads: int, chunk: int,
        attempt: int) -> Row:
    """Send pre-built chunks from ``threads`` threads; only the sending is timed."""
    name = f"bench-raw-{attempt}"
    result = common.run_measured([
        sys.executable, str(BENCH / "raw_client.py"), server.url, common.TOKEN, str(root),
        name, "--chunk", str(chunk), "--threads", str(threads)]).check("the raw client")
    sent = json.loads(result.stdout.strip().splitlines()[-1])
    stored = server.image_count(name)
    if sent["images"] != images or stored != images:
        raise SystemExit(f"the raw client sent {sent['images']}, the server holds {stored}, "
                         f"expected {images}")
    return Row(server.latency_ms, "(c) raw ceiling", images, sent["seconds"], result.peak_rss,
               f"{threads} threads, {chunk} images/request, bodies built beforehand")


def best_of(rows: list[Row]) -> Row:
    """Return the fastest of a contender's runs, its note saying how many there were."""
    best = min(rows, key=lambda row: row.seconds)
    spread = ", ".join(f"{row.rate:,.0f}" for row in rows)
    return Row(best.latency, best.client, best.images, best.seconds, best.peak_rss,
               f"{best.note}; best of {len(rows)} ({spread} img/s)".lstrip("; "))


def main() -> None:
    """Generate the dataset, run every contender at every latency, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000 (about 40 seconds)")
    parser.add_argument("--images", type=int, help="N (default 1,000 quick, 20,000 full)")
    parser.add_argument("--latencies", default="0,30", help="ms added per request, comma-separated")
    parser.add_argument("--documented-sample", type=int,
                        help="images the documented client sends at latencies above 0 ms "
                        "(default 200 quick, N full)")
    parser.add_argument("--raw-threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of (b) and of (c), taken in turns so that both meet the "
                        "same moments of a noisy machine; the fastest of each is kept")
    parser.add_argument("--skip-documented", action="store_true",
                        help="leave out (a), e.g. when ../shared/reference is absent")
    parser.add_argument("--workdir", type=Path,
                        help="parent folder for the dataset and the server's data "
                        "(default: the system temp folder)")
    options = parser.parse_args()
    count = options.images or (1_000 if options.quick else 20_000)
    sample = options.documented_sample or (min(count, 200) if options.quick else count)
    if not options.skip_documented:
        common.reference_client_or_exit()
    chunk = UploadConfig().chunk_images
    latencies = [float(x) for x in options.latencies.split(",")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="osai-bench-upload-", dir=options.workdir) as tmp:
        work = Path(tmp)
        root = work / "dataset"
        size = common.make_image_dataset(root, count)
        small = common.subset_dataset(root, work / "sample", sample) if sample < count else root
        print(f"dataset: {count:,} JPEGs {size / count / 1024:.1f} KiB on average, 1-3 VOC "
              f"boxes each, in {work}   {common.machine_line()}", flush=True)
        for latency in latencies:
            server_dir = common.fresh_dir(work / f"server-{latency:g}ms")
            with common.Server(server_dir, latency) as server:
                if not options.skip_documented:
                    shown = sample if latency > 0 else count
                    rows.append(documented(server, small if latency > 0 else root, shown))
                ours: list[Row] = []
                ceiling: list[Row] = []
                for attempt in range(1, options.repeat + 1):
                    ours.append(osai_import(server, work, root, count, attempt))
                    ceiling.append(raw(server, root, count, options.raw_threads, chunk, attempt))
                rows += [best_of(ours), best_of(ceiling)]
            for row in rows[-3 if not options.skip_documented else -2:]:
                print(f"  {latency:g} ms  {row.client:<22} {row.rate:8,.0f} img/s", flush=True)
    print_tables(rows, latencies, count)


def print_tables(rows: list[Row], latencies: list[float], count: int) -> None:
    """Print the summary (images/s and ratios per latency), then the details."""
    summary = []
    for latency in latencies:
        by = {row.client[:3]: row for row in rows if row.latency == latency}
        a, b, c = by.get("(a)"), by["(b)"], by["(c)"]
        summary.append([f"{latency:g} ms", f"{a.rate:,.1f}" if a else "-", f"{b.rate:,.0f}",
                        f"{c.rate:,.0f}", f"{b.rate / a.rate:.1f}" if a else "-",
                        f"{b.rate / c.rate:.2f}"])
    common.print_table(
        ["latency", "(a) documented img/s", "(b) osai-import img/s", "(c) ceiling img/s",
         "b/a", "b/c"], summary,
        title=f"Upload throughput, N={count:,} images (targets: b/a >= 25 at 30 ms and >= 5 "
              f"at 0 ms; b/c >= 0.8)")
    common.print_table(
        ["client", "latency", "images", "seconds", "images/s", "peak RSS MiB", "note"],
        [[r.client, f"{r.latency:g} ms", r.images, f"{r.seconds:.2f}", f"{r.rate:,.1f}",
          f"{common.mib(r.peak_rss):.0f}", r.note] for r in rows],
        title="Details ((a), (b): whole process, start to exit; (c): sending only)")


if __name__ == "__main__":
    main()
