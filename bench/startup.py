"""Measure start-up: the CPU time of short `osai-import` commands against `import requests`.

Each command runs ``--repeat`` times (default 15) in a fresh child process, after one
warm-up run that lets Python write its bytecode caches (``PYTHONDONTWRITEBYTECODE`` is
removed from the children's environment: an installed package has its ``.pyc`` files,
and compiling sources at every start would measure the compiler). The CPU time of a run
is the child's user + system time from ``wait4``; the table keeps the minimum, the
figure least disturbed by a busy machine, and gives each as a ratio of the minimum of
``python -c "import requests"``, run in the same turns. ``--importtime`` adds the
modules that cost most in ``check``, from ``python -X importtime``. Run from the
repository root:

    .venv/bin/python bench/startup.py [--repeat 15] [--importtime]

Target (issue 19): ``check configs/quickstart.yaml`` at most 1.5x ``import requests``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

QUICKSTART = str(common.REPO / "configs" / "quickstart.yaml")
# The imports `check` cannot do without (config: PyYAML and a pydantic model; plugins:
# pluggy and the entry-point scan; output: rich and click; VOC: lxml). Pillow is not
# among them: plain JPEG and PNG headers are read without it.
FLOOR = (
    "import click, yaml, pluggy, importlib.metadata, rich.console, lxml.etree\n"
    "from pydantic import BaseModel\n"
    "class A(BaseModel):\n    x: int = 0\n"
    "importlib.metadata.entry_points(group='osai_import')\n"
)


def _commands() -> list[tuple[str, list[str]]]:
    osai = common.osai_import_command()
    return [
        ('python -c "pass"', [sys.executable, "-c", "pass"]),
        ('python -c "import requests"', [sys.executable, "-c", "import requests"]),
        # What any command pays for the chosen dependencies before a line of osai-import
        # runs: the floor under the ratio.
        ("dependencies alone (see FLOOR)", [sys.executable, "-c", FLOOR]),
        ("osai-import --help", [*osai, "--help"]),
        ("osai-import readers", [*osai, "readers"]),
        ("osai-import check configs/quickstart.yaml", [*osai, "check", QUICKSTART]),
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cpu(argv: list[str], env: dict[str, str]) -> float:
    """Run ``argv`` once; return its user + system CPU seconds."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, cwd=common.REPO)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {child.returncode}")
    return usage.ru_utime + usage.ru_stime


def _importtime(env: dict[str, str], top: int = 15) -> list[tuple[int, int, str]]:
    """Return the ``top`` costliest imports of `check` (two levels deep), in microseconds."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "osai_import", "check",
                           QUICKSTART], capture_output=True, text=True, env=env,
                          cwd=common.REPO, check=False)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        own, cumulative, name = parts
        depth = (len(name) - len(name.lstrip())) // 2  # importtime indents by two per level
        if depth <= 2:
            rows.append((int(cumulative), int(own), "  " * (depth - 1) + name.strip()))
    rows.sort(reverse=True)
    return rows[:top]


def main() -> None:
    """Measure, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    env = _env()
    commands = _commands()
    for _, argv in commands:
        _cpu(argv, env)  # warm-up: bytecode caches written, files in the page cache
    best = {label: float("inf") for label, _ in commands}
    for _ in range(args.repeat):
        # In turns, so a busy moment of the machine meets every command alike.
        for label, argv in commands:
            best[label] = min(best[label], _cpu(argv, env))
    base = best['python -c "import requests"']
    print(common.machine_line())
    print(f"CPU time (user + system), minimum of {args.repeat} runs each\n")
    print(f"| {'command':<42} | {'CPU ms':>7} | {'/ import requests':>17} |")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 19}|")
    for label, _ in commands:
        print(f"| {label:<42} | {best[label] * 1000:7.0f} | {best[label] / base:16.2f}x |")
    if args.importtime:
        print("\n`check configs/quickstart.yaml`, python -X importtime (microseconds):\n")
        print(f"| {'module':<48} | {'cumulative':>10} | {'self':>7} |")
        print(f"|{'-' * 50}|{'-' * 12}|{'-' * 9}|")
        for cumulative, own, name in _importtime(env):
            print(f"| {name:<48} | {cumulative:10,} | {own:7,} |")


if __name__ == "__main__":
    main()
