"""Compare upload throughput: OSAI's documented client, `osai-import run`, a raw ceiling.

Three sections, each with its tables (``--sections``, default all three):

**small**: one generated dataset (N distinct small JPEGs with Pascal VOC sidecars, a
folder per class: the layout the documented client reads) is uploaded to
`osai-import serve` (a separate process, one fresh server per latency) by:

  (a) OSAI's documented example client, unmodified (../shared/reference/), one image
      per request, run as its README says;
  (b) `osai-import run` with default settings (folder reader, VOC annotations), timed
      from process start to exit: config, check of every image, plan, upload, report;
  (c) a raw client sending pre-built chunk requests (same chunk size as (b)) from
      several threads as fast as the server answers: the server's practical ceiling.

**photos**: the same (b) and (c) with realistic images, noisy JPEGs of ~150 KB (N=300)
and ~2 MB (N=60), on loopback: throughput in MB/s, and the client's CPU per image, taken
as the slope between a run of N/5 and one of N images (start-up and setup cancel out).

**wan**: 300 photos of ~140 KB through ``wan.WanLink``, a loopback proxy shaped as an
office uplink (50 Mbit/s shared, 40 ms round trip, 2 round trips per new connection,
slow start): goodput, the image bytes over what the link could carry in the time, for
the whole run (process start to exit) and for its time on the link.

Each contender is a fresh child process; the server's inspection API confirms that
every image arrived. (b) and (c) run ``--repeat`` times each (default 3), in turns, each
into a new dataset, and the fastest run of each is kept: on a noisy machine both then
meet the same moments, and the ratio does not favour either. Run from the repository root:

    .venv/bin/python bench/upload_throughput.py --quick     # N=1,000, a few minutes
    .venv/bin/python bench/upload_throughput.py             # N=20,000, many minutes

In --quick mode the documented client sends a sample of 200 images at latencies above
0 ms (it sends one image per request, so its rate does not depend on N). To measure
another source tree against the same server (before and after a change), set
``OSAI_BENCH_SRC`` to its ``src`` folder (see ``common.client_env``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import wan

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
    cpu: float = 0.0  # the child's CPU seconds, user plus system
    link: wan.LinkStats | None = None  # what crossed the WAN link, in the wan section
    # (b): the run's own "upload" duration (from its first chunk to its last answer, the
    # setup calls before it and start-up excluded); (c): its sending time.
    sending: float = 0.0

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
                attempt: int, url: str | None = None,
                tree: tuple[str, str | None] = ("", None)) -> Row:
    """Run `osai-import run` with default settings; check the report and the server.

    ``tree`` is the label and source folder of the client measured (``--compare``).
    """
    label, src = tree
    name = f"bench-osai-import-{attempt}-{root.name}{label}"
    journal = common.fresh_dir(work / "journal")
    config = common.run_config(work / "run.yaml", url or server.url, name, str(root / "zdj"),
                               journal)
    report_path = work / "report.json"
    result = common.run_measured(
        [*common.osai_import_command(), "run", str(config), "--quiet", "--report",
         str(report_path)], env=common.client_env(src, OSAI_TOKEN=common.TOKEN)
    ).check("osai-import run")
    report = json.loads(report_path.read_text())
    uploaded = report["counts"]["uploaded"]
    stored = server.image_count(name)
    if uploaded != images or stored != images:
        raise SystemExit(f"osai-import run uploaded {uploaded} and the server holds {stored}, "
                         f"expected {images}")
    durations = report["durations_seconds"]
    note = (f"plan {durations['plan']:.1f} s, upload {durations['upload']:.1f} s "
            f"({images / durations['upload']:,.0f} img/s)")
    client = "(b) osai-import run" + (f" [{label}]" if label else "")
    return Row(server.latency_ms, client, images, result.seconds, result.peak_rss, note,
               result.cpu_seconds, sending=durations["upload"])


def raw(server: common.Server, root: Path, images: int, threads: int, chunk: int,
        attempt: int, url: str | None = None) -> Row:
    """Send pre-built chunks from ``threads`` threads; only the sending is timed."""
    name = f"bench-raw-{attempt}-{root.name}"
    result = common.run_measured([
        sys.executable, str(BENCH / "raw_client.py"), url or server.url, common.TOKEN,
        str(root), name, "--chunk", str(chunk), "--threads", str(threads)]
    ).check("the raw client")
    sent = json.loads(result.stdout.strip().splitlines()[-1])
    stored = server.image_count(name)
    if sent["images"] != images or stored != images:
        raise SystemExit(f"the raw client sent {sent['images']}, the server holds {stored}, "
                         f"expected {images}")
    return Row(server.latency_ms, "(c) raw ceiling", images, sent["seconds"], result.peak_rss,
               f"{threads} threads, {chunk} images/request, bodies built beforehand",
               result.cpu_seconds)


def best_of(rows: list[Row]) -> Row:
    """Return the fastest of a contender's runs, its note saying how many there were."""
    best = min(rows, key=lambda row: row.seconds)
    spread = ", ".join(f"{row.rate:,.0f}" for row in rows)
    return Row(best.latency, best.client, best.images, best.seconds, best.peak_rss,
               f"{best.note}; best of {len(rows)} ({spread} img/s)".lstrip("; "),
               min(row.cpu for row in rows), best.link, best.sending)


