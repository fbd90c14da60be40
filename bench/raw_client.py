"""Send a generated dataset as pre-built UploadChunk requests from several threads.

The server's practical ceiling for a dataset: every request body is built before the
clock starts (files read, annotations base64-encoded, one multipart body per chunk),
then ``--threads`` threads, each with its own keep-alive ``requests.Session``, send them
as fast as the server answers. Run by upload_throughput.py in a child process:

    python bench/raw_client.py URL TOKEN DATASET_ROOT NAME [--chunk 64] [--threads 8]

It prints one JSON line: images sent, seconds spent sending, requests, threads.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """Return a multipart/form-data body of text ``fields`` then ``imagesFiles`` parts."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="imagesFiles"; '
                     f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode())
        parts += (data, b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def build_bodies(root: Path, dataset: object, upload: object, categories: dict[str, object],
                 chunk: int) -> tuple[list[tuple[bytes, str]], int]:
    """Return one body per chunk of the images under ``root/zdj``, and the image count."""
    images = sorted((root / "zdj").glob("*/*.jpg"))
    bodies = []
    for start in range(0, len(images), chunk):
        fields = [("datasetId", str(dataset)), ("datasetUploadId", str(upload))]
        files = []
        for k, path in enumerate(images[start:start + chunk]):
            fields.append((f"imagesMetadata[{k}][name]", path.name))
            xml = path.with_suffix(".xml")
            if xml.exists():
                fields.append((f"imagesMetadata[{k}][annotationType]", "0"))
                fields.append((f"imagesMetadata[{k}][annotation]",
                               base64.b64encode(xml.read_bytes()).decode("ascii")))
            fields.append((f"imagesMetadata[{k}][classifyCategoryId]",
                           str(categories[path.parent.name])))
            files.append((path.name, path.read_bytes()))
        bodies.append(multipart(fields, files))
    return bodies, len(images)


def main() -> None:
    """Create the dataset and its categories, build every body, send them, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("root", type=Path)
    parser.add_argument("name", help="name of the dataset to create")
    parser.add_argument("--chunk", type=int, default=64, help="images per request")
    parser.add_argument("--threads", type=int, default=8)
    options = parser.parse_args()
    url = options.url.rstrip("/")
    bearer = requests.post(f"{url}/Users/SignIn", json=options.token).text.strip().strip('"')
    headers = {"Authorization": f"Bearer {bearer}"}
    dataset = requests.post(f"{url}/Datasets", json={"name": options.name},
                            headers=headers).json()["id"]
    categories = {}
    for folder in sorted(p for p in (options.root / "zdj").iterdir() if p.is_dir()):
        categories[folder.name] = requests.post(
            f"{url}/Categories", json={"datasetId": dataset, "name": folder.name},
            headers=headers).json()["id"]
    upload = requests.post(f"{url}/Datasets/{dataset}/StartUploading", headers=headers).json()
    bodies, count = build_bodies(options.root, dataset, upload, categories, options.chunk)
    queue = iter(bodies)
    lock = threading.Lock()

    def work(_: int) -> int:
        """Send bodies until none is left; return how many."""
        sent = 0
        with requests.Session() as http:
            http.headers.update(headers)
            while True:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return sent
                answer = http.post(f"{url}/Images/UploadChunk", data=body[0],
                                   headers={"Content-Type": body[1]},
                                   params={"skipUnsupportedImages": "false"})
                if answer.status_code != 200:
                    raise RuntimeError(f"UploadChunk answered {answer.status_code}: "
                                       f"{answer.text[:300]}")
                sent += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(options.threads) as pool:
        requests_sent = sum(pool.map(work, range(options.threads)))
    seconds = time.perf_counter() - started
    finish = requests.post(f"{url}/Datasets/{dataset}/FinishUploading", headers=headers,
                           params={"datasetUploadId": upload})
    finish.raise_for_status()
    print(json.dumps({"images": count, "seconds": seconds, "requests": requests_sent,
                      "threads": options.threads}))


if __name__ == "__main__":
    main()
