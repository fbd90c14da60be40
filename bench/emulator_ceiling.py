"""Measure how many small images per second the emulator accepts from a plain client.

Starts ``serve`` in a child process (so the client and the server do not share a GIL),
then, for each chunk size, sends chunks of tiny JPEGs from several threads, each with its
own requests.Session, and prints a table. Run from the repository root:

    PYTHONPATH=src .venv/bin/python bench/emulator_ceiling.py
    PYTHONPATH=src .venv/bin/python bench/emulator_ceiling.py --threads 4 --sizes 10,50 \
        --seconds 5

``--url`` and ``--token`` measure a server that is already running instead.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

SOURCE = Path(__file__).resolve().parents[1] / "src"


def tiny_jpeg(seed: int) -> bytes:
    """Return a 16x16 JPEG (about 600 bytes) whose colour depends on ``seed``."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (seed % 256, seed // 256 % 256, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def start_server(data_dir: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start `serve` in a child process; return it with its base URL and token."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen(
        [sys.executable, "-c", "from osai_import.emulator.cli import serve; serve()",
         "--port", "0", "--data", data_dir, "--quiet"],
        stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    banner = ""
    while "Ctrl-C" not in banner:
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the server did not start")
        banner += line
    url = re.search(r"serving (\S+)", banner)
    token = re.search(r"access token: (\S+)", banner)
    assert url and token
    return child, url.group(1), token.group(1)


def measure(url: str, token: str, size: int, threads: int, seconds: float,
            images: list[bytes]) -> tuple[int, int, float]:
    """Send chunks of ``size`` images from ``threads`` threads for about ``seconds``.

    Returns (chunks, images, elapsed seconds); any answer but 200 stops the run.
    """
    bearer = requests.post(f"{url}/Users/SignIn", json=token).text
    headers = {"Authorization": f"Bearer {bearer}"}
    dataset = requests.post(f"{url}/Datasets", json={"name": f"bench-{size}"},
                            headers=headers).json()["id"]
    session = requests.post(f"{url}/Datasets/{dataset}/StartUploading", headers=headers).json()
    counter = iter(range(10**9))
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work(_: int) -> int:
        """Send chunks until the deadline; return how many."""
        sent = 0
        with requests.Session() as http:
            http.headers.update(headers)
            while time.perf_counter() < deadline:
                with lock:
                    base = next(counter) * size
                form = {"datasetId": dataset, "datasetUploadId": session}
                files = []
                for k in range(size):
                    name = f"{base + k}.jpg"
                    form[f"imagesMetadata[{k}][name]"] = name
                    files.append(("imagesFiles", (name, images[(base + k) % len(images)])))
                answer = http.post(f"{url}/Images/UploadChunk", data=form, files=files,
                                   params={"skipUnsupportedImages": "false"})
                if answer.status_code != 200:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
                sent += 1
        return sent

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        chunks = sum(pool.map(work, range(threads)))
    elapsed = time.perf_counter() - started
    requests.post(f"{url}/Datasets/{dataset}/FinishUploading", headers=headers,
                  params={"datasetUploadId": session})
    return chunks, chunks * size, elapsed


def main() -> None:
    """Parse options, run every chunk size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sizes", default="1,10,25,50", help="images per chunk, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    parser.add_argument("--url", help="base URL of a running server (default: start one)")
    parser.add_argument("--token", help="its access token")
    parser.add_argument("--data", help="parent folder of the server's temporary data folder "
                        "(default: the system temp folder); disk speed matters")
    options = parser.parse_args()
    images = [tiny_jpeg(seed) for seed in range(256)]
    child = None
    with tempfile.TemporaryDirectory(prefix="osai-bench-", dir=options.data) as data_dir:
        if options.url:
            url, token = options.url, options.token
        else:
            child, url, token = start_server(data_dir)
        try:
            where = "(external)" if options.url else data_dir
            print(f"server {url}   data {where}   client threads {options.threads}   image "
                  f"{len(images[0])} B (16x16 JPEG)   cpus {os.cpu_count()}")
            print(f"{'images/chunk':>12} {'chunks':>8} {'images':>8} {'seconds':>8} "
                  f"{'chunks/s':>9} {'images/s':>9}")
            for size in (int(s) for s in options.sizes.split(",")):
                chunks, sent, elapsed = measure(url, token, size, options.threads,
                                                options.seconds, images)
                print(f"{size:>12} {chunks:>8} {sent:>8} {elapsed:>8.2f} "
                      f"{chunks / elapsed:>9.1f} {sent / elapsed:>9.0f}")
        finally:
            if child is not None:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=30)


if __name__ == "__main__":
    main()
