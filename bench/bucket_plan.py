"""Measure how long planning a dataset in an S3 bucket takes, against a local S3 server.

One generated dataset (N small JPEGs with Pascal VOC sidecars, a folder per class) is
put in a bucket of a local S3-compatible server (moto's server mode, its own process)
and planned by the contenders below, through a proxy that adds a round trip's delay
(``--latency-ms``, default 20) to every request:

  (a) `osai-import run --dry-run` on `s3://bucket/data` (folder reader): list, read every
      sidecar, read and check every image; timed from process start to exit;
  (b) the same on a local copy of the folder, for reference;
  (c) the same on the folder zipped whole (`data.zip`), read in place;
  (d) a naive client that asks for each object in turn (one GET after another, boto3):
      what "a round trip per object in series" costs;
  (e) a raw ceiling: every object fetched by 32 threads at once (boto3), nothing else:
      what the server can give;
  (f) `osai-import run --dry-run` on the zip of (c) put in the bucket, read by ranges.

(a), (d), (e) read the same objects (images and sidecars). Each runs in a fresh child
process; the fastest of ``--repeat`` runs (default 2, taken in turns) is kept. Run from
the repository root:

    .venv/bin/python bench/bucket_plan.py --quick     # N=2,000
    .venv/bin/python bench/bucket_plan.py             # N=10,000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from osai_import.testing.s3 import LocalS3, local_s3

_NAIVE = """
import sys, boto3
s3 = boto3.client("s3")
bucket, prefix = sys.argv[1], sys.argv[2]
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])]
total = sum(len(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys)
print(len(keys), total)
"""

_CEILING = """
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", config=__import__("botocore.config").config.Config(max_pool_connections=32))
bucket, prefix = sys.argv[1], sys.argv[2]
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])]
with ThreadPoolExecutor(32) as pool:
    total = sum(pool.map(lambda k: len(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), keys))
print(len(keys), total)
"""


class LatencyProxy:
    """Forward TCP connections to a server, each request delayed by a round trip's time.

    A local server answers in microseconds; a bucket in a cloud region answers after tens
    of milliseconds. The delay is added to every burst the client sends (a request), so
    work done in series pays it per object and work in parallel overlaps it.
    """

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._server.accept()
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, self.delay),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, 0.0), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
        try:
            while data := source.recv(1 << 16):
                if delay:
                    time.sleep(delay)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _config(path: Path, source: str) -> Path:
    path.write_text(
        "dataset: {name: bucket-plan}\n"
        f"source: {{type: folder, path: '{source}'}}\n"
        "annotations: {type: voc}\n"
        f"upload: {{journal: '{path.parent / 'journal'}'}}\n", encoding="utf-8")
    return path


def _fill(s3: LocalS3, root: Path, bucket: str) -> int:
    """Put every file below ``root`` into the bucket under ``data/``; return the count."""
    client = s3.client()
    files = sorted(p for p in root.rglob("*") if p.is_file())

    def put(path: Path) -> None:
        key = "data/" + path.relative_to(root).as_posix()
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    return len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=2,000 instead of 10,000")
    parser.add_argument("--images", type=int, help="N (overrides --quick)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each contender")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="round trip added to each request (a cloud region's, roughly)")
    args = parser.parse_args()
    count = args.images or (2_000 if args.quick else 10_000)
    work = Path(tempfile.mkdtemp(prefix="osai-bucket-bench-"))
    data = work / "data"
    image_bytes = common.make_image_dataset(data, count, width=96, height=72)
    archive = work / "data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for path in sorted(data.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(data).as_posix())
    print(common.machine_line())
    with local_s3(work / "moto.log") as s3:
        bucket = s3.bucket("osai-bench")
        objects = _fill(s3, data, bucket)
        s3.client().put_object(Bucket=bucket, Key="data.zip", Body=archive.read_bytes())
        host, port = s3.endpoint.removeprefix("http://").split(":")
        proxy = LatencyProxy((host, int(port)), args.latency_ms / 1000)
        env = common.child_env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}")
        contenders = {
            "(a) osai-import, s3://": [*common.osai_import_command(), "run", "--dry-run",
                                       "--quiet", str(_config(work / "s3.yaml",
                                                              f"s3://{bucket}/data"))],
            "(b) osai-import, local folder": [*common.osai_import_command(), "run", "--dry-run",
                                              "--quiet", str(_config(work / "local.yaml",
                                                                     str(data)))],
            "(c) osai-import, local zip": [*common.osai_import_command(), "run", "--dry-run",
                                           "--quiet", str(_config(work / "zip.yaml",
                                                                  str(archive)))],
            "(f) osai-import, zip in the bucket": [
                *common.osai_import_command(), "run", "--dry-run", "--quiet",
                str(_config(work / "s3zip.yaml", f"s3://{bucket}/data.zip"))],
            "(d) one GET after another": common.python_child(_NAIVE, bucket, "data/"),
            "(e) ceiling: 32 threads": common.python_child(_CEILING, bucket, "data/"),
        }
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, command in contenders.items():
                measured = common.run_measured(command, env=env).check(name)
                best[name] = min(best.get(name, float("inf")), measured.seconds)
    rows = []
    for name, seconds in best.items():
        rows.append([name, count, f"{seconds:.2f} s", count / seconds,
                     f"{best['(d) one GET after another'] / seconds:.1f}x",
                     f"{seconds / best['(e) ceiling: 32 threads']:.2f}x"])
    common.print_table(
        ["contender", "images", "seconds", "images/s", "faster than (d)", "time / (e)"], rows,
        title=f"planning {count:,} images ({objects:,} objects, {common.mib(image_bytes):.1f} "
              f"MiB of JPEG) in a bucket of a local S3 server (moto) {args.latency_ms:g} ms "
              f"away, best of {args.repeat}")
    if os.environ.get("OSAI_BENCH_KEEP") == "1":
        print(f"\nwork folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