def main() -> None:
    """Parse the options; run each section asked for; print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000 (a few minutes in all)")
    parser.add_argument("--sections", default="small,photos,wan",
                        help="which to run, comma-separated: small, photos, wan")
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
    parser.add_argument("--mbit", type=float, default=50.0, help="the WAN uplink's rate")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="the WAN round trip")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=SRC",
                        help="also measure `run` from this source folder (e.g. a worktree of "
                        "an earlier commit), in turns with this one")
    parser.add_argument("--workdir", type=Path,
                        help="parent folder for the dataset and the server's data "
                        "(default: the system temp folder)")
    options = parser.parse_args()
    options.trees = common.trees(options.compare)
    sections = {x.strip() for x in options.sections.split(",") if x.strip()}
    if sections - {"small", "photos", "wan"}:
        raise SystemExit(f"unknown sections: {', '.join(sorted(sections))}")
    with tempfile.TemporaryDirectory(prefix="osai-bench-upload-", dir=options.workdir) as tmp:
        print(f"{common.machine_line()}   client source: "
              f"{os.environ.get('OSAI_BENCH_SRC') or common.REPO / 'src'}", flush=True)
        if "small" in sections:
            small_section(options, common.fresh_dir(Path(tmp) / "small"))
        if "photos" in sections:
            photos_section(options, common.fresh_dir(Path(tmp) / "photos"))
        if "wan" in sections:
            wan_section(options, common.fresh_dir(Path(tmp) / "wan"))


def small_section(options: argparse.Namespace, work: Path) -> None:
    """Upload N small images at every latency with (a), (b) and (c); print the tables."""
    count = options.images or (1_000 if options.quick else 20_000)
    sample = options.documented_sample or (min(count, 200) if options.quick else count)
    if not options.skip_documented:
        common.reference_client_or_exit()
    chunk = UploadConfig().chunk_images
    latencies = [float(x) for x in options.latencies.split(",")]
    rows: list[Row] = []
    root = work / "dataset"
    size = common.make_image_dataset(root, count)
    small = common.subset_dataset(root, work / "sample", sample) if sample < count else root
    print(f"dataset: {count:,} JPEGs {size / count / 1024:.1f} KiB on average, 1-3 VOC "
          f"boxes each, in {work}", flush=True)
    for latency in latencies:
        server_dir = common.fresh_dir(work / f"server-{latency:g}ms")
        with common.Server(server_dir, latency) as server:
            if not options.skip_documented:
                shown = sample if latency > 0 else count
                rows.append(documented(server, small if latency > 0 else root, shown))
            ours: dict[str, list[Row]] = {}
            ceiling: list[Row] = []
            for attempt in range(1, options.repeat + 1):
                for tree in options.trees:
                    ours.setdefault(tree[0], []).append(
                        osai_import(server, work, root, count, attempt, tree=tree))
                ceiling.append(raw(server, root, count, options.raw_threads, chunk, attempt))
            rows += [*(best_of(runs) for runs in ours.values()), best_of(ceiling)]
        for row in (row for row in rows if row.latency == latency):
            print(f"  {latency:g} ms  {row.client:<22} {row.rate:8,.0f} img/s", flush=True)
    print_tables(rows, latencies, count)


# The photo sizes measured, and how many of each a run sends (the CPU slope runs N/5 too).
PHOTOS = ((150_000, 300), (2_000_000, 60))
WAN_PHOTOS = (140_000, 300)


def photo_chunk(size: int) -> int:
    """Return the raw client's images per request for photos of ``size``: as run's limits."""
    limits = UploadConfig()
    return max(1, min(limits.chunk_images, limits.chunk_bytes // (size + 512)))


def photos_section(options: argparse.Namespace, work: Path) -> None:
    """Upload photos of ~150 KB and ~2 MB on loopback with (b) and (c); print the tables."""
    summary, details = [], []
    with common.Server(common.fresh_dir(work / "server")) as server:
        for size, count in PHOTOS:
            root = work / f"photos-{size // 1000}k"
            total = common.make_photo_dataset(root, count, size)
            few = common.subset_dataset(root, work / f"few-{size // 1000}k", count // 5)
            print(f"photos: {count} JPEGs of {total / count / 1e6:.2f} MB on average", flush=True)
            runs: dict[tuple[str, int], list[Row]] = {}
            for attempt in range(1, options.repeat + 1):
                for where, n in ((root, count), (few, count // 5)):
                    for tree in options.trees:
                        runs.setdefault((f"b{tree[0]}", n), []).append(
                            osai_import(server, work, where, n, attempt, tree=tree))
                    runs.setdefault(("c", n), []).append(
                        raw(server, where, n, options.raw_threads, photo_chunk(size), attempt))
            best = {key: best_of(rows) for key, rows in runs.items()}
            per_image = {who: (best[who, count].cpu - best[who, count // 5].cpu)
                         / (count - count // 5) for who, _ in best}
            c = best["c", count]
            megabytes = total / 1e6
            for label, _ in options.trees:
                b = best[f"b{label}", count]
                mine = per_image[f"b{label}"]
                summary.append([f"{total / count / 1e6:.2f} MB x {count}", b.client,
                                f"{megabytes / b.seconds:,.1f}", f"{megabytes / c.seconds:,.1f}",
                                f"{b.rate / c.rate:.2f}", f"{mine * 1000:.2f}",
                                f"{per_image['c'] * 1000:.2f}", f"{mine / per_image['c']:.2f}x",
                                f"{common.mib(b.peak_rss):.0f}"])
                print(f"  {summary[-1]}", flush=True)
            details += [[f"{size // 1000} KB", r.client, r.images, f"{r.seconds:.2f}",
                         f"{r.cpu:.2f}", f"{common.mib(r.peak_rss):.0f}", r.note]
                        for r in best.values()]
    common.print_table(
        ["photos", "client (b)", "(b) run MB/s", "(c) ceiling MB/s", "b/c", "(b) CPU ms/image",
         "(c) CPU ms/image", "CPU b/c", "(b) peak RSS MiB"], summary,
        title="Photos on loopback (b: whole process; c: sending only). CPU per image is the "
              "slope between N/5 and N images (target: CPU b/c <= 1.5x at 150 KB)")
    common.print_table(["photos", "client", "images", "seconds", "CPU s", "peak RSS MiB",
                        "note"], details, title="Details")


def wan_section(options: argparse.Namespace, work: Path) -> None:
    """Upload 300 photos of ~140 KB through the shaped link with (b) and (c); print tables."""
    size, count = WAN_PHOTOS
    root = work / "photos"
    total = common.make_photo_dataset(root, count, size)
    rows: list[Row] = []
    with common.Server(common.fresh_dir(work / "server")) as server, \
            wan.WanLink(int(server.url.split(":")[-1].split("/")[0]), mbit=options.mbit,
                        rtt_ms=options.rtt_ms) as link:
        url = link.url(server.url)
        print(f"wan: {count} JPEGs of {total / count / 1e3:.0f} KB on average through "
              f"{options.mbit:g} Mbit/s, {options.rtt_ms:g} ms RTT", flush=True)
        for attempt in range(1, options.repeat + 1):
            for tree in [*options.trees, None]:
                link.reset()
                row = (osai_import(server, work, root, count, attempt, url, tree) if tree
                       else raw(server, root, count, options.raw_threads, photo_chunk(size),
                                attempt, url))
                row.link = link.stats()
                rows.append(row)
                print(f"  {row.client:<22} {row.seconds:6.2f} s  link "
                      f"{row.link.seconds:6.2f} s, {row.link.connections} connections", flush=True)
    rate = options.mbit * 1e6 / 8
    table = []
    for who in dict.fromkeys(r.client for r in rows):
        best = min((r for r in rows if r.client == who), key=lambda r: r.seconds)
        assert best.link is not None
        ideal = total / rate
        sending = best.sending or best.seconds
        table.append([best.client, f"{best.seconds:.2f}", f"{best.link.seconds:.2f}",
                      f"{ideal / best.seconds:.3f}", f"{ideal / best.link.seconds:.3f}",
                      f"{ideal / sending:.3f}", f"{best.link.bytes_up / 1e6:.1f}",
                      best.link.connections])
    common.print_table(
        ["client", "seconds", "on the link s", "goodput, whole", "goodput, on the link",
         "goodput, sending images", "MB up", "connections"], table,
        title=f"Goodput on a {options.mbit:g} Mbit/s, {options.rtt_ms:g} ms link: "
              f"{count} photos, {total / 1e6:.1f} MB of images (the fraction of the link's "
              f"{total / rate:.2f} s they need; target >= 0.95; (b) whole: start to exit, "
              f"sending images: its first chunk to its last answer; (c): sending only)")


def print_tables(rows: list[Row], latencies: list[float], count: int) -> None:
    """Print the summary (images/s and ratios per latency), then the details."""
    summary = []
    for latency in latencies:
        here = [row for row in rows if row.latency == latency]
        by = {row.client[:3]: row for row in here}
        a, c = by.get("(a)"), by["(c)"]
        for b in (row for row in here if row.client.startswith("(b)")):
            summary.append([f"{latency:g} ms", b.client, f"{a.rate:,.1f}" if a else "-",
                            f"{b.rate:,.0f}", f"{c.rate:,.0f}",
                            f"{b.rate / a.rate:.1f}" if a else "-", f"{b.rate / c.rate:.2f}"])
    common.print_table(
        ["latency", "client (b)", "(a) documented img/s", "(b) osai-import img/s",
         "(c) ceiling img/s", "b/a", "b/c"], summary,
        title=f"Upload throughput, N={count:,} images (targets: b/a >= 40 at 30 ms; b/c >= 0.9 "
              f"at N=20,000 and >= 0.6 at N=1,000)")
    common.print_table(
        ["client", "latency", "images", "seconds", "images/s", "peak RSS MiB", "note"],
        [[r.client, f"{r.latency:g} ms", r.images, f"{r.seconds:.2f}", f"{r.rate:,.1f}",
          f"{common.mib(r.peak_rss):.0f}", r.note] for r in rows],
        title="Details ((a), (b): whole process, start to exit; (c): sending only)")


if __name__ == "__main__":
    main()
