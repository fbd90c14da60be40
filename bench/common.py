"""Share what the benchmarks need: a server child process, datasets, timed children, tables.

Every benchmark starts the local server with ``osai-import serve`` in its own process (so
client and server never share a GIL), runs each contender in a fresh child process and
measures that child alone: its wall time, and its peak RSS from ``wait4`` (the kernel's
high-water mark of that one process, VmHWM, read when it is reaped).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE_CLIENT = SHARED / "reference" / "osai_example_client.py"
TOKEN = "bench-access-token"
CATEGORIES = ("apple", "lemon", "orange", "pear")


def osai_import_command() -> list[str]:
    """Return the command that runs ``osai-import`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("osai-import")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "osai_import"]


def child_env(**extra: str) -> dict[str, str]:
    """Return the environment for a child: this one, with ``src/`` importable first."""
    paths = [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def client_env(src: str | None = None, **extra: str) -> dict[str, str]:
    """Return the environment for a measured `osai-import` client.

    ``src`` (or else ``OSAI_BENCH_SRC``) names another source tree to measure, e.g. a
    worktree of an earlier commit (``git worktree add /tmp/before HEAD~3``), against the
    same server: benchmarks take ``--compare before=/tmp/before/src`` to run both side by
    side, in turns.
    """
    other = src or os.environ.get("OSAI_BENCH_SRC")
    env = child_env(**extra)
    if other:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(other).resolve()), env["PYTHONPATH"]])
    return env


def trees(compare: Sequence[str]) -> list[tuple[str, str | None]]:
    """Return the client trees to measure: this one (label ""), then each ``LABEL=SRC``."""
    found: list[tuple[str, str | None]] = [("", None)]
    for spec in compare:
        label, _, src = spec.partition("=")
        if not src or not (Path(src) / "osai_import").is_dir():
            raise SystemExit(f"--compare {spec!r}: give LABEL=SRC, SRC a folder holding "
                             "osai_import/ (a worktree's src)")
        found.append((label, src))
    return found


def machine_line() -> str:
    """Describe the machine and interpreter in one line, for the top of a table."""
    return (f"python {sys.version.split()[0]}   cpus {os.cpu_count()}   "
            f"{time.strftime('%Y-%m-%d %H:%M')}")


# --- the server ------------------------------------------------------------------------


class Server:
    """Run ``osai-import serve`` in a child process for the life of a ``with`` block."""

    def __init__(self, data_dir: Path, latency_ms: float = 0) -> None:
        self.data_dir = data_dir
        self.latency_ms = latency_ms
        self.url = ""
        self.root = ""
        self._child: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        command = [*osai_import_command(), "serve", "--port", "0", "--data", str(self.data_dir),
                   "--token", TOKEN, "--latency-ms", f"{self.latency_ms:g}", "--quiet"]
        self._child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                       env=child_env())
        assert self._child.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = self._child.stdout.readline()
            if not line:
                raise SystemExit(f"`{' '.join(command)}` did not start:\n{banner}")
            banner += line
        found = re.search(r"serving (\S+)", banner)
        assert found, banner
        self.url = found.group(1)
        self.root = self.url.removesuffix("/api")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._child is not None:
            self._child.send_signal(signal.SIGTERM)
            try:
                self._child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()

    def inspect(self, path: str) -> Any:
        """Return the JSON of an inspection endpoint, e.g. ``/_emulator/datasets``."""
        with urllib.request.urlopen(self.root + path, timeout=60) as answer:
            return json.load(answer)

    def image_count(self, name: str) -> int:
        """Return how many images the one dataset called ``name`` holds."""
        rows = [row for row in self.inspect("/_emulator/datasets") if row["name"] == name]
        if len(rows) != 1:
            raise RuntimeError(f"expected one dataset named {name!r} on the server, "
                               f"found {len(rows)}")
        return int(rows[0]["images"])


# --- datasets --------------------------------------------------------------------------


def voc_xml(file_name: str, width: int, height: int,
            boxes: Sequence[tuple[str, int, int, int, int]]) -> str:
    """Return a Pascal VOC annotation as OSAI shows it (xmin, xmax, ymin, ymax)."""
    objects = "".join(
        f"<object><name>{label}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><occluded>0</occluded><bndbox><xmin>{x0}</xmin>"
        f"<xmax>{x1}</xmax><ymin>{y0}</ymin><ymax>{y1}</ymax></bndbox></object>"
        for label, x0, y0, x1, y1 in boxes)
    return (f"<annotation><folder>zdj</folder><filename>{file_name}</filename>"
            f"<path>{file_name}</path><source><database>bench</database></source>"
            f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
            f"<segmented>0</segmented>{objects}</annotation>\n")


def make_image_dataset(root: Path, count: int, *, seed: int = 7, width: int = 128,
                       height: int = 96) -> int:
    """Write ``count`` JPEGs with VOC sidecars as ``root/zdj/<category>/img_NNNNNN.jpg``.

    Each image is a distinct small photo-like JPEG (a gradient with 1-3 filled boxes,
    the same boxes its XML gives), the layout OSAI's example client and the `folder`
    reader both read. Returns the bytes of images written.
    """
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height))
    backgrounds = [Image.merge("RGB", [gradient.point(lambda v, t=t: (v + t) % 256)
                                       for t in (rng.randrange(256) for _ in range(3))])
                   for _ in range(64)]
    total = 0
    for category in CATEGORIES:
        (root / "zdj" / category).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        image = rng.choice(backgrounds).copy()
        draw = ImageDraw.Draw(image)
        boxes = []
        for _ in range(rng.randint(1, 3)):
            x0, y0 = rng.randrange(width - 24), rng.randrange(height - 24)
            x1, y1 = rng.randrange(x0 + 8, width), rng.randrange(y0 + 8, height)
            draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
            boxes.append((rng.choice(CATEGORIES), x0, y0, x1, y1))
        name = f"img_{index:06d}"
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        folder = root / "zdj" / category
        (folder / f"{name}.jpg").write_bytes(buffer.getvalue())
        (folder / f"{name}.xml").write_text(voc_xml(f"{name}.jpg", width, height, boxes))
        total += buffer.tell()
    return total


def make_photo_dataset(root: Path, count: int, size: int, *, seed: int = 11) -> int:
    """Write ``count`` distinct noisy JPEGs of about ``size`` bytes, with VOC sidecars.

    Same layout as ``make_image_dataset``. Noise does not compress, so a JPEG of it is as
    large as a photo of many more pixels: the bytes, not the pixels, are what an upload
    moves. Returns the bytes of images written.
    """
    from PIL import Image

    rng = random.Random(seed)
    # Noise at quality 90 takes about 0.92 bytes a pixel; one trial sets the scale.
    width = max(32, int((size / 0.92 / 0.75) ** 0.5))
    height = max(24, int(width * 0.75))
    trial = _noise_jpeg(Image, width, height, rng)
    scale = (size / len(trial)) ** 0.5
    width, height = max(32, int(width * scale)), max(24, int(height * scale))
    total = 0
    for category in CATEGORIES:
        (root / "zdj" / category).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        data = _noise_jpeg(Image, width, height, rng)
        boxes = []
        for _ in range(rng.randint(1, 3)):
            x0, y0 = rng.randrange(width // 2), rng.randrange(height // 2)
            boxes.append((rng.choice(CATEGORIES), x0, y0, x0 + width // 3, y0 + height // 3))
        name = f"img_{index:06d}"
        folder = root / "zdj" / category
        (folder / f"{name}.jpg").write_bytes(data)
        (folder / f"{name}.xml").write_text(voc_xml(f"{name}.jpg", width, height, boxes))
        total += len(data)
    return total


def _noise_jpeg(image: Any, width: int, height: int, rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).save(
        buffer, "JPEG", quality=90)
    return buffer.getvalue()


def dataset_images(root: Path) -> list[Path]:
    """Return the JPEGs of a generated dataset in a stable order."""
    return sorted((root / "zdj").glob("*/*.jpg"))


def subset_dataset(source: Path, target: Path, count: int) -> Path:
    """Hard-link the first ``count`` images (and sidecars) of ``source`` into ``target``."""
    for image in dataset_images(source)[:count]:
        folder = target / "zdj" / image.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        for path in (image, image.with_suffix(".xml")):
            if path.exists():
                os.link(path, folder / path.name)
    return target


def run_config(path: Path, url: str, dataset: str, source: str, journal: Path) -> Path:
    """Write an `osai-import` config for a generated dataset on a running server."""
    path.write_text(
        f"server: {{url: '{url}'}}\n"
        f"dataset: {{name: {dataset}}}\n"
        f"source: {{type: folder, path: '{source}'}}\n"
        f"annotations: {{type: voc}}\n"
        f"upload: {{journal: '{journal}'}}\n", encoding="utf-8")
    return path


# --- children, measured ----------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One child process: exit code, wall seconds, peak RSS in bytes, its output, its CPU."""

    returncode: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user plus system time of that child alone

    def check(self, what: str) -> Measured:
        """Raise SystemExit with the child's output unless it exited 0."""
        if self.returncode != 0:
            raise SystemExit(f"{what} exited {self.returncode}\n--- stdout\n{self.stdout[-3000:]}"
                             f"\n--- stderr\n{self.stderr[-3000:]}")
        return self


def run_measured(command: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 3600) -> Measured:
    """Run ``command`` to its end; return its wall time and its own peak RSS.

    ``os.wait4`` gives the rusage of that child alone (ru_maxrss, in KiB on Linux), so
    nothing else this process started before or after counts.
    """
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.time_ns()}"
    with open(f"{out_path}.out", "w+") as out, open(f"{out_path}.err", "w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), stdout=out, stderr=err, env=env, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return Measured(child.returncode, seconds, usage.ru_maxrss * 1024, stdout, stderr,
                    usage.ru_utime + usage.ru_stime)


def python_child(code: str, *args: str) -> list[str]:
    """Return the command running ``code`` in a fresh interpreter with ``args``."""
    return [sys.executable, "-c", code, *args]


# --- tables ----------------------------------------------------------------------------


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                title: str | None = None) -> None:
    """Print a Markdown table (right-aligned numbers), ready to paste into the README."""
    cells = [[str(c) for c in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=False)) + " |")
    numeric = [i > 0 and all(_NUMBER.fullmatch(r[i]) for r in cells[1:])
               for i in range(len(headers))]
    print("|" + "|".join("-" * (w + 1) + ":" if numeric[i] else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.rjust(w) if numeric[i] else c.ljust(w)
                                for i, (c, w) in enumerate(zip(row, widths, strict=False))) + " |")
    sys.stdout.flush()


_NUMBER = re.compile(r"-|[-+]?[\d,]*\.?\d+( ?(ms|s|x|MiB|%))?")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def mib(size: int) -> float:
    """Return ``size`` bytes in MiB."""
    return size / (1024 * 1024)


def reference_client_or_exit() -> Path:
    """Return OSAI's example client, or exit saying where it was looked for."""
    if not REFERENCE_CLIENT.is_file():
        raise SystemExit(
            f"OSAI's documented example client is absent: looked for {REFERENCE_CLIENT} "
            f"(../shared/reference/ beside the repository {REPO}). Put the shared folder "
            f"there, or run with --skip-documented to measure the other clients only.")
    return REFERENCE_CLIENT


def fresh_dir(path: Path) -> Path:
    """Return ``path`` as a new empty folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
