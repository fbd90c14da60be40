"""Real plugin distributions for the tests, and the helpers that make them visible.

``osai-import-testplugin/`` is a complete distribution (pyproject, entry point in group
``osai_import``, in-tree build backend). ``install`` builds and installs it with pip into
a folder of its own rather than into the shared virtualenv: other test runs in the same
environment must not see a plugin they did not ask for. ``write_dist`` writes an
installed-looking ``*.dist-info`` by hand, for plugins that are broken on purpose.
Either folder becomes visible through ``on_path`` (this process) or ``env_with`` (a
subprocess's PYTHONPATH), and ``importlib.metadata`` finds its entry points exactly as
it finds those of site-packages.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

DISTS = Path(__file__).parent
TESTPLUGIN = DISTS / "osai-import-testplugin"
TESTPLUGIN_MODULE = "osai_import_testplugin"

_installed: dict[Path, Path] = {}


def install(source: Path, target: Path) -> Path:
    """Build ``source`` and install it into ``target`` with pip; return ``target``.

    Cached per source for the test session: pip runs once however many files ask.
    """
    if source in _installed:
        return _installed[source]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-compile", "--no-cache-dir",
         "--target", str(target), str(source)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {source}:\n{done.stdout}{done.stderr}")
    _installed[source] = target
    return target


def write_dist(
    folder: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write modules plus a ``<dist>-<version>.dist-info`` declaring ``entry_points``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    points = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[osai_import]\n{points}", encoding="utf-8")
    return folder


@contextlib.contextmanager
def on_path(*folders: Path) -> Iterator[None]:
    """Make installed folders importable and discoverable in this process, then undo it."""
    before = set(sys.modules)
    sys.path[:0] = [str(f) for f in folders]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for folder in folders:
            sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if any(module_file.startswith(str(f)) for f in folders):
                del sys.modules[name]
        importlib.invalidate_caches()


def env_with(*folders: Path, **extra: str) -> dict[str, str]:
    """Return an environment for a subprocess that sees ``folders`` as installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSAI_IMPORT_")}
    paths = [str(f) for f in folders] + [p for p in [env.get("PYTHONPATH", "")] if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env
